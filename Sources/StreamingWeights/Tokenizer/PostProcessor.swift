/// The last stage of a `tokenizer.json` pipeline: the special tokens around a text or pair and
/// the token type ids, as Hugging Face `tokenizers`' post-processors.
public indirect enum PostProcessor: Sendable {
    /// `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`, types 0 then 1.
    case bert(classifier: Int32, separator: Int32)
    /// `<s> A </s>` and `<s> A </s> </s> B </s>`, every type 0.
    case roberta(classifier: Int32, separator: Int32)
    /// Templates of special tokens and sequences, each with its type id.
    case template(single: [TemplatePiece], pair: [TemplatePiece])
    /// No special tokens, types 0 then 1 (no post-processor, or only `ByteLevel`'s offsets).
    case none
    /// Each in turn (only one may add tokens).
    case sequence([PostProcessor])

    /// One element of a template.
    public enum TemplatePiece: Sendable, Equatable {
        /// The special token's ids (one token may stand for several).
        case special(ids: [Int32], typeID: Int32)
        /// The first (`A`) or second (`B`) text.
        case sequence(second: Bool, typeID: Int32)
    }

    /// How many tokens it adds to a text, or to a pair.
    func addedCount(pair: Bool) -> Int {
        switch self {
        case .bert: return pair ? 3 : 2
        case .roberta: return pair ? 4 : 2
        case .template(let single, let pairTemplate):
            return (pair ? pairTemplate : single).reduce(0) { count, piece in
                if case .special(let ids, _) = piece { count + ids.count } else { count }
            }
        case .none: return 0
        case .sequence(let processors): return Self.adding(processors).addedCount(pair: pair)
        }
    }

    /// The ids and type ids of `first` (and `second`) with the special tokens.
    func process(_ first: [Int32], _ second: [Int32]?) -> (ids: [Int32], typeIDs: [Int32]) {
        switch self {
        case .bert(let classifier, let separator):
            var ids = [classifier] + first + [separator]
            var types = [Int32](repeating: 0, count: ids.count)
            if let second {
                ids += second + [separator]
                types += [Int32](repeating: 1, count: second.count + 1)
            }
            return (ids, types)
        case .roberta(let classifier, let separator):
            var ids = [classifier] + first + [separator]
            if let second { ids += [separator] + second + [separator] }
            return (ids, [Int32](repeating: 0, count: ids.count))
        case .template(let single, let pair):
            var ids: [Int32] = []
            var types: [Int32] = []
            for piece in second == nil ? single : pair {
                switch piece {
                case .special(let specialIDs, let typeID):
                    ids += specialIDs
                    types += [Int32](repeating: typeID, count: specialIDs.count)
                case .sequence(let isSecond, let typeID):
                    let sequence = (isSecond ? second : first) ?? []
                    ids += sequence
                    types += [Int32](repeating: typeID, count: sequence.count)
                }
            }
            return (ids, types)
        case .none:
            return (
                first + (second ?? []),
                [Int32](repeating: 0, count: first.count) + [Int32](repeating: 1, count: second?.count ?? 0)
            )
        case .sequence(let processors):
            return Self.adding(processors).process(first, second)
        }
    }

    /// The processor of a sequence that adds tokens (the first, when several would), or `.none`;
    /// counting and processing both ask it, so truncation leaves room for what is added.
    private static func adding(_ processors: [PostProcessor]) -> PostProcessor {
        processors.first { $0.addedCount(pair: false) > 0 || $0.addedCount(pair: true) > 0 } ?? .none
    }
}
