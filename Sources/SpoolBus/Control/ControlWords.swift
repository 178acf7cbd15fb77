/// The words of a control-socket line: separated by spaces, each written bare or, when it holds
/// a space, a quote, `=`, a backslash or a byte that is not printable UTF-8, in double quotes
/// with the dispatch log's escapes (`\"`, `\\`, `\n`, `\t`, `\xNN`). A message name is bytes,
/// so `retry` can name any dead letter exactly, and a person can type plain names as they are.
enum ControlWords {
    /// One line of words, newline included.
    static func line(_ words: [Bytes]) -> Bytes {
        var line = Bytes()
        for (index, word) in words.enumerated() {
            if index > 0 { line.append(space) }
            LogEscaping.append(word, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// A value as `LogEscaping` wrote it (bare, or quoted with escapes), unescaped; nil when a
    /// quoted value is malformed.
    static func unescaped(_ value: Bytes) -> Bytes? {
        guard value.first == quote else { return value }
        guard let (word, end) = quoted(value, from: 1), end == value.count else { return nil }
        return word
    }

    /// The words of `line` (no newline), or nil when a quote is unterminated or an escape is
    /// malformed.
    static func split(_ line: Bytes) -> [Bytes]? {
        var words: [Bytes] = []
        var index = 0
        while index < line.count {
            if line[index] == space || line[index] == tab || line[index] == 0x0D {
                index += 1
                continue
            }
            if line[index] == quote {
                guard let (word, end) = quoted(line, from: index + 1) else { return nil }
                words.append(word)
                index = end
            } else {
                var end = index
                while end < line.count && line[end] != space && line[end] != tab && line[end] != 0x0D { end += 1 }
                words.append(Bytes(line[index..<end]))
                index = end
            }
        }
        return words
    }

    /// A quoted word starting after its opening quote: the word and the index after its
    /// closing quote.
    static func quoted(_ line: Bytes, from start: Int) -> (Bytes, Int)? {
        var word = Bytes()
        var index = start
        while index < line.count {
            let byte = line[index]
            if byte == quote { return (word, index + 1) }
            guard byte == backslash else {
                word.append(byte)
                index += 1
                continue
            }
            guard index + 1 < line.count else { return nil }
            switch line[index + 1] {
            case quote: word.append(quote)
            case backslash: word.append(backslash)
            case UInt8(ascii: "n"): word.append(0x0A)
            case UInt8(ascii: "t"): word.append(0x09)
            case UInt8(ascii: "x"):
                guard index + 3 < line.count, let high = PercentEscape.digitValue(line[index + 2]), let low = PercentEscape.digitValue(line[index + 3]) else {
                    return nil
                }
                word.append(high << 4 | low)
                index += 2
            default: return nil
            }
            index += 2
        }
        return nil
    }

    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
}
