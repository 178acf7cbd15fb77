/// Durations as written in rules and on the command line: `250ms`, `10s`, `5m`, `1h`, `7d` — ASCII
/// digits and one unit, nothing else (no sign, no spaces, no fraction, no unit mix). Zero is
/// accepted; whether it makes sense is the caller's call. `nil` for anything else or an overflow.
public func parseDuration(_ text: some StringProtocol) -> Duration? {
    parseDuration(Array(text.utf8))
}

/// ``parseDuration(_:)-(StringProtocol)`` over bytes.
public func parseDuration(_ bytes: [UInt8]) -> Duration? {
    var digitCount = 0
    var value: Int64 = 0
    for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
        if overflow1 || overflow2 { return nil }
        value = sum
        digitCount += 1
    }
    guard digitCount > 0 else { return nil }
    let unit = bytes[digitCount...]
    switch String(decoding: unit, as: UTF8.self) {
    case "ms": return .milliseconds(value)
    case "s": return .seconds(value)
    case "m": return scaledSeconds(value, by: 60)
    case "h": return scaledSeconds(value, by: 3600)
    case "d": return scaledSeconds(value, by: 86400)
    default: return nil
    }
}

private func scaledSeconds(_ value: Int64, by factor: Int64) -> Duration? {
    let (seconds, overflow) = value.multipliedReportingOverflow(by: factor)
    return overflow ? nil : .seconds(seconds)
}

/// The shortest exact spelling among the units `d`, `h`, `m`, `s`, `ms`: `1s`, `250ms`, `5m`, `1h`,
/// `1500ms`, `90s`, `0s`, `7d`, `36h`. A negative duration gets a leading `-`. A duration that is not a whole
/// number of milliseconds falls back to `us` or `ns` (exact, but not something `parseDuration` reads).
public func formatDuration(_ d: Duration) -> String {
    let (seconds, attoseconds) = d.components
    let total = Int128(seconds) * 1_000_000_000_000_000_000 + Int128(attoseconds)
    if total == 0 { return "0s" }
    let sign = total < 0 ? "-" : ""
    let magnitude = total < 0 ? -total : total
    let units: [(Int128, String)] = [
        (86400 * 1_000_000_000_000_000_000, "d"),
        (3600 * 1_000_000_000_000_000_000, "h"),
        (60 * 1_000_000_000_000_000_000, "m"),
        (1_000_000_000_000_000_000, "s"),
        (1_000_000_000_000_000, "ms"),
        (1_000_000_000_000, "us"),
        (1_000_000_000, "ns"),
    ]
    for (size, name) in units where magnitude % size == 0 {
        return sign + String(magnitude / size) + name
    }
    // Below a nanosecond: Duration's own attosecond precision, rarely if ever seen.
    return sign + String(magnitude) + "as"
}
