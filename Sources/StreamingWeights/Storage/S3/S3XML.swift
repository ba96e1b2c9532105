/// The few S3 XML documents the backend reads: errors, listings and multipart upload ids.
///
/// These documents are elements and text only, so they are read by a small parser of our own
/// into a flat list of (element path, text) pairs, which is all they need. (Foundation's
/// `XMLParser` on Linux crashed on a malformed prefixed name that `scripts/fuzz s3xml` found.)
/// It takes UTF-8 elements, attributes (skipped), text with the five named entities and
/// character references, CDATA, comments and processing instructions; anything else, a DOCTYPE
/// (and with it entity expansion) included, makes the document unreadable: `nil`.
package struct S3XML {
    /// Each element, as its path from the root (`ListBucketResult/Contents/Key`) and its text
    /// (for an element with children, the text after the last one).
    package let elements: [(path: String, text: String)]

    /// Nesting deeper than any S3 document, refused rather than followed.
    package static let maximumDepth = 64

    package init?(_ bytes: [UInt8]) {
        guard let elements = Self.parse(bytes) else { return nil }
        self.elements = elements
    }

    /// The text of the first element at `path`.
    package func first(_ path: String) -> String? {
        elements.first { $0.path == path }?.text
    }

    /// The texts of every element at `path`, in order.
    package func all(_ path: String) -> [String] {
        elements.filter { $0.path == path }.map(\.text)
    }

    private static func parse(_ bytes: [UInt8]) -> [(path: String, text: String)]? {
        guard String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var elements: [(path: String, text: String)] = []
        var stack: [String] = []
        var text: [UInt8] = []
        var sawRoot = false
        var index = 0

        func starts(with literal: String, at position: Int) -> Bool {
            let utf8 = Array(literal.utf8)
            return position + utf8.count <= bytes.count && bytes[position..<(position + utf8.count)].elementsEqual(utf8)
        }
        /// The index just past `literal`, searching from `position`.
        func skip(past literal: String, from position: Int) -> Int? {
            let utf8 = Array(literal.utf8)
            return bytes[position...].firstRange(of: utf8)?.upperBound
        }
        func name(from position: Int) -> (String, Int)? {
            var end = position
            while end < bytes.count,
                ![UInt8(ascii: " "), 9, 10, 13, UInt8(ascii: "/"), UInt8(ascii: ">")].contains(bytes[end])
            {
                end += 1
            }
            guard end > position else { return nil }
            return (String(decoding: bytes[position..<end], as: UTF8.self), end)
        }

        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "&") {
                guard stack.count > 0, let end = bytes[index...].firstIndex(of: UInt8(ascii: ";")),
                    let decoded = decodeReference(bytes[(index + 1)..<end])
                else { return nil }
                text += decoded
                index = end + 1
                continue
            }
            guard byte == UInt8(ascii: "<") else {
                // Text outside the root element may only be white space.
                guard stack.count > 0 || [UInt8(ascii: " "), 9, 10, 13].contains(byte) else { return nil }
                if stack.count > 0 { text.append(byte) }
                index += 1
                continue
            }
            if starts(with: "<?", at: index) {
                guard let end = skip(past: "?>", from: index + 2) else { return nil }
                index = end
            } else if starts(with: "<!--", at: index) {
                guard let end = skip(past: "-->", from: index + 4) else { return nil }
                index = end
            } else if starts(with: "<![CDATA[", at: index) {
                guard stack.count > 0, let end = skip(past: "]]>", from: index + 9) else { return nil }
                text += bytes[(index + 9)..<(end - 3)]
                index = end
            } else if starts(with: "</", at: index) {
                guard let (closing, end) = name(from: index + 2), closing == stack.last else { return nil }
                var position = end
                while position < bytes.count, [UInt8(ascii: " "), 9, 10, 13].contains(bytes[position]) { position += 1 }
                guard position < bytes.count, bytes[position] == UInt8(ascii: ">") else { return nil }
                elements.append((stack.joined(separator: "/"), String(decoding: text, as: UTF8.self)))
                stack.removeLast()
                text = []
                index = position + 1
            } else if starts(with: "<!", at: index) {
                return nil  // DOCTYPE and other declarations
            } else {
                guard let (opening, end) = name(from: index + 1), !(sawRoot && stack.isEmpty),
                    stack.count < maximumDepth
                else { return nil }
                // Attributes are skipped; a quoted value may hold '>' or '/'.
                var position = end
                var quote: UInt8?
                while position < bytes.count {
                    let current = bytes[position]
                    if let open = quote {
                        if current == open { quote = nil }
                    } else if current == UInt8(ascii: "\"") || current == UInt8(ascii: "'") {
                        quote = current
                    } else if current == UInt8(ascii: ">") {
                        break
                    }
                    position += 1
                }
                guard position < bytes.count else { return nil }
                sawRoot = true
                stack.append(opening)
                text = []
                if bytes[position - 1] == UInt8(ascii: "/") && quote == nil && position - 1 >= end {
                    elements.append((stack.joined(separator: "/"), ""))
                    stack.removeLast()
                }
                index = position + 1
            }
        }
        guard sawRoot, stack.isEmpty else { return nil }
        return elements
    }

    /// The UTF-8 of an entity or character reference's body (`amp`, `#38`, `#x26`), or `nil`.
    private static func decodeReference(_ body: ArraySlice<UInt8>) -> [UInt8]? {
        let name = String(decoding: body, as: UTF8.self)
        switch name {
        case "lt": return [UInt8(ascii: "<")]
        case "gt": return [UInt8(ascii: ">")]
        case "amp": return [UInt8(ascii: "&")]
        case "quot": return [UInt8(ascii: "\"")]
        case "apos": return [UInt8(ascii: "'")]
        default:
            let digits: Substring
            let radix: Int
            if name.hasPrefix("#x") {
                (digits, radix) = (name.dropFirst(2), 16)
            } else if name.hasPrefix("#") {
                (digits, radix) = (name.dropFirst(1), 10)
            } else {
                return nil
            }
            guard digits.count <= 8, let value = UInt32(digits, radix: radix), value != 0,
                let scalar = Unicode.Scalar(value)
            else { return nil }
            return Array(String(Character(scalar)).utf8)
        }
    }
}
