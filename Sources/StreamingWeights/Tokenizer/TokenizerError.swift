/// A tokenizer that cannot be configured, or text that cannot be encoded as asked.
public enum TokenizerError: Error, Hashable, CustomStringConvertible {
    /// The vocabulary file is missing or unreadable.
    case missingVocabulary(path: String)
    /// The same token appears twice in the vocabulary.
    case duplicateToken(String, firstLine: Int, secondLine: Int, source: String)
    /// A special token the tokenizer needs is not in the vocabulary.
    case missingSpecialToken(String, source: String)
    /// A tokenizer configuration file is malformed.
    case invalidConfiguration(path: String, problem: String)
    /// A `tokenizer.json` component of a type this does not run.
    case unsupportedComponent(path: String, place: String, type: String, supported: [String])
    /// A text longer than the maximum, with truncation turned off.
    case tooLong(tokens: Int, maximum: Int)
    /// Nothing to encode.
    case emptyBatch

    public var description: String {
        switch self {
        case .missingVocabulary(let path):
            "cannot read the vocabulary '\(path)'"
        case .duplicateToken(let token, let first, let second, let source):
            "\(source): token '\(token)' appears twice, on lines \(first) and \(second)"
        case .missingSpecialToken(let token, let source):
            "\(source) has no '\(token)' token, which BERT needs"
        case .invalidConfiguration(let path, let problem):
            "the tokenizer configuration '\(path)' is invalid: \(problem)"
        case .unsupportedComponent(let path, let place, let type, let supported):
            "\(path): \(place) has type '\(type)', which is not supported (supported: \(supported.joined(separator: ", ")))"
        case .tooLong(let tokens, let maximum):
            "the text is \(tokens) tokens long, over the maximum of \(maximum), and truncation is off"
        case .emptyBatch:
            "there are no texts to encode"
        }
    }
}
