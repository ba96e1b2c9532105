/// A WordPiece vocabulary: tokens and their ids, with a byte trie for longest-prefix matching.
public struct Vocabulary: Sendable {
    /// The tokens by id.
    public let tokens: [String]
    /// Keyed by UTF-8 bytes: `String` equality is canonical equivalence, which would make
    /// U+037E the same token as ";", where the reference compares bytes.
    private let ids: [[UInt8]: Int32]
    /// The trie over the tokens' UTF-8 bytes.
    let trie: ByteTrie

    /// Creates a vocabulary whose token i has id i.
    ///
    /// - Throws: ``TokenizerError/duplicateToken(_:firstLine:secondLine:source:)`` for a token
    ///   listed twice (lines count from 1).
    public init(tokens: [String], source: String = "<vocabulary>") throws {
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (index, token) in tokens.enumerated() {
            let key = Array(token.utf8)
            if let first = ids[key] {
                throw TokenizerError.duplicateToken(
                    token, firstLine: Int(first) + 1, secondLine: index + 1, source: source)
            }
            ids[key] = Int32(index)
        }
        self.tokens = tokens
        self.ids = ids
        trie = ByteTrie(tokens)
    }

    /// Parses `vocab.txt`: one token per line, the line number (from 0) is the id.
    ///
    /// A final newline does not add an empty token; `\r\n` line ends are accepted.
    public init(vocabTxt bytes: [UInt8], source: String = "vocab.txt") throws {
        // Split on the byte 0x0A: Swift's `Character` would take "\r\n" as one.
        var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 0x0d ? line.dropLast() : line, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(tokens: lines, source: source)
    }

    /// The number of tokens.
    public var count: Int { tokens.count }

    /// The id of `token`, or `nil`.
    public func id(of token: String) -> Int32? { ids[Array(token.utf8)] }

    /// The token with `id`, or `nil`.
    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil
    }
}

/// A trie over byte strings, each node marked with the id of the token ending there.
///
/// Nodes keep their children sorted by byte in one flat array, so a lookup is a short scan;
/// the root and every node with many children (XLM-R's `▁` has hundreds) have a direct
/// 256-entry table instead.
struct ByteTrie: Sendable {
    /// For node n: the token id ending here, or -1.
    private var terminal: [Int32] = [-1]
    /// For node n: its children are `edges[firstEdge[n] ..< firstEdge[n + 1]]`.
    private var firstEdge: [Int32] = []
    private var edgeBytes: [UInt8] = []
    private var edgeTargets: [Int32] = []
    /// For node n: the start of its 256-entry table in `tables`, or -1 when it has none.
    private var tableStart: [Int32] = []
    private var tables: [Int32] = []
    /// Nodes with more children than this get a table.
    private static let tableThreshold = 12

    init(_ tokens: [String]) {
        // Build with dictionaries, then flatten.
        var children: [[UInt8: Int32]] = [[:]]
        for (id, token) in tokens.enumerated() {
            var node = 0
            for byte in token.utf8 {
                if let next = children[node][byte] {
                    node = Int(next)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    let next = Int32(children.count - 1)
                    children[node][byte] = next
                    node = Int(next)
                }
            }
            if terminal[node] < 0 { terminal[node] = Int32(id) }
        }
        for (node, edges) in children.enumerated() {
            firstEdge.append(Int32(edgeBytes.count))
            let dense = node == 0 || edges.count > Self.tableThreshold
            tableStart.append(dense ? Int32(tables.count) : -1)
            if dense { tables += [Int32](repeating: -1, count: 256) }
            for (byte, target) in edges.sorted(by: { $0.key < $1.key }) {
                edgeBytes.append(byte)
                edgeTargets.append(target)
                if dense { tables[tables.count - 256 + Int(byte)] = target }
            }
        }
        firstEdge.append(Int32(edgeBytes.count))
    }

    /// The node reached from `node` by `byte`, or -1.
    @inline(__always)
    func child(of node: Int32, byte: UInt8) -> Int32 {
        let table = tableStart[Int(node)]
        if table >= 0 { return tables[Int(table) + Int(byte)] }
        var edge = Int(firstEdge[Int(node)])
        let end = Int(firstEdge[Int(node) + 1])
        while edge < end {
            let candidate = edgeBytes[edge]
            if candidate == byte { return edgeTargets[edge] }
            if candidate > byte { return -1 }
            edge += 1
        }
        return -1
    }

    /// The node reached from the root by `bytes`, or -1.
    func node(for bytes: some Sequence<UInt8>) -> Int32 {
        var node: Int32 = 0
        for byte in bytes {
            node = child(of: node, byte: byte)
            if node < 0 { return -1 }
        }
        return node
    }

    /// The id of the token ending at `node`, or -1.
    @inline(__always)
    func tokenID(at node: Int32) -> Int32 { terminal[Int(node)] }

    /// Calls `body` with the id and length in bytes of every token that `bytes[start...]`
    /// begins with, shortest first, starting from `node` (the root, or the node of a prefix such
    /// as `##`).
    @inline(__always)
    func forEachPrefix(
        of bytes: UnsafeBufferPointer<UInt8>, from start: Int, node: Int32 = 0, _ body: (Int32, Int) -> Void
    ) {
        var node = node
        var index = start
        while index < bytes.count {
            node = child(of: node, byte: bytes[index])
            if node < 0 { return }
            index += 1
            let id = terminal[Int(node)]
            if id >= 0 { body(id, index - start) }
        }
    }

    /// The longest token that `bytes[start...]` begins with, starting from `node` (the root, or
    /// the node of a prefix such as `##`): its id and its length in bytes, or `nil`.
    @inline(__always)
    func longestMatch(in bytes: UnsafeBufferPointer<UInt8>, from start: Int, node: Int32) -> (id: Int32, length: Int)? {
        var best: (id: Int32, length: Int)?
        forEachPrefix(of: bytes, from: start, node: node) { best = ($0, $1) }
        return best
    }
}
