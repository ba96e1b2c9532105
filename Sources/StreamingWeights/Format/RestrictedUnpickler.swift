/// A pickle reader that understands exactly what a PyTorch state dict is made of, and nothing else.
///
/// It interprets the opcodes of pickle protocols 2 to 5 that build containers and scalars, and
/// recognises a fixed set of globals — `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
/// `torch._utils._rebuild_parameter` and the typed storage classes — as data constructors. Any
/// other global (`os.system`, `builtins.eval`, ...) is an error naming it, raised when the
/// opcode is read; nothing is ever called or executed. Persistent ids are PyTorch's storage
/// references, `('storage', StorageType, key, location, numel)`.
struct RestrictedUnpickler {
    /// What the pickle builds.
    indirect enum Value {
        case none
        case bool(Bool)
        case integer(Int64)
        case double(Double)
        case string(String)
        case bytes([UInt8])
        case tuple([Value])
        case list([Value])
        case dictionary([(Value, Value)])
        /// A recognised global, not yet applied.
        case global(String)
        /// A storage reference from a persistent id.
        case storage(key: String, dtype: DType)
        /// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`.
        case tensor(storageKey: String, dtype: DType, offset: Int, shape: [Int], strides: [Int])
        /// The MARK pushed by `(`.
        case mark
    }

    /// Storage class names and their element types.
    static let storageTypes: [String: DType] = [
        "torch.FloatStorage": .float32, "torch.HalfStorage": .float16, "torch.BFloat16Storage": .bfloat16,
        "torch.DoubleStorage": .float64, "torch.LongStorage": .int64, "torch.IntStorage": .int32,
        "torch.ShortStorage": .int16, "torch.CharStorage": .int8, "torch.ByteStorage": .uint8,
        "torch.BoolStorage": .bool,
    ]
    static let constructors: Set<String> = [
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    ]

    /// The most values the stack and memo may hold, so hostile input cannot exhaust memory.
    static let maximumItems = 10_000_000

    let source: String

    /// Interprets `bytes` and returns the value left by STOP.
    func load(_ bytes: UnsafeRawBufferPointer) throws -> Value {
        var stack: [Value] = []
        var memo: [Int: Value] = [:]
        var position = 0

        func fail(_ problem: String) -> PyTorchCheckpointError {
            .malformedPickle(file: source, problem: "\(problem) (at byte \(position))")
        }
        func take(_ count: Int) throws -> UnsafeRawBufferPointer {
            // Compared without adding: a length read from the pickle may be near Int.max.
            guard count >= 0, count <= bytes.count - position else { throw fail("the pickle ends early") }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
        }
        func unsigned(_ count: Int) throws -> Int {
            let raw = try take(count)
            var value = 0
            for (index, byte) in raw.enumerated() { value |= Int(byte) << (8 * index) }
            return value
        }
        func pop() throws -> Value {
            guard let value = stack.popLast() else { throw fail("the stack is empty") }
            return value
        }
        func popToMark() throws -> [Value] {
            guard let markIndex = stack.lastIndex(where: { if case .mark = $0 { true } else { false } }) else {
                throw fail("no MARK on the stack")
            }
            let items = Array(stack[(markIndex + 1)...])
            stack.removeSubrange(markIndex...)
            return items
        }
        func push(_ value: Value) throws {
            guard stack.count < Self.maximumItems else { throw fail("the pickle builds too many values") }
            stack.append(value)
        }
        func string(_ raw: UnsafeRawBufferPointer) throws -> String {
            guard let text = String(validating: raw, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
            return text
        }
        func global(_ module: String, _ name: String) throws -> Value {
            let qualified = module + "." + name
            guard Self.constructors.contains(qualified) || Self.storageTypes[qualified] != nil else {
                throw PyTorchCheckpointError.forbiddenGlobal(qualified, file: source)
            }
            return .global(qualified)
        }
        func setItems(_ items: [Value], into target: Value) throws -> Value {
            guard case .dictionary(var pairs) = target else { throw fail("SETITEMS on something that is not a dict") }
            guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
            for index in stride(from: 0, to: items.count, by: 2) { pairs.append((items[index], items[index + 1])) }
            return .dictionary(pairs)
        }
        func integers(_ value: Value) throws -> [Int] {
            guard case .tuple(let items) = value else { throw fail("a tensor size or stride is not a tuple") }
            return try items.map { item in
                guard case .integer(let number) = item, number >= 0, number <= Int64(Int32.max) * 1024 else {
                    throw fail("a tensor size or stride is not a non-negative integer")
                }
                return Int(number)
            }
        }
        func reduce(_ callable: Value, _ arguments: Value) throws -> Value {
            guard case .global(let name) = callable, case .tuple(let args) = arguments else {
                throw fail("REDUCE on something that is not a recognised constructor")
            }
            switch name {
            case "collections.OrderedDict":
                guard args.isEmpty else { throw fail("OrderedDict with arguments") }
                return .dictionary([])
            case "torch._utils._rebuild_tensor_v2":
                guard args.count >= 4, case .storage(let key, let dtype) = args[0], case .integer(let offset) = args[1],
                    offset >= 0
                else { throw fail("_rebuild_tensor_v2 without a storage and an offset") }
                let shape = try integers(args[2])
                let strides = try integers(args[3])
                guard shape.count == strides.count else { throw fail("a tensor's size and stride differ in length") }
                return .tensor(storageKey: key, dtype: dtype, offset: Int(offset), shape: shape, strides: strides)
            case "torch._utils._rebuild_parameter":
                guard let first = args.first, case .tensor = first else {
                    throw fail("_rebuild_parameter without a tensor")
                }
                return first
            default:
                throw fail("\(name) cannot be called")
            }
        }

        while true {
            let opcode = try unsigned(1)
            switch opcode {
            case 0x80: _ = try unsigned(1)  // PROTO
            case 0x95: _ = try unsigned(8)  // FRAME
            case 0x2e:  // STOP
                guard let result = stack.popLast() else { throw fail("STOP with an empty stack") }
                return result
            case 0x7d: try push(.dictionary([]))  // EMPTY_DICT
            case 0x5d: try push(.list([]))  // EMPTY_LIST
            case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
            case 0x28: try push(.mark)  // MARK
            case 0x4e: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4b: try push(.integer(Int64(try unsigned(1))))  // BININT1
            case 0x4d: try push(.integer(Int64(try unsigned(2))))  // BININT2
            case 0x4a: try push(.integer(Int64(Int32(truncatingIfNeeded: try unsigned(4)))))  // BININT
            case 0x8a:  // LONG1
                let count = try unsigned(1)
                guard count <= 8 else { throw fail("an integer wider than 64 bits") }
                let raw = try take(count)
                var value: UInt64 = 0
                for (index, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
                if count > 0, count < 8, raw[count - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(count)) }
                try push(.integer(Int64(bitPattern: value)))
            case 0x47:  // BINFLOAT, big-endian
                let raw = try take(8)
                var bits: UInt64 = 0
                for byte in raw { bits = bits << 8 | UInt64(byte) }
                try push(.double(Double(bitPattern: bits)))
            case 0x58: try push(.string(try string(try take(try unsigned(4)))))  // BINUNICODE
            case 0x8c: try push(.string(try string(try take(try unsigned(1)))))  // SHORT_BINUNICODE
            case 0x8d: try push(.string(try string(try take(try unsigned(8)))))  // BINUNICODE8
            case 0x43: try push(.bytes(Array(try take(try unsigned(1)))))  // SHORT_BINBYTES
            case 0x42: try push(.bytes(Array(try take(try unsigned(4)))))  // BINBYTES
            case 0x63:  // GLOBAL: "module\nname\n"
                func line() throws -> String {
                    guard let newline = bytes[position...].firstIndex(of: 0x0a) else {
                        throw fail("GLOBAL without a newline")
                    }
                    defer { position = newline + 1 }
                    return try string(UnsafeRawBufferPointer(rebasing: bytes[position..<newline]))
                }
                let module = try line()
                try push(try global(module, try line()))
            case 0x93:  // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case .string(let moduleName) = module, case .string(let globalName) = name else {
                    throw fail("STACK_GLOBAL without two strings")
                }
                try push(try global(moduleName, globalName))
            case 0x71: memo[try unsigned(1)] = stack.last  // BINPUT
            case 0x72: memo[try unsigned(4)] = stack.last  // LONG_BINPUT
            case 0x94:  // MEMOIZE
                guard memo.count < Self.maximumItems else { throw fail("the memo grows too large") }
                memo[memo.count] = stack.last
            case 0x68, 0x6a:  // BINGET, LONG_BINGET
                let key = try unsigned(opcode == 0x68 ? 1 : 4)
                guard let value = memo[key] else { throw fail("memo entry \(key) is not set") }
                try push(value)
            case 0x74: try push(.tuple(try popToMark()))  // TUPLE
            case 0x85: try push(.tuple([try pop()]))  // TUPLE1
            case 0x86:  // TUPLE2
                let second = try pop()
                try push(.tuple([try pop(), second]))
            case 0x87:  // TUPLE3
                let third = try pop()
                let second = try pop()
                try push(.tuple([try pop(), second, third]))
            case 0x61:  // APPEND
                let item = try pop()
                guard case .list(var items) = try pop() else { throw fail("APPEND to something that is not a list") }
                items.append(item)
                try push(.list(items))
            case 0x65:  // APPENDS
                let items = try popToMark()
                guard case .list(var list) = try pop() else { throw fail("APPENDS to something that is not a list") }
                list += items
                try push(.list(list))
            case 0x73:  // SETITEM
                let value = try pop()
                let key = try pop()
                try push(try setItems([key, value], into: try pop()))
            case 0x75:  // SETITEMS
                let items = try popToMark()
                try push(try setItems(items, into: try pop()))
            case 0x52:  // REDUCE
                let arguments = try pop()
                try push(try reduce(try pop(), arguments))
            case 0x62:  // BUILD: state for an object; a state dict's only object is the dict itself.
                _ = try pop()
            case 0x51:  // BINPERSID
                guard case .tuple(let items) = try pop(), items.count == 5, case .string("storage") = items[0],
                    case .global(let typeName) = items[1], let dtype = Self.storageTypes[typeName],
                    case .string(let key) = items[2]
                else { throw fail("a persistent id that is not a PyTorch storage reference") }
                try push(.storage(key: key, dtype: dtype))
            default:
                throw PyTorchCheckpointError.unsupportedOpcode(UInt8(opcode), file: source, offset: position - 1)
            }
        }
    }
}
