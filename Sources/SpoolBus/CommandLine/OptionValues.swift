/// Option values the table cannot check by itself: numbers, durations, modes, events.
enum OptionValues {
    /// A whole number above 0 (`--jobs 4`, `--max-line 65536`).
    static func positiveInteger(_ value: Bytes, for option: String) throws -> Int {
        guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let number = Int(String(decoding: value, as: UTF8.self)), number > 0 else {
            throw UsageError.invalidValue(value, for: option, expected: "a whole number above 0")
        }
        return number
    }

    /// A size in bytes: a whole number above 0, optionally with `K`, `M` or `G` (powers of
    /// 1024): `10M`, `512K`, `1048576`.
    static func size(_ value: Bytes, for option: String) throws -> Int {
        let units: [UInt8: Int] = [UInt8(ascii: "K"): 1 << 10, UInt8(ascii: "M"): 1 << 20, UInt8(ascii: "G"): 1 << 30]
        let factor = value.last.flatMap { units[$0] } ?? 1
        let digits = factor == 1 ? value : Bytes(value.dropLast())
        guard let number = try? positiveInteger(digits, for: option), number <= Int.max / factor else {
            throw UsageError.invalidValue(value, for: option, expected: "a size like 10M, 512K or 1048576 (bytes)")
        }
        return number * factor
    }

    /// `250ms`, `10s`, `5m`, `1h`, `7d`.
    static func duration(_ value: Bytes, for option: String) throws -> Duration {
        guard let text = String(validating: value, as: UTF8.self), let duration = parseDuration(text) else {
            throw UsageError.invalidValue(value, for: option, expected: "a duration like 250ms, 10s, 5m or 1h")
        }
        return duration
    }

    /// Permission bits in octal, `0600` or `600`.
    static func octalMode(_ value: Bytes, for option: String) throws -> UInt32 {
        guard !value.isEmpty, value.count <= 4, value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }),
              let mode = UInt32(String(decoding: value, as: UTF8.self), radix: 8), mode <= 0o777 else {
            throw UsageError.invalidValue(value, for: option, expected: "an octal mode like 0600")
        }
        return mode
    }

    /// `file`, `fifo`, `socket`, `node` or `gone`.
    static func event(_ value: Bytes, for option: String) throws -> EventKind {
        let text = String(decoding: value, as: UTF8.self)
        guard let event = EventKind(rawValue: text) else {
            let names = EventKind.allCases.map(\.rawValue)
            throw UsageError.invalidValue(value, for: option, expected: EventKind.listed,
                                          suggestion: DidYouMean.closest(to: text, among: names))
        }
        return event
    }
}
