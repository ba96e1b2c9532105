extension TokenizerRegex {
    /// A recursive-descent parser over the pattern's scalars.
    struct Parser {
        private let pattern: [Unicode.Scalar]
        private var index = 0
        /// `(?i)`: letters match their other case.
        private var caseless = false
        /// `(?m)`: `.` matches a newline too.
        private var dotAll = false

        /// The largest count a `{n,m}` may give.
        static let repetitionLimit = 1000

        init(_ pattern: [Unicode.Scalar]) { self.pattern = pattern }

        mutating func parsePattern() throws(SyntaxError) -> Node {
            let node = try parseChoice()
            if index < pattern.count { throw error("an unmatched ')'") }
            return node
        }

        private func error(_ problem: String, at offset: Int? = nil) -> SyntaxError {
            SyntaxError(offset: offset ?? index, problem: problem)
        }

        private var next: Unicode.Scalar? { index < pattern.count ? pattern[index] : nil }

        private mutating func take(_ scalar: Unicode.Scalar) -> Bool {
            guard next == scalar else { return false }
            index += 1
            return true
        }

        /// Alternatives up to the end of the enclosing group; option changes stop at its end.
        private mutating func parseChoice() throws(SyntaxError) -> Node {
            let saved = (caseless, dotAll)
            defer { (caseless, dotAll) = saved }
            var alternatives = [try parseSequence()]
            while take("|") { alternatives.append(try parseSequence()) }
            return alternatives.count == 1 ? alternatives[0] : .choice(alternatives)
        }

        private mutating func parseSequence() throws(SyntaxError) -> Node {
            var items: [Node] = []
            while let scalar = next, scalar != "|", scalar != ")" {
                guard let atom = try parseAtom() else { continue }
                items.append(try parseQuantifiers(on: atom))
            }
            return items.isEmpty ? .empty : items.count == 1 ? items[0] : .sequence(items)
        }

        private mutating func parseQuantifiers(on atom: Node) throws(SyntaxError) -> Node {
            var node = atom
            while let scalar = next {
                let start = index
                var bounds: (Int, Int?)
                switch scalar {
                case "*": bounds = (0, nil)
                case "+": bounds = (1, nil)
                case "?": bounds = (0, 1)
                case "{":
                    guard let interval = parseInterval() else { return node }
                    bounds = interval
                default: return node
                }
                index += 1
                if bounds.0 > Self.repetitionLimit || (bounds.1 ?? 0) > Self.repetitionLimit {
                    throw error("a repetition count above \(Self.repetitionLimit)", at: start)
                }
                if case .assertion = node { throw error("a quantifier after an anchor", at: start) }
                if case .lookahead = node { throw error("a quantifier after a look-ahead", at: start) }
                var greedy = true
                if take("?") {
                    greedy = false
                } else if scalar != "{", next == "+" {
                    throw error("possessive quantifiers ('\(scalar)+') are not supported", at: start)
                }
                node = .repetition(node, minimum: bounds.0, maximum: bounds.1, greedy: greedy)
            }
            return node
        }

        /// `{n}`, `{n,}`, `{,m}` or `{n,m}` at `index`, leaving `index` on the closing brace;
        /// nil (and `index` unmoved) when the brace does not start one, as Oniguruma then reads
        /// it as a literal.
        private mutating func parseInterval() -> (Int, Int?)? {
            let start = index
            index += 1
            func number(_ parser: inout Parser) -> Int? {
                var value: Int?
                while let scalar = parser.next, ("0"..."9").contains(scalar) {
                    value = min((value ?? 0) * 10 + Int(scalar.value - 48), Self.repetitionLimit + 1)
                    parser.index += 1
                }
                return value
            }
            let low = number(&self)
            var bounds: (Int, Int?)?
            if take("}") {
                bounds = low.map { ($0, $0) }
            } else if take(",") {
                let high = number(&self)
                if take("}"), low != nil || high != nil { bounds = (low ?? 0, high) }
            }
            guard let bounds, bounds.1.map({ $0 >= bounds.0 }) ?? true else {
                index = start
                return nil
            }
            index -= 1
            return bounds
        }

        /// One atom, or nil for something that matches nothing and takes no quantifier (an
        /// option setting, a comment).
        private mutating func parseAtom() throws(SyntaxError) -> Node? {
            let start = index
            guard let scalar = next else { throw error("an unexpected end") }
            index += 1
            switch scalar {
            case "(": return try parseGroup(start: start)
            case "[": return .test(try parseClass(start: start))
            case ".": return .test(dotAll ? .any : .anyButNewline)
            case "^": return .assertion(.lineStart)
            case "$": return .assertion(.lineEnd)
            case "\\": return try parseEscape(start: start)
            case "*", "+", "?": throw error("nothing to repeat before '\(scalar)'", at: start)
            case "{":
                index = start
                if parseInterval() != nil { throw error("nothing to repeat before '{'", at: start) }
                index = start + 1
                return try literal(scalar, at: start)
            default: return try literal(scalar, at: start)
            }
        }

        private func literal(_ scalar: Unicode.Scalar, at offset: Int) throws(SyntaxError) -> Node {
            guard caseless, CaseFolding.hasOtherCase(scalar) else { return .scalar(scalar) }
            guard CaseFolding.foldsToOneScalar(scalar) else {
                throw error(
                    "'\(scalar)' (U+\(String(scalar.value, radix: 16, uppercase: true))) folds to more than one "
                        + "character under (?i), which is not supported", at: offset)
            }
            return .test(.caseless(CaseFolding.fold(scalar)))
        }

        private mutating func parseGroup(start: Int) throws(SyntaxError) -> Node? {
            let outer = (caseless, dotAll)
            var lookahead: Bool?
            if take("?") {
                guard let kind = next else { throw error("an unclosed group", at: start) }
                index += 1
                switch kind {
                case ":": break
                case "=": lookahead = false
                case "!": lookahead = true
                case "#":
                    while let scalar = next, scalar != ")" { index += 1 }
                    guard take(")") else { throw error("an unclosed comment", at: start) }
                    return nil
                case "<" where next == "=" || next == "!":
                    throw error("look-behind ('(?<\(next ?? "=")') is not supported", at: start)
                case "<", "'":
                    let close: Unicode.Scalar = kind == "<" ? ">" : "'"
                    let nameStart = index
                    while let scalar = next, scalar != close { index += 1 }
                    guard index > nameStart, take(close) else { throw error("a group name is not closed", at: start) }
                case ">": throw error("atomic groups ('(?>') are not supported", at: start)
                default:
                    index -= 1
                    let scoped = try parseOptions(start: start)
                    if !scoped { return nil }
                }
            }
            let body = try parseChoice()
            (caseless, dotAll) = outer
            guard take(")") else { throw error("an unclosed group", at: start) }
            return lookahead.map { .lookahead(body, negated: $0) } ?? body
        }

        /// Reads `imx-imx` then `)` (the options hold to the end of the enclosing group: returns
        /// false) or `:` (they hold inside this group: returns true, caller parses the body).
        private mutating func parseOptions(start: Int) throws(SyntaxError) -> Bool {
            var on = true
            var (newCaseless, newDotAll) = (caseless, dotAll)
            while let scalar = next {
                index += 1
                switch scalar {
                case "i": newCaseless = on
                case "m": newDotAll = on
                case "-" where on: on = false
                case ")", ":":
                    (caseless, dotAll) = (newCaseless, newDotAll)
                    return scalar == ":"
                default:
                    throw error("the group '(?\(scalar)' is not supported", at: start)
                }
            }
            throw error("an unclosed group", at: start)
        }

        private mutating func parseEscape(start: Int) throws(SyntaxError) -> Node {
            guard let scalar = next else { throw error("a trailing backslash", at: start) }
            index += 1
            switch scalar {
            case "A": return .assertion(.textStart)
            case "z": return .assertion(.textEnd)
            case "Z": return .assertion(.textEndOrFinalNewline)
            case "b": return .assertion(.wordBoundary)
            case "B": return .assertion(.notWordBoundary)
            default:
                if let test = try classEscape(scalar, start: start) { return .test(test) }
                return try literal(try escapedScalar(scalar, start: start), at: start)
            }
        }

        /// `\s \S \d \D \w \W \h \H \p{..} \P{..}` (the backslash and letter already read), or
        /// nil for another escape.
        private mutating func classEscape(_ letter: Unicode.Scalar, start: Int, inClass: Bool = false)
            throws(SyntaxError) -> ScalarTest?
        {
            switch letter {
            case "s": return .property(.whiteSpace, negated: false)
            case "S": return .property(.whiteSpace, negated: true)
            case "d": return .property(.decimalDigit, negated: false)
            case "D": return .property(.decimalDigit, negated: true)
            case "w": return .property(inClass ? .wordInClass : .word, negated: false)
            case "W": return .property(inClass ? .wordInClass : .word, negated: true)
            case "h": return .property(.hexDigit, negated: false)
            case "H": return .property(.hexDigit, negated: true)
            case "p", "P":
                guard take("{") else { throw error("'\\\(letter)' without '{'", at: start) }
                let negated = take("^") != (letter == "P")
                let nameStart = index
                while let scalar = next, scalar != "}" { index += 1 }
                let name = String(String.UnicodeScalarView(pattern[nameStart..<index]))
                guard take("}") else { throw error("an unclosed '\\\(letter){'", at: start) }
                guard let property = ScalarTest.Property(named: name) else {
                    throw error(
                        "the property '\(name)' is not supported (general categories such as L, Lu, N, P, "
                            + "and Alphabetic, White_Space, Emoji, Emoji_Presentation, Any are)", at: start)
                }
                return .property(property, negated: negated)
            default: return nil
            }
        }

        /// The scalar a non-class escape stands for (the backslash and `letter` already read).
        private mutating func escapedScalar(_ letter: Unicode.Scalar, start: Int) throws(SyntaxError)
            -> Unicode.Scalar
        {
            switch letter {
            case "t": return "\t"
            case "n": return "\n"
            case "r": return "\r"
            case "f": return "\u{0C}"
            case "v": return "\u{0B}"
            case "a": return "\u{07}"
            case "e": return "\u{1B}"
            case "0": return "\0"
            case "x":
                if take("{") { return try hexScalar(until: "}", start: start) }
                return try hexScalar(digits: 2, start: start)
            case "u": return try hexScalar(digits: 4, start: start)
            default:
                guard !(letter.properties.isAlphabetic || letter.properties.numericType != nil) else {
                    throw error("the escape '\\\(letter)' is not supported", at: start)
                }
                return letter
            }
        }

        private mutating func hexScalar(digits: Int? = nil, until close: Unicode.Scalar? = nil, start: Int)
            throws(SyntaxError) -> Unicode.Scalar
        {
            var value: UInt32 = 0
            var count = 0
            while let scalar = next, count < (digits ?? 8), scalar.isASCII,
                let digit = UInt32(String(scalar), radix: 16)
            {
                value = value * 16 + digit
                count += 1
                index += 1
            }
            if let digits, count != digits { throw error("'\\x' or '\\u' needs \(digits) hex digits", at: start) }
            if let close, count == 0 || !take(close) { throw error("an unclosed '\\x{'", at: start) }
            guard let scalar = Unicode.Scalar(value) else {
                throw error("U+\(String(value, radix: 16, uppercase: true)) is not a Unicode scalar", at: start)
            }
            return scalar
        }

        /// A bracketed class, the `[` already read.
        private mutating func parseClass(start: Int) throws(SyntaxError) -> ScalarTest {
            let negated = take("^")
            var ranges: [ClosedRange<UInt32>] = []
            var members: [ScalarTest] = []
            var first = true
            while true {
                guard let scalar = next else { throw error("an unclosed '['", at: start) }
                let itemStart = index
                if scalar == "]", !first { break }
                first = false
                index += 1
                var low: Unicode.Scalar
                switch scalar {
                case "[":
                    throw error(
                        next == ":" ? "POSIX brackets ('[:') are not supported" : "nested classes are not supported",
                        at: itemStart)
                case "&" where next == "&": throw error("class intersection ('&&') is not supported", at: itemStart)
                case "\\":
                    guard let letter = next else { throw error("an unclosed '['", at: start) }
                    index += 1
                    if let test = try classEscape(letter, start: itemStart, inClass: true) {
                        members.append(test)
                        continue
                    }
                    low = letter == "b" ? "\u{08}" : try escapedScalar(letter, start: itemStart)
                default: low = scalar
                }
                var high = low
                if next == "-", index + 1 < pattern.count, pattern[index + 1] != "]" {
                    index += 1
                    let bound = pattern[index]
                    index += 1
                    if bound == "\\" {
                        guard let letter = next else { throw error("an unclosed '['", at: start) }
                        index += 1
                        guard try classEscape(letter, start: itemStart, inClass: true) == nil else {
                            throw error("a range ends in a class escape", at: itemStart)
                        }
                        high = try escapedScalar(letter, start: itemStart)
                    } else if bound == "[" {
                        throw error("nested classes are not supported", at: itemStart)
                    } else {
                        high = bound
                    }
                    guard high.value >= low.value else { throw error("a range out of order", at: itemStart) }
                }
                if caseless {
                    for scalar in [low, high] where !CaseFolding.foldsToOneScalar(scalar) {
                        throw error(
                            "'\(scalar)' folds to more than one character under (?i), which is not supported",
                            at: itemStart)
                    }
                }
                ranges.append(low.value...high.value)
            }
            index += 1
            return .set(ScalarTest.ScalarSet(ranges: ranges, members: members, caseless: caseless), negated: negated)
        }
    }
}
