/// Words written so that a shell (bash, zsh, ksh) reads them back byte for byte: how
/// `spoolbus explain` shows the argv a handler would get, whatever bytes a name holds.
enum ShellQuoting {
    /// `inbox/a.msg` bare; `'a b'` in single quotes; `$'\xff.msg'` in ANSI-C quotes when the
    /// word holds a control byte or is not valid UTF-8; `''` when empty.
    static func quote(_ word: Bytes) -> String {
        if word.isEmpty { return "''" }
        // A word starting with `=` is a command's path to zsh (`=ls` is `/usr/bin/ls`).
        if word.allSatisfy(isBare) && word.first != UInt8(ascii: "=") { return String(decoding: word, as: UTF8.self) }
        if let text = printableText(word) {
            return "'" + text.replacingSingleQuotes() + "'"
        }
        var text = "$'"
        var index = 0
        while index < word.count {
            let byte = word[index]
            switch byte {
            case UInt8(ascii: "\\"): text += "\\\\"
            case UInt8(ascii: "'"): text += "\\'"
            case 0x0A: text += "\\n"
            case 0x09: text += "\\t"
            case 0x0D: text += "\\r"
            default:
                if let (scalar, length) = printableScalar(in: word, at: index) {
                    text.unicodeScalars.append(scalar)
                    index += length
                    continue
                }
                text += hexEscape(byte)
            }
            index += 1
        }
        return text + "'"
    }

    /// Bytes a shell takes literally anywhere in an unquoted word.
    private static func isBare(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "_-+=%@:,./".utf8.contains(byte)
        }
    }

    /// The word as text when it is valid UTF-8 made only of printable characters.
    private static func printableText(_ word: Bytes) -> String? {
        var index = 0
        while index < word.count {
            guard let (_, length) = printableScalar(in: word, at: index) else { return nil }
            index += length
        }
        return String(decoding: word, as: UTF8.self)
    }

    /// The printable character encoded at `index` and its length in bytes, or nil for a control
    /// character or a byte that does not start valid UTF-8.
    static func printableScalar(in bytes: Bytes, at index: Int) -> (Unicode.Scalar, Int)? {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x20...0x7E: return (Unicode.Scalar(lead), 1)
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return nil
        }
        guard index + length <= bytes.count else { return nil }
        var iterator = bytes[index..<(index + length)].makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        guard case .valid(let encoded) = parser.parseScalar(from: &iterator), encoded.count == length else { return nil }
        let scalar = Unicode.UTF8.decode(encoded)
        // C1 controls, and the line and paragraph separators that would break a line.
        if (0x80...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029 { return nil }
        return (scalar, length)
    }

    static func hexEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}

private extension String {
    /// `it's` → `it'\''s`, for a single-quoted shell word.
    func replacingSingleQuotes() -> String {
        var result = ""
        for character in self {
            if character == "'" { result += "'\\''" } else { result.append(character) }
        }
        return result
    }
}
