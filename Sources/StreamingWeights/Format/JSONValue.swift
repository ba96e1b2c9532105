/// A parsed JSON document that keeps object keys in order and knows integers from other numbers.
///
/// Foundation's `JSONSerialization` keeps the last of two equal keys and loses integer precision
/// past 2^53; a format reader that must reject duplicate tensor names and read 64-bit offsets
/// needs neither, so headers go through ``JSONParser`` instead.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without a fraction or exponent that fits in `Int64`.
    case integer(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    /// Members in the order they were written; keys are unique.
    case object(JSONObject)

    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The integer, when this is an integer.
    public var integerValue: Int64? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { value } else { nil }
    }

    /// The object, when this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { value } else { nil }
    }

    /// A short name for the kind of value, for error messages: `a string`, `an object`, ...
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Compact JSON text for this value, members in order.
    ///
    /// - Precondition: no `.double` is infinite or NaN (JSON cannot spell them).
    public var serialized: String {
        var output = ""
        serialize(into: &output)
        return output
    }

    func serialize(into output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += String(value)
        case .double(let value):
            precondition(value.isFinite, "JSON has no spelling for \(value)")
            output += "\(value)"
        case .string(let value): Self.serialize(string: value, into: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.serialize(into: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { output += "," }
                Self.serialize(string: member.key, into: &output)
                output += ":"
                member.value.serialize(into: &output)
            }
            output += "}"
        }
    }

    private static func serialize(string: String, into output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

/// A JSON object's members in document order, with unique keys.
public struct JSONObject: Sendable, Equatable {
    /// The members in the order they were written or added.
    public private(set) var members: [(key: String, value: JSONValue)] = []
    private var positions: [String: Int] = [:]

    public init() {}

    /// Creates an object from members whose keys the caller knows to be unique.
    ///
    /// - Precondition: no key appears twice.
    public init(_ members: [(String, JSONValue)]) {
        for (key, value) in members {
            precondition(positions[key] == nil, "duplicate key \(key)")
            self[key] = value
        }
    }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// The value for `key`; setting a new key appends it, setting `nil` is not supported.
    public subscript(key: String) -> JSONValue? {
        get { positions[key].map { members[$0].value } }
        set {
            guard let newValue else { preconditionFailure("removing JSON members is not supported") }
            if let position = positions[key] {
                members[position].value = newValue
            } else {
                positions[key] = members.count
                members.append((key, newValue))
            }
        }
    }

    /// Adds a member, or returns `false` when the key is already present.
    mutating func insertNew(key: String, value: JSONValue) -> Bool {
        guard positions[key] == nil else { return false }
        self[key] = value
        return true
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
