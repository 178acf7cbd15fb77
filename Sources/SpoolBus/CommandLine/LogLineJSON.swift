/// `watch --json`: a dispatch-log line as one JSON object, `{"time": …, "verb": …, KEY: VALUE…}`,
/// every value a string unescaped from the log's quoting (a value that is not UTF-8 gets
/// `KEY_base64` beside it, see `JSONValue.fields`), keys in the line's order.
enum LogLineJSON {
    /// The object for `line` (no newline); a line that is not in the log's form is
    /// `{"line": …}`, so nothing the daemon sends is dropped.
    static func object(_ line: Bytes) -> JSONValue {
        guard let (time, verb, fields) = parse(line) else { return .object(JSONValue.fields("line", line)) }
        var members: [(String, JSONValue)] = [("time", .string(text(time))), ("verb", .string(text(verb)))]
        for (key, value) in fields { members += JSONValue.fields(text(key), value) }
        return .object(members)
    }

    /// Timestamp, verb and `key=value` pairs, values unescaped; nil when the line is not a log line.
    static func parse(_ line: Bytes) -> (Bytes, Bytes, [(Bytes, Bytes)])? {
        let space = UInt8(ascii: " ")
        var index = 0
        func word() -> Bytes {
            while index < line.count && line[index] == space { index += 1 }
            let start = index
            while index < line.count && line[index] != space { index += 1 }
            return Bytes(line[start..<index])
        }
        let time = word(), verb = word()
        guard !time.isEmpty, !verb.isEmpty, !verb.contains(UInt8(ascii: "=")) else { return nil }
        var fields: [(Bytes, Bytes)] = []
        while true {
            while index < line.count && line[index] == space { index += 1 }
            guard index < line.count else { break }
            guard let equals = line[index...].firstIndex(of: UInt8(ascii: "=")) else { return nil }
            let key = Bytes(line[index..<equals])
            guard !key.isEmpty, !key.contains(space) else { return nil }
            index = equals + 1
            if index < line.count && line[index] == UInt8(ascii: "\"") {
                guard let (value, end) = ControlWords.quoted(line, from: index + 1) else { return nil }
                fields.append((key, value))
                index = end
            } else {
                fields.append((key, word()))
            }
        }
        return (time, verb, fields)
    }
}
