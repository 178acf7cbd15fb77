import Glibc

/// One parsed dispatch-log line: `TIMESTAMP VERB key=value …`, values unescaped to raw bytes.
struct LogLine: CustomStringConvertible {
    let raw: Bytes
    let timestamp: String
    let verb: String
    let fields: [(key: String, value: Bytes)]

    /// The value of `key` as text (lossy for bytes that are not UTF-8); nil when absent.
    subscript(key: String) -> String? { bytes(key)?.lossy }

    /// The exact bytes of `key`'s value; nil when absent.
    func bytes(_ key: String) -> Bytes? { fields.first { $0.key == key }?.value }

    /// The text of the raw line, as written.
    var description: String { raw.lossy }

    /// The timestamp in milliseconds since the epoch, nil when it is not RFC 3339 UTC with ms.
    var milliseconds: Int64? {
        let t = Array(timestamp.utf8)
        guard t.count == 24, t[4] == 45, t[7] == 45, t[10] == 84, t[13] == 58, t[16] == 58,
              t[19] == 46, t[23] == 90 else { return nil }
        func number(_ from: Int, _ length: Int) -> Int32? { Int32(String(decoding: t[from..<(from + length)], as: UTF8.self)) }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              let millis = number(20, 3) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int64(timegm(&parts)) * 1000 + Int64(millis)
    }

    /// Parses one line (without its newline); nil when it does not follow the log format.
    static func parse(_ line: Bytes) -> LogLine? {
        var index = 0
        func word() -> Bytes {
            let start = index
            while index < line.count && line[index] != 32 { index += 1 }
            return Array(line[start..<index])
        }
        func skipSpaces() { while index < line.count && line[index] == 32 { index += 1 } }

        let timestamp = word()
        skipSpaces()
        let verb = word()
        guard !timestamp.isEmpty, !verb.isEmpty else { return nil }
        var fields: [(key: String, value: Bytes)] = []
        while true {
            skipSpaces()
            if index >= line.count { break }
            let keyStart = index
            while index < line.count && line[index] != 61 {
                if line[index] == 32 || line[index] == 34 { return nil }
                index += 1
            }
            guard index < line.count, index > keyStart else { return nil }
            let key = String(decoding: line[keyStart..<index], as: UTF8.self)
            index += 1
            var value: Bytes = []
            if index < line.count && line[index] == 34 {
                index += 1
                var closed = false
                while index < line.count {
                    let byte = line[index]
                    index += 1
                    if byte == 34 { closed = true; break }
                    guard byte == 92 else { value.append(byte); continue }
                    guard index < line.count else { return nil }
                    let escape = line[index]
                    index += 1
                    switch escape {
                    case 110: value.append(10)
                    case 116: value.append(9)
                    case 114: value.append(13)
                    case 34, 92: value.append(escape)
                    case 120:
                        guard index + 2 <= line.count,
                              let byte = UInt8(String(decoding: line[index..<(index + 2)], as: UTF8.self), radix: 16)
                        else { return nil }
                        value.append(byte)
                        index += 2
                    default: return nil
                    }
                }
                guard closed, index == line.count || line[index] == 32 else { return nil }
            } else {
                value = word()
            }
            fields.append((key, value))
        }
        return LogLine(raw: line, timestamp: timestamp.lossy, verb: verb.lossy, fields: fields)
    }
}

/// The dispatch log file, read afresh on every question.
struct DispatchLog {
    let path: String

    /// Every complete line (a last line without its newline is still being written).
    var rawLines: [Bytes] {
        guard var content = Files.read(path) else { return [] }
        if let lastNewline = content.lastIndex(of: 10) {
            content.removeSubrange((lastNewline + 1)...)
        } else {
            content = []
        }
        return content.pieces(separatedBy: 10)
    }

    /// Every complete line that parses.
    var lines: [LogLine] { rawLines.compactMap(LogLine.parse) }

    func lines(_ verb: String) -> [LogLine] { lines.filter { $0.verb == verb } }

    func lines(_ verb: String, id: String) -> [LogLine] { lines.filter { $0.verb == verb && $0["id"] == id } }

    /// Every line about message `id`, in order.
    func story(of id: String) -> [LogLine] { lines.filter { $0["id"] == id } }

    /// The ids of `recv` lines for the message named `name`, in order.
    func ids(of name: Bytes) -> [String] {
        lines("recv").filter { $0.bytes("name") == name }.compactMap { $0["id"] }
    }

    func ids(of name: String) -> [String] { ids(of: Bytes(text: name)) }

    /// The last `count` raw lines, for failure messages.
    func tail(_ count: Int) -> String {
        rawLines.suffix(count).map { $0.lossy }.joined(separator: "\n")
    }
}
