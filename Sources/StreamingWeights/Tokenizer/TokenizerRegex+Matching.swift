extension TokenizerRegex {
    /// Turns a parsed pattern into instructions: alternatives and repetitions become prioritized
    /// splits (the first branch is the one a backtracking engine would try first).
    struct Compiler {
        private(set) var tests: [CompiledTest] = []
        private(set) var lookaheads: [[Instruction]] = []

        mutating func compile(_ node: Node) throws(SyntaxError) -> [Instruction] {
            var code: [Instruction] = []
            try emit(node, into: &code)
            code.append(.match)
            return code
        }

        private mutating func emit(_ node: Node, into code: inout [Instruction]) throws(SyntaxError) {
            guard code.count + tests.count <= TokenizerRegex.instructionLimit else {
                throw SyntaxError(
                    offset: 0, problem: "the pattern compiles to more than \(TokenizerRegex.instructionLimit) steps")
            }
            switch node {
            case .empty: break
            case .scalar(let scalar): code.append(.scalar(scalar))
            case .test(let test):
                tests.append(CompiledTest(test))
                code.append(.test(tests.count - 1))
            case .sequence(let items):
                for item in items { try emit(item, into: &code) }
            case .choice(let alternatives):
                var exits: [Int] = []
                for alternative in alternatives.dropLast() {
                    let split = code.count
                    code.append(.match)  // patched below
                    try emit(alternative, into: &code)
                    exits.append(code.count)
                    code.append(.match)  // patched below
                    code[split] = .split(split + 1, code.count)
                }
                if let last = alternatives.last { try emit(last, into: &code) }
                for exit in exits { code[exit] = .jump(code.count) }
            case .assertion(let assertion): code.append(.assert(assertion))
            case .lookahead(let body, let negated):
                var sub: [Instruction] = []
                try emit(body, into: &sub)
                sub.append(.match)
                lookaheads.append(sub)
                code.append(.lookahead(lookaheads.count - 1, negated: negated))
            case .repetition(let body, let minimum, let maximum, let greedy):
                for _ in 0..<minimum { try emit(body, into: &code) }
                // Each optional copy (or the loop): a split between taking the body and going on.
                for _ in 0..<((maximum ?? minimum + 1) - minimum) {
                    let split = code.count
                    code.append(.match)  // patched below
                    try emit(body, into: &code)
                    if maximum == nil { code.append(.jump(split)) }
                    code[split] = greedy ? .split(split + 1, code.count) : .split(code.count, split + 1)
                }
            }
        }
    }

    /// A ``ScalarTest`` with its answers for ASCII precomputed.
    struct CompiledTest: Sendable {
        let test: ScalarTest
        /// Bit `n` of `ascii.0` (n < 64) or `ascii.1` (n - 64): whether the test accepts scalar n.
        let ascii: (UInt64, UInt64)

        init(_ test: ScalarTest) {
            self.test = test
            var bits: (UInt64, UInt64) = (0, 0)
            for value in 0..<128 where test.accepts(Unicode.Scalar(UInt8(value))) {
                if value < 64 { bits.0 |= 1 << UInt64(value) } else { bits.1 |= 1 << UInt64(value - 64) }
            }
            ascii = bits
        }

        @inline(__always)
        func accepts(_ scalar: Unicode.Scalar) -> Bool {
            let value = scalar.value
            if value < 64 { return ascii.0 & (1 << UInt64(value)) != 0 }
            if value < 128 { return ascii.1 & (1 << UInt64(value - 64)) != 0 }
            return test.accepts(scalar)
        }
    }

    /// The non-overlapping, non-empty matches in `text`, left to right, as scalar offsets.
    ///
    /// Found as Oniguruma's iteration (which `tokenizers`' Split uses) finds them: each search
    /// starts where the last match ended, and an empty match right there is passed over by
    /// starting one scalar later.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        let machine = Machine(regex: self, text: text)
        var workspace = Machine.Workspace(size: program.count)
        var found: [Range<Int>] = []
        var start = 0
        var lastEnd: Int?
        while start <= text.count, let match = machine.search(program, from: start, in: &workspace) {
            if match.isEmpty, match.upperBound == lastEnd {
                start = match.upperBound + 1
                continue
            }
            if !match.isEmpty { found.append(match) }
            start = match.upperBound
            lastEnd = match.upperBound
        }
        return found
    }

    /// Runs a program over one text: every thread in step, one scalar at a time, so the work is
    /// bounded by the text's length times the program's.
    private final class Machine {
        let regex: TokenizerRegex
        let text: [Unicode.Scalar]
        /// Look-ahead answers by `index * (text.count + 1) + position`.
        private var lookaheadAnswers: [Int: Bool] = [:]
        /// Each look-ahead's own workspace (a look-ahead never runs inside itself).
        private var lookaheadWorkspaces: [Workspace?]

        init(regex: TokenizerRegex, text: [Unicode.Scalar]) {
            self.regex = regex
            self.text = text
            lookaheadWorkspaces = Array(repeating: nil, count: regex.lookaheads.count)
        }

        /// The threads alive at one position, in priority order, each at most once per
        /// instruction (a sparse set over instruction indexes).
        struct Threads {
            private(set) var list: [(instruction: Int, start: Int)] = []
            private var dense: [Int]
            private var sparse: [Int]
            private var members = 0

            init(size: Int) {
                dense = Array(repeating: 0, count: size)
                sparse = Array(repeating: 0, count: size)
                list.reserveCapacity(size)
            }

            var isEmpty: Bool { list.isEmpty }

            /// Marks `instruction` as reached; false when it already was.
            mutating func reach(_ instruction: Int) -> Bool {
                let slot = sparse[instruction]
                if slot < members, dense[slot] == instruction { return false }
                sparse[instruction] = members
                dense[members] = instruction
                members += 1
                return true
            }

            mutating func append(_ instruction: Int, start: Int) { list.append((instruction, start)) }

            mutating func clear() {
                list.removeAll(keepingCapacity: true)
                members = 0
            }
        }

        /// The thread lists and the stack one search uses, kept from search to search.
        struct Workspace {
            var current: Threads
            var next: Threads
            var stack: [Int] = []

            init(size: Int) {
                current = Threads(size: size)
                next = Threads(size: size)
            }
        }

        /// The leftmost-first match of `program` starting at `start` or later (`anchored`: at
        /// `start` only, and any match will do: a look-ahead's question).
        func search(_ program: [Instruction], from start: Int, anchored: Bool = false, in space: inout Workspace)
            -> Range<Int>?
        {
            space.current.clear()
            var matched: Range<Int>?
            var position = start
            while true {
                if matched == nil, !anchored || position == start {
                    follow(program, from: 0, start: position, at: position, into: &space.current, stack: &space.stack)
                }
                if space.current.isEmpty {
                    if matched != nil || anchored || position >= text.count { break }
                    space.current.clear()  // instructions reached without a thread (a failed assertion)
                    position += 1
                    continue
                }
                space.next.clear()
                let scalar = position < text.count ? text[position] : nil
                threads: for (instruction, threadStart) in space.current.list {
                    switch program[instruction] {
                    case .match:
                        matched = threadStart..<position
                        if anchored { return matched }
                        break threads  // the threads after this one have lower priority
                    case .scalar(let expected):
                        if scalar == expected {
                            follow(
                                program, from: instruction + 1, start: threadStart, at: position + 1,
                                into: &space.next, stack: &space.stack)
                        }
                    case .test(let index):
                        if let scalar, regex.tests[index].accepts(scalar) {
                            follow(
                                program, from: instruction + 1, start: threadStart, at: position + 1,
                                into: &space.next, stack: &space.stack)
                        }
                    default: break
                    }
                }
                if position >= text.count { break }
                swap(&space.current, &space.next)
                position += 1
            }
            return matched
        }

        /// Adds the threads `instruction` leads to without consuming, at `position`, in
        /// priority order (a depth-first walk; an instruction already reached keeps the earlier,
        /// higher-priority thread).
        private func follow(
            _ program: [Instruction], from instruction: Int, start: Int, at position: Int, into threads: inout Threads,
            stack: inout [Int]
        ) {
            stack.append(instruction)
            while let instruction = stack.popLast() {
                guard threads.reach(instruction) else { continue }
                switch program[instruction] {
                case .jump(let target): stack.append(target)
                case .split(let preferred, let other):
                    stack.append(other)
                    stack.append(preferred)
                case .assert(let assertion):
                    if holds(assertion, at: position) { stack.append(instruction + 1) }
                case .lookahead(let index, let negated):
                    if lookahead(index, at: position) != negated { stack.append(instruction + 1) }
                case .scalar, .test, .match: threads.append(instruction, start: start)
                }
            }
        }

        private func holds(_ assertion: Assertion, at position: Int) -> Bool {
            switch assertion {
            case .lineStart: return position == 0 || text[position - 1] == "\n"
            case .lineEnd: return position == text.count || text[position] == "\n"
            case .textStart: return position == 0
            case .textEnd: return position == text.count
            case .textEndOrFinalNewline:
                return position == text.count || (position == text.count - 1 && text[position] == "\n")
            case .wordBoundary, .notWordBoundary:
                let before = position > 0 && ScalarTest.Property.isWord(text[position - 1])
                let after = position < text.count && ScalarTest.Property.isWord(text[position])
                return (before != after) == (assertion == .wordBoundary)
            }
        }

        private func lookahead(_ index: Int, at position: Int) -> Bool {
            let key = index * (text.count + 1) + position
            if let answer = lookaheadAnswers[key] { return answer }
            let program = regex.lookaheads[index]
            var space = lookaheadWorkspaces[index] ?? Workspace(size: program.count)
            lookaheadWorkspaces[index] = nil  // so the search does not copy it
            let answer = search(program, from: position, anchored: true, in: &space) != nil
            lookaheadWorkspaces[index] = space
            lookaheadAnswers[key] = answer
            return answer
        }
    }
}
