/// Message ids: the daemon's start time in milliseconds as 12 hex digits, a dash, and a
/// 6-digit counter (`0193b1f0c2a1-000001`). Ids sort by arrival, within a run and across
/// restarts, because each run starts past every id it finds in its spool.
struct MessageIDGenerator {
    private var prefix: Int64
    private var counter = 0

    /// `notBefore`: the largest prefix found in the spool's state, so a clock that went back
    /// still yields ids that sort after the old ones.
    init(now: Int64, notBefore: Int64?) {
        prefix = max(now, (notBefore ?? 0) + 1)
    }

    mutating func next() -> Bytes {
        counter += 1
        if counter > 999_999 {
            // Six digits keep the ids fixed-width, so the text order is the arrival order.
            prefix = max(WallClock.milliseconds(), prefix + 1)
            counter = 1
        }
        return MessageIDGenerator.format(prefix: prefix, counter: counter)
    }

    static func format(prefix: Int64, counter: Int) -> Bytes {
        var hex = Bytes(String(prefix, radix: 16).utf8)
        if hex.count < 12 { hex = Bytes(repeating: UInt8(ascii: "0"), count: 12 - hex.count) + hex }
        var digits = Bytes(String(counter).utf8)
        if digits.count < 6 { digits = Bytes(repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits }
        return hex + [UInt8(ascii: "-")] + digits
    }

    /// The prefix of an id, or nil when `id` is not one.
    static func prefix(of id: Bytes) -> Int64? {
        guard id.count >= 19, id[12] == UInt8(ascii: "-") else { return nil }
        return Int64(String(decoding: id[..<12], as: UTF8.self), radix: 16)
    }
}
