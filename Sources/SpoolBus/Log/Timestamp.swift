import Synchronization

/// RFC 3339 UTC timestamps with milliseconds, e.g. `2026-11-21T22:40:16.120Z`.
enum Timestamp {
    /// The text up to the seconds, for the last second formatted: a busy log writes thousands of
    /// lines a second, and the calendar needs working out once per second, not once per line.
    /// (Locked: `swift:log` formats lines on the handlers' threads too.)
    private static let cache = Mutex<(second: Int64, prefix: Bytes)>((-1, []))

    /// Appends the timestamp to `out`: what a log line starts with, without a string of its own.
    static func appendRFC3339(millisecondsSinceEpoch ms: Int64, to out: inout Bytes) {
        let second = ms / 1000
        cache.withLock { cached in
            if cached.second != second { cached = (second, secondsText(second)) }
            out += cached.prefix
        }
        appendDigits(Int(ms % 1000), width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// `2026-11-21T22:40:16.`
    private static func secondsText(_ second: Int64) -> Bytes {
        let parts = WallClock.utcFields(secondsSinceEpoch: second)
        var out = Bytes()
        out.reserveCapacity(24)
        appendDigits(parts.year, width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(parts.month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        appendDigits(parts.day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        appendDigits(parts.hour, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(parts.minute, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendDigits(parts.second, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        return out
    }

    private static func appendDigits(_ value: Int, width: Int, to out: inout Bytes) {
        let start = out.count
        for _ in 0..<width { out.append(UInt8(ascii: "0")) }
        var rest = value
        for index in stride(from: start + width - 1, through: start, by: -1) {
            out[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
    }
}
