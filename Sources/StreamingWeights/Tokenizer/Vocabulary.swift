/// A WordPiece vocabulary: tokens and their ids, with a byte trie for longest-prefix matching.
public struct Vocabulary: Sendable {
    /// The tokens by id.
    public let tokens: [String]
    /// The trie over the tokens' UTF-8 bytes, which also answers ``id(of:)``: it compares bytes,
    /// where `String` equality is canonical equivalence (U+037E would be the same token as ";").
    let trie: ByteTrie

    /// Creates a vocabulary whose token i has id i.
    ///
    /// - Throws: ``TokenizerError/duplicateToken(_:firstLine:secondLine:source:)`` for a token
    ///   listed twice (lines count from 1; the first repeat in the list is named).
    public init(tokens: [String], source: String = "<vocabulary>") throws {
        var repeated: (first: Int, second: Int)?
        let trie = ByteTrie(tokens, firstRepeat: &repeated)
        if let (first, second) = repeated {
            throw TokenizerError.duplicateToken(
                tokens[second], firstLine: first + 1, secondLine: second + 1, source: source)
        }
        self.tokens = tokens
        self.trie = trie
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
    public func id(of token: String) -> Int32? {
        let node = trie.node(for: token.utf8)
        guard node >= 0 else { return nil }
        let id = trie.tokenID(at: node)
        return id >= 0 ? id : nil
    }

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

    /// The trie of `tokens`, token i ending at a node marked i (the first index, for a repeat);
    /// `firstRepeat` is set to the first token in list order whose bytes an earlier one already
    /// has, as (the earlier index, its index), and left `nil` when every token is distinct.
    ///
    /// Built from the tokens in byte order: each new node's edge hangs off the path of the token
    /// before it, so a node's children come in byte order and the flat arrays are filled in one
    /// pass, without a dictionary per node.
    init(_ tokens: [String], firstRepeat: inout (first: Int, second: Int)?) {
        let keys = tokens.map { Array($0.utf8) }
        let order = keys.indices.sorted { a, b in
            keys[a] == keys[b] ? a < b : keys[a].lexicographicallyPrecedes(keys[b])
        }
        var parents: [Int32] = []
        var bytes: [UInt8] = []
        var path: [Int32] = [0]
        var previous: [UInt8] = []
        for index in order {
            let key = keys[index]
            var common = 0
            while common < key.count, common < previous.count, key[common] == previous[common] { common += 1 }
            path.removeLast(path.count - 1 - common)
            for depth in common..<key.count {
                parents.append(path[depth])
                bytes.append(key[depth])
                path.append(Int32(terminal.count))
                terminal.append(-1)
            }
            let node = Int(path[key.count])
            if terminal[node] < 0 {
                terminal[node] = Int32(index)
            } else if firstRepeat.map({ index < $0.second }) ?? true {
                firstRepeat = (Int(terminal[node]), index)
            }
            previous = key
        }
        // Node n's edges, in the order they were made (by byte), at firstEdge[n]...; node k + 1
        // hangs off edge k.
        let nodeCount = terminal.count
        var counts = [Int32](repeating: 0, count: nodeCount + 1)
        for parent in parents { counts[Int(parent) + 1] += 1 }
        for node in 0..<nodeCount { counts[node + 1] += counts[node] }
        firstEdge = counts
        edgeBytes = [UInt8](repeating: 0, count: parents.count)
        edgeTargets = [Int32](repeating: 0, count: parents.count)
        var next = counts
        for (edge, parent) in parents.enumerated() {
            let slot = Int(next[Int(parent)])
            next[Int(parent)] += 1
            edgeBytes[slot] = bytes[edge]
            edgeTargets[slot] = Int32(edge + 1)
        }
        tableStart = [Int32](repeating: -1, count: nodeCount)
        for node in 0..<nodeCount {
            let (first, end) = (Int(firstEdge[node]), Int(firstEdge[node + 1]))
            guard node == 0 || end - first > Self.tableThreshold else { continue }
            tableStart[node] = Int32(tables.count)
            tables += [Int32](repeating: -1, count: 256)
            for edge in first..<end { tables[Int(tableStart[node]) + Int(edgeBytes[edge])] = edgeTargets[edge] }
        }
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
