/// How a value is written in the dispatch log: bare when it is printable UTF-8 with no space,
/// `"`, `=` or `\`; otherwise in double quotes with `\"`, `\\`, `\n`, `\t` and `\xNN` escapes,
/// so that one event is always one line and `grep name=…` finds plain names as typed.
enum LogEscaping {
    /// `value` as `append` writes it: bare, or quoted with escapes (never a control byte).
    static func escaped(_ value: Bytes) -> Bytes {
        var out = Bytes()
        append(value, to: &out)
        return out
    }

    static func append(_ value: Bytes, to line: inout Bytes) {
        if !value.isEmpty && isBare(value) {
            line += value
            return
        }
        line.append(quote)
        var index = 0
        while index < value.count {
            let byte = value[index]
            switch byte {
            case quote: line += [backslash, quote]
            case backslash: line += [backslash, backslash]
            case 0x0A: line += [backslash, UInt8(ascii: "n")]
            case 0x09: line += [backslash, UInt8(ascii: "t")]
            case 0x20...0x7E: line.append(byte)
            default:
                let length = printableSequenceLength(value, at: index)
                if length > 0 {
                    line += value[index..<(index + length)]
                    index += length
                    continue
                }
                line += hexEscape(byte)
            }
            index += 1
        }
        line.append(quote)
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")

    private static func isBare(_ value: Bytes) -> Bool {
        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte < 0x80 {
                if byte <= 0x20 || byte == 0x7F || byte == quote || byte == backslash || byte == UInt8(ascii: "=") {
                    return false
                }
                index += 1
            } else {
                let length = printableSequenceLength(value, at: index)
                if length == 0 { return false }
                index += length
            }
        }
        return true
    }

    /// The length of the valid, printable multi-byte UTF-8 sequence at `index`, or 0.
    private static func printableSequenceLength(_ value: Bytes, at index: Int) -> Int {
        let lead = value[index]
        let length: Int
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; scalar = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; scalar = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; scalar = UInt32(lead & 0x07)
        default: return 0
        }
        guard index + length <= value.count else { return 0 }
        for offset in 1..<length {
            let continuation = value[index + offset]
            guard continuation & 0xC0 == 0x80 else { return 0 }
            scalar = scalar << 6 | UInt32(continuation & 0x3F)
        }
        let smallest: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
        guard scalar >= smallest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return 0 }
        // C1 controls are not printable.
        if (0x80...0x9F).contains(scalar) { return 0 }
        return length
    }

    private static func hexEscape(_ byte: UInt8) -> Bytes {
        let digits = Array("0123456789abcdef".utf8)
        return [backslash, UInt8(ascii: "x"), digits[Int(byte >> 4)], digits[Int(byte & 0xF)]]
    }
}
