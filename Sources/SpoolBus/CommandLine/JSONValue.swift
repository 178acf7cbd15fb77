/// A JSON value, written by hand: the library has no Foundation, and `--json` needs only
/// writing. Text that is bytes (names, paths) goes in with `bytes(_:)`, which keeps any name
/// exact (see `JSONValue.fields(_:_:)`).
enum JSONValue {
    case string(String)
    case number(Int64)
    case bool(Bool)
    case null
    case array([JSONValue])
    /// Keys in the order given.
    case object([(String, JSONValue)])

    /// `key` and, when `value` is not valid UTF-8, `key_base64` too: `key` then holds the text
    /// with U+FFFD for the bytes that are not UTF-8 (for people), `key_base64` the exact bytes
    /// (for scripts). A valid UTF-8 value is `key` alone, exact: every escape JSON makes there
    /// is undone by any JSON parser.
    static func fields(_ key: String, _ value: Bytes) -> [(String, JSONValue)] {
        if let valid = String(validating: value, as: UTF8.self) { return [(key, .string(valid))] }
        return [(key, .string(String(decoding: value, as: UTF8.self))), (key + "_base64", .string(Base64.encode(value)))]
    }

    /// The document on one line, newline included.
    var line: Bytes {
        var out = Bytes()
        write(to: &out)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    func write(to out: inout Bytes) {
        switch self {
        case .string(let text): Self.writeString(text, to: &out)
        case .number(let number): out += String(number).utf8
        case .bool(let flag): out += (flag ? "true" : "false").utf8
        case .null: out += "null".utf8
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(member.0, to: &out)
                out.append(UInt8(ascii: ":"))
                member.1.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ text: String, to out: inout Bytes) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += "\\\"".utf8
            case UInt8(ascii: "\\"): out += "\\\\".utf8
            case 0x0A: out += "\\n".utf8
            case 0x09: out += "\\t".utf8
            case 0x00..<0x20, 0x7F:
                let digits = Array("0123456789abcdef".utf8)
                out += "\\u00".utf8
                out += [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Standard base64 (RFC 4648, with padding), as `base64 -d` reads it.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: Bytes) -> String {
        var out = Bytes()
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var group: UInt32 = 0
            for offset in 0..<3 { group = group << 8 | UInt32(offset < count ? bytes[index + offset] : 0) }
            for position in 0..<4 {
                out.append(position <= count ? alphabet[Int(group >> UInt32(18 - 6 * position) & 0x3F)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
