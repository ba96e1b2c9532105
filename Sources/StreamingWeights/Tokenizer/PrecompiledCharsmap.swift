import Foundation

/// SentencePiece's normalisation rules as a `tokenizer.json` carries them (`Precompiled`, from
/// XLM-R, mT5, ALBERT...): a double-array trie over UTF-8 keys whose values point at the
/// replacement strings.
///
/// The blob (base64 in the JSON) is a little-endian `u32` trie size in bytes, the trie's units
/// (`u32` each, darts-clone's layout), then the replacements, each ending with a NUL byte.
///
/// Applied as Hugging Face `tokenizers` applies it (its `spm_precompiled` port), which is what
/// the ids are checked against, not as SentencePiece does: text goes grapheme cluster by
/// cluster; a cluster shorter than 6 UTF-8 bytes is looked up whole, and otherwise (or when
/// that finds nothing) each scalar alone. A look-up takes the *shortest* key that is a prefix
/// of what it is given, and the rest of that input goes with it.
public struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]
    /// For each ASCII byte, its replacement when the trie has one.
    private let ascii: [[Unicode.Scalar]?]

    /// Parses the decoded blob.
    ///
    /// - Throws: a description of what is wrong, for the caller to name the file.
    public init(blob: [UInt8]) throws(PrecompiledCharsmapError) {
        guard blob.count >= 4 else { throw .tooShort(blob.count) }
        let trieSize = Int(blob[0]) | Int(blob[1]) << 8 | Int(blob[2]) << 16 | Int(blob[3]) << 24
        guard trieSize % 4 == 0, trieSize >= 4, 4 + trieSize <= blob.count else {
            throw .badTrieSize(trieSize, blobSize: blob.count)
        }
        let units = stride(from: 4, to: 4 + trieSize, by: 4).map { offset in
            UInt32(blob[offset]) | UInt32(blob[offset + 1]) << 8 | UInt32(blob[offset + 2]) << 16
                | UInt32(blob[offset + 3]) << 24
        }
        let replacements = Array(blob[(4 + trieSize)...])
        self.units = units
        self.replacements = replacements
        ascii = (0..<128).map { byte in
            Self.lookUp([UInt8(byte)], units: units, replacements: replacements).map {
                Array(String(decoding: $0, as: UTF8.self).unicodeScalars)
            }
        }
    }

    /// The replacement of the shortest key that begins `key`, or `nil` when none does (or the
    /// trie points outside itself, which a damaged blob can make it do).
    private static func lookUp(
        _ key: some Collection<UInt8>, units: [UInt32], replacements: [UInt8]
    ) -> ArraySlice<UInt8>? {
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        guard let root = units.first else { return nil }
        var node = offset(root)
        for byte in key {
            guard byte != 0 else { return nil }
            node ^= Int(byte)
            guard node < units.count else { return nil }
            let unit = units[node]
            guard unit & ((1 << 31) | 0xff) == UInt32(byte) else { return nil }
            node ^= offset(unit)
            guard node < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let start = Int(units[node] & 0x7fff_ffff)
                guard start <= replacements.count else { return nil }
                let end = replacements[start...].firstIndex(of: 0) ?? replacements.count
                return replacements[start..<end]
            }
        }
        return nil
    }

    private func replacement(of key: some Collection<UInt8>) -> String.UnicodeScalarView? {
        Self.lookUp(key, units: units, replacements: replacements).map {
            String(decoding: $0, as: UTF8.self).unicodeScalars
        }
    }

    /// `text` normalised.
    public func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            // Between two ASCII scalars (but CR LF) lies a cluster boundary: ASCII text goes
            // scalar by scalar, through a table.
            var end = index + 1
            while end < text.count, !Self.isBoundary(text[end - 1], text[end]) { end += 1 }
            if end == index + 1, text[index].isASCII {
                if let replacement = ascii[Int(text[index].value)] {
                    output += replacement
                } else {
                    output.append(text[index])
                }
            } else {
                var run = String.UnicodeScalarView()
                run.append(contentsOf: text[index..<end])
                for cluster in String(run) { normalize(cluster: cluster, into: &output) }
            }
            index = end
        }
        return output
    }

    /// Whether a cluster boundary certainly lies between `left` and `right`.
    @inline(__always)
    private static func isBoundary(_ left: Unicode.Scalar, _ right: Unicode.Scalar) -> Bool {
        left.isASCII && right.isASCII && !(left == "\r" && right == "\n")
    }

    private func normalize(cluster: Character, into output: inout [Unicode.Scalar]) {
        if cluster.utf8.count < 6, let replacement = replacement(of: cluster.utf8) {
            output += replacement
            return
        }
        for scalar in cluster.unicodeScalars {
            if let replacement = replacement(of: String(scalar).utf8) {
                output += replacement
            } else {
                output.append(scalar)
            }
        }
    }
}

/// What is wrong with a `Precompiled` charsmap.
public enum PrecompiledCharsmapError: Error, Hashable, CustomStringConvertible {
    /// Fewer than the 4 bytes of the trie's size.
    case tooShort(Int)
    /// The trie's size is not a whole number of units or runs past the blob.
    case badTrieSize(Int, blobSize: Int)

    public var description: String {
        switch self {
        case .tooShort(let count): "the precompiled charsmap is \(count) bytes, too short for its header"
        case .badTrieSize(let size, let blobSize):
            "the precompiled charsmap's trie size \(size) does not fit its \(blobSize) bytes in 4-byte units"
        }
    }
}
