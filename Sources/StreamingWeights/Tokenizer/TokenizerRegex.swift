/// A regular expression as `tokenizer.json` files write them (Oniguruma's Ruby syntax, which Hugging
/// Face `tokenizers` runs), compiled for a matcher that finds each match in time linear in the
/// text.
///
/// Finding every match, one after another, is linear for the patterns tokenizers ship, but can be
/// quadratic for one like `[ab]*c|a` on a long run of `a`s: each search reads ahead to the end of
/// the run before settling on one `a`.
///
/// A backtracking engine (Swift's `Regex`, Oniguruma itself) can take exponential time on a
/// pattern such as `(a+)+b`, so a hostile `tokenizer.json` could hang the tool; this one follows
/// every alternative at once (a Pike machine, ``TokenizerRegex+Matching``), with Oniguruma's
/// leftmost-first choice among them. It reads what tokenizers' patterns use: literals and escapes
/// (`\t`, `\x41`, `\x{1F600}`, `\u00e9`), `.`, classes with ranges and negation, `\s \d \w \h`
/// and their complements, `\p{..}`/`\P{..}` for general categories and a few binary properties,
/// groups (capturing, `(?:..)`, named), alternation, `* + ? {n} {n,} {,m} {n,m}` greedy or lazy,
/// `(?i)`/`(?i:..)` (simple case folding), `(?m)` (dot matches a newline), anchors `^ $ \A \z \Z
/// \b \B` (Ruby's `^` and `$` are line anchors) and look-ahead `(?=..)`, `(?!..)`. Anything else
/// (look-behind, back-references, atomic groups, possessive quantifiers, POSIX brackets, class
/// intersection, scripts like `\p{Han}`, a case-insensitive character with a multi-character fold
/// such as `ß`) is refused with a ``SyntaxError`` naming it, never matched differently.
struct TokenizerRegex: Sendable {
    /// One step of the compiled program.
    enum Instruction: Sendable {
        /// Consumes this scalar.
        case scalar(Unicode.Scalar)
        /// Consumes a scalar that `tests[index]` accepts.
        case test(Int)
        /// Goes on at both, preferring the first.
        case split(Int, Int)
        case jump(Int)
        /// Goes on only where the assertion holds.
        case assert(Assertion)
        /// Goes on only where `lookaheads[index]` matches (or, negated, does not), consuming nothing.
        case lookahead(Int, negated: Bool)
        case match
    }

    /// A zero-width condition on the position.
    enum Assertion: Sendable {
        /// `^`: the start of the text or of a line.
        case lineStart
        /// `$`: the end of the text or of a line.
        case lineEnd
        /// `\A`
        case textStart
        /// `\z`
        case textEnd
        /// `\Z`: the end, or before a final newline.
        case textEndOrFinalNewline
        /// `\b`
        case wordBoundary
        /// `\B`
        case notWordBoundary
    }

    /// The pattern as written.
    let source: String
    let program: [Instruction]
    /// What `.test(index)` instructions consult.
    let tests: [CompiledTest]
    /// The look-ahead groups' own programs (each ending in `.match`), sharing ``tests``.
    let lookaheads: [[Instruction]]

    /// The most instructions a pattern may compile to (counted repetitions copy their operand).
    static let instructionLimit = 100_000

    /// Compiles `pattern`.
    ///
    /// - Throws: ``SyntaxError`` for a pattern that does not parse or uses a construct this
    ///   matcher does not implement.
    init(_ pattern: String) throws(SyntaxError) {
        var parser = Parser(Array(pattern.unicodeScalars))
        let node = try parser.parsePattern()
        var compiler = Compiler()
        let main = try compiler.compile(node)
        source = pattern
        program = main
        tests = compiler.tests
        lookaheads = compiler.lookaheads
    }

    /// Why a pattern was refused: what, and where (in Unicode scalars from its start).
    struct SyntaxError: Error, CustomStringConvertible, Equatable {
        let offset: Int
        let problem: String

        var description: String { "at character \(offset): \(problem)" }
    }
}

extension TokenizerRegex {
    /// The parsed form of a pattern.
    indirect enum Node {
        case empty
        case scalar(Unicode.Scalar)
        case test(ScalarTest)
        case sequence([Node])
        case choice([Node])
        case repetition(Node, minimum: Int, maximum: Int?, greedy: Bool)
        case assertion(Assertion)
        case lookahead(Node, negated: Bool)
    }
}
