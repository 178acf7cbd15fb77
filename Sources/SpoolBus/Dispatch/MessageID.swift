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
        // Written digit by digit into one array: an id is made for every message, and the
        // strings and arrays of a `String(radix:)` and its padding were half a dozen allocations.
        let hexDigits: StaticString = "0123456789abcdef"
        var id = Bytes(repeating: UInt8(ascii: "0"), count: 19)
        id[12] = UInt8(ascii: "-")
        var value = UInt64(prefix)
        var index = 11
        while value > 0 && index >= 0 {
            id[index] = hexDigits.utf8Start[Int(value & 0xF)]
            value >>= 4
            index -= 1
        }
        var number = counter
        var place = 18
        while number > 0 && place > 12 {
            id[place] = UInt8(ascii: "0") + UInt8(number % 10)
            number /= 10
            place -= 1
        }
        // Past 12 hex digits (the year 10889): the id grows rather than wraps.
        return value > 0 ? Bytes(String(prefix, radix: 16).utf8) + id[12...] : id
    }

    /// The prefix of an id, or nil when `id` is not one.
    static func prefix(of id: Bytes) -> Int64? {
        guard id.count >= 19, id[12] == UInt8(ascii: "-") else { return nil }
        return Int64(String(decoding: id[..<12], as: UTF8.self), radix: 16)
    }
}
