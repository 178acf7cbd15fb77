/// The `%XX` escape that names in `work/`, worker requests and MQTT topics share: a byte written
/// as `%` and two upper-case hex digits, so each byte has one spelling.
enum PercentEscape {
    private static let digits = Array("0123456789ABCDEF".utf8)

    /// Appends `%XX` for `byte`.
    static func append(_ byte: UInt8, to out: inout Bytes) {
        out += [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
    }

    /// A hex digit's value; lower-case digits count too unless `upperCaseOnly` (where a byte
    /// must have one spelling, as in names in `work/`).
    static func digitValue(_ digit: UInt8, upperCaseOnly: Bool = false) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f") where !upperCaseOnly: return digit - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
