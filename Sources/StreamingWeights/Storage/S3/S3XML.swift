import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The few S3 XML documents the backend reads: errors, listings and multipart upload ids.
///
/// Parsed with Foundation's `XMLParser` into a flat list of (element path, text) pairs, which is
/// all these documents need.
struct S3XML {
    /// Each text-bearing element, as its path from the root (`ListBucketResult/Contents/Key`) and text.
    let elements: [(path: String, text: String)]

    init?(_ bytes: [UInt8]) {
        let parser = XMLParser(data: Data(bytes))
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse() else { return nil }
        elements = collector.elements
    }

    /// The text of the first element at `path`.
    func first(_ path: String) -> String? {
        elements.first { $0.path == path }?.text
    }

    /// The texts of every element at `path`, in order.
    func all(_ path: String) -> [String] {
        elements.filter { $0.path == path }.map(\.text)
    }

    private final class Collector: NSObject, XMLParserDelegate {
        var elements: [(path: String, text: String)] = []
        private var stack: [String] = []
        private var text = ""

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            stack.append(elementName)
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            elements.append((stack.joined(separator: "/"), text))
            stack.removeLast()
            text = ""
        }
    }
}
