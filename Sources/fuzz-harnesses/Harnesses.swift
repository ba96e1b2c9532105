// libFuzzer harnesses for every parser of untrusted bytes. Built only by scripts/fuzz (the
// target exists when STREAMING_WEIGHTS_FUZZ is set), with -sanitize=fuzzer,address: libFuzzer
// supplies `main` and calls `LLVMFuzzerTestOneInput` below with each input. FUZZ_TARGET names
// the harness. A harness may see any error thrown; a crash, a trap or a sanitizer report is a bug.
import Foundation
import StreamingWeights

/// The parsers under test, by the names `scripts/fuzz NAME` takes.
enum Harness: String, CaseIterable {
    case frame, handshake, request, response, safetensors, pickle, manifest, gzip, s3xml, tokenizer, charsmap, regex

    func run(_ bytes: [UInt8]) {
        switch self {
        case .frame: Self.frames(bytes)
        case .handshake:
            _ = try? WebSocketHandshake.parseRequest(bytes)
            _ = try? WebSocketHandshake.parseResponse(bytes, key: "dGhlIHNhbXBsZSBub25jZQ==")
        case .request:
            _ = try? WireMessage.Request(parsing: String(decoding: bytes, as: UTF8.self))
        case .response:
            _ = try? WireMessage.parseResponse(bytes)
            _ = WireMessage.responseLayout(from: bytes)
        case .safetensors: Self.safetensors(bytes)
        case .pickle: Self.pickle(bytes)
        case .manifest: _ = try? ChunkManifest(json: bytes, source: "fuzz")
        case .gzip: Self.gzip(bytes)
        case .s3xml:
            if let xml = S3XML(bytes) {
                _ = xml.first("Error/Code")
                _ = xml.all("ListBucketResult/Contents/Key")
            }
        case .tokenizer: Self.tokenize(bytes)
        case .charsmap: Self.charsmap(bytes)
        case .regex: Self.regex(bytes)
        }
    }

    /// The input split in two reads at a place its first byte picks, as a server and as a
    /// client would decode it, each frame then assembled into messages.
    private static func frames(_ bytes: [UInt8]) {
        let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        for expectsMasked in [true, false] {
            var decoder = WebSocketFrameDecoder(expectsMasked: expectsMasked, maximumFrameSize: 1 << 20)
            var assembler = WebSocketMessageAssembler(maximumMessageSize: 1 << 20)
            for part in [bytes[..<split], bytes[split...]] {
                guard let frames = try? decoder.decode(part) else { break }
                for frame in frames {
                    guard (try? assembler.receive(frame)) != nil else { break }
                }
            }
        }
        divertedFrames(bytes, split: split)
    }

    /// The input decoded as a client does while a message's payload is diverted: the diverted
    /// bytes taken from each read, at most `split` at a time.
    private static func divertedFrames(_ bytes: [UInt8], split: Int) {
        var decoder = WebSocketFrameDecoder(expectsMasked: false, maximumFrameSize: 1 << 20)
        var taken = 0
        var used = 0
        bytes.withUnsafeBytes { input in
            while used < input.count {
                if let remaining = decoder.divertedRemaining {
                    let count = min(remaining, input.count - used, max(split, 1))
                    _ = decoder.deliverDiverted(count)
                    taken += count
                    used += count
                } else {
                    guard
                        let (_, consumed) = try? decoder.decode(
                            UnsafeRawBufferPointer(rebasing: input[used...]), divertingContinuations: true),
                        consumed > 0
                    else { break }
                    used += consumed
                }
            }
        }
        precondition(taken <= bytes.count)
    }

    private static func safetensors(_ bytes: [UInt8]) {
        guard let file = try? SafetensorsFile(storage: ByteStorage(bytes), source: "fuzz") else { return }
        for name in file.tensorNames {
            guard let tensor = try? file.tensor(named: name) else { continue }
            if tensor.dtype.isFloatingPoint { _ = try? tensor.floatValues() } else { _ = try? tensor.integerValues() }
        }
    }

    private static func pickle(_ bytes: [UInt8]) {
        guard let checkpoint = try? PyTorchCheckpoint(storage: ByteStorage(bytes), source: "fuzz") else { return }
        for name in checkpoint.tensorNames {
            guard let tensor = try? checkpoint.tensor(named: name) else { continue }
            if tensor.dtype.isFloatingPoint { _ = try? tensor.floatValues() }
        }
    }

    private static func gzip(_ bytes: [UInt8]) {
        guard let decompressor = try? GzipDecompressor(maximumOutputSize: 16 << 20) else { return }
        var total = 0
        do {
            try bytes.withUnsafeBytes { try decompressor.decompress($0) { total += $0.count } }
            try decompressor.finish()
        } catch {}
    }

    /// bert-tiny's tokenizer (FUZZ_TOKENIZER_DIR) and the tokenizer.json pipelines of
    /// Fixtures/tokenizer (Unigram with a Precompiled charsmap, byte-level BPE, WordPiece),
    /// loaded once, on the input as text, as a pair split at the first zero byte, and as a
    /// vocab.txt.
    private static func tokenize(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let pair: (String, String)? = bytes.firstIndex(of: 0).map {
            (String(decoding: bytes[..<$0], as: UTF8.self), String(decoding: bytes[($0 + 1)...], as: UTF8.self))
        }
        for tokenizer in [bertTokenizer as any TextTokenizer] + pipelineTokenizers {
            _ = try? tokenizer.encode(text, pair: nil, truncate: true)
            if let pair { _ = try? tokenizer.encode(pair.0, pair: pair.1, truncate: true) }
        }
        _ = try? Vocabulary(vocabTxt: bytes, source: "fuzz")
    }

    /// The input as a SentencePiece charsmap blob (a hostile trie), normalizing a text that
    /// holds ASCII, accents, CJK, full-width forms and emoji; and the fixtures' normalizers (the
    /// Unigram one's real charsmap) on the input's first KiB as text.
    private static func charsmap(_ bytes: [UInt8]) {
        let sample = Array("Héllo ＡＢＣ ﬁ 日本 e\u{301} 👨‍👩‍👧 \r\n x".unicodeScalars)
        if let charsmap = try? PrecompiledCharsmap(blob: bytes) { _ = charsmap.normalize(sample) }
        // The first KiB only: a charsmap seed is 240 KB, and the text path is the tokenizer harness's.
        let text = Array(String(decoding: bytes.prefix(1024), as: UTF8.self).unicodeScalars)
        for tokenizer in pipelineTokenizers { _ = tokenizer.normalizer?.normalize(text) }
    }

    /// The input up to its first zero byte as a tokenizer.json regular expression, matched in
    /// the rest (or, with no zero byte, in a sample text); the matches must be non-empty, in
    /// order, apart and inside the text.
    private static func regex(_ bytes: [UInt8]) {
        let zero = bytes.firstIndex(of: 0)
        let source = String(decoding: bytes[..<(zero ?? bytes.endIndex)], as: UTF8.self)
        let text = Array(
            (zero.map { String(decoding: bytes[($0 + 1)...], as: UTF8.self) }
                ?? "Héllo, it's 12345 ＡＢＣ\r\n  the naïve café 日本 e\u{301} 👨‍👩‍👧 x").unicodeScalars)
        guard let pattern = try? TextPattern(regex: source) else { return }
        var end = 0
        for match in pattern.matches(in: text) {
            guard match.lowerBound >= end, !match.isEmpty, match.upperBound <= text.count else {
                fatalError("match \(match) after \(end) in \(text.count) scalars for \(source.debugDescription)")
            }
            end = match.upperBound
        }
    }

    /// The fixture pipelines beside bert-tiny: Fixtures/tokenizer/{unigram,bpe,wordpiece-mpnet}.
    private static let pipelineTokenizers: [PipelineTokenizer] = {
        guard let directory = ProcessInfo.processInfo.environment["FUZZ_TOKENIZER_DIR"] else {
            fatalError("FUZZ_TOKENIZER_DIR must name Fixtures/bert-tiny")
        }
        let fixtures = ((directory as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
            "tokenizer")
        return ["unigram", "bpe", "wordpiece-mpnet"].map { name in
            let path = (fixtures as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path + "/tokenizer.json"),
                let tokenizer = try? PipelineTokenizer(files: ["tokenizer.json": Array(data)], location: path)
            else { fatalError("cannot load the tokenizer fixture \(path)") }
            return tokenizer
        }
    }()

    private static let bertTokenizer: BertTokenizer = {
        guard let directory = ProcessInfo.processInfo.environment["FUZZ_TOKENIZER_DIR"],
            let tokenizer = try? BertTokenizer(directory: directory)
        else { fatalError("FUZZ_TOKENIZER_DIR must name a directory with a BERT tokenizer (Fixtures/bert-tiny)") }
        return tokenizer
    }()
}

/// The harness FUZZ_TARGET names.
let harness: Harness = {
    guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let harness = Harness(rawValue: name) else {
        fatalError("FUZZ_TARGET must be one of: \(Harness.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return harness
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harness.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// libFuzzer's entry point for a program with its own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's `main` to this symbol; it hands the command line to libFuzzer.
@_cdecl("fuzz_harnesses_main")
public func fuzzHarnessesMain(
    _ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzzOneInput($0, $1) }
}
