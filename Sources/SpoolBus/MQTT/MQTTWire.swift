/// Why bytes from a broker are not a valid MQTT 5 packet. Every malformed input ends here, as
/// an error the connection logs before it hangs up; none traps or waits for bytes that never come.
struct MQTTDecodeError: Error, Equatable, CustomStringConvertible {
    let reason: String

    init(_ reason: String) { self.reason = reason }

    var description: String { "malformed MQTT packet: " + reason }
}

/// Builds the bytes of a packet: MQTT's integers, variable byte integers, strings and binary data.
struct MQTTWriter {
    private(set) var bytes: Bytes = []

    /// The largest value a variable byte integer holds (four bytes of seven bits).
    static let largestVariableInteger = 268_435_455

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func twoBytes(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func fourBytes(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((value >> UInt32(shift)) & 0xFF)) }
    }

    mutating func variableInteger(_ value: Int) {
        precondition(value >= 0 && value <= Self.largestVariableInteger, "variable byte integer out of range")
        var rest = value
        repeat {
            var digit = UInt8(rest % 128)
            rest /= 128
            if rest > 0 { digit |= 0x80 }
            bytes.append(digit)
        } while rest > 0
    }

    /// A UTF-8 string: two bytes of length, then the bytes. The callers hand only text that is
    /// valid MQTT (topics are escaped before they get here).
    mutating func string(_ text: Bytes) {
        binary(text)
    }

    mutating func binary(_ data: Bytes) {
        precondition(data.count <= 0xFFFF, "MQTT string or binary data longer than 65535 bytes")
        twoBytes(UInt16(data.count))
        bytes += data
    }

    mutating func append(_ other: Bytes) { bytes += other }
}

/// Reads a packet's fields, each checked against what is left: reading past the end is a
/// `MQTTDecodeError`, never a trap.
struct MQTTReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var isAtEnd: Bool { index >= bytes.endIndex }
    var remaining: Int { bytes.endIndex - index }

    mutating func byte() throws -> UInt8 {
        guard index < bytes.endIndex else { throw MQTTDecodeError("truncated: a byte is missing") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func twoBytes() throws -> UInt16 {
        let high = try byte(), low = try byte()
        return UInt16(high) << 8 | UInt16(low)
    }

    mutating func fourBytes() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(try byte()) }
        return value
    }

    mutating func variableInteger() throws -> Int {
        var value = 0, multiplier = 1
        for position in 0..<4 {
            let digit = try byte()
            value += Int(digit & 0x7F) * multiplier
            if digit & 0x80 == 0 {
                // The shortest encoding only: a trailing zero digit is another way to write the
                // same number, which MQTT 5 forbids (1.5.5).
                if position > 0 && digit == 0 { throw MQTTDecodeError("variable byte integer not in its shortest form") }
                return value
            }
            multiplier *= 128
        }
        throw MQTTDecodeError("variable byte integer longer than four bytes")
    }

    mutating func take(_ count: Int) throws -> Bytes {
        guard count >= 0, count <= remaining else { throw MQTTDecodeError("truncated: \(count) bytes announced, \(remaining) left") }
        defer { index += count }
        return Bytes(bytes[index..<(index + count)])
    }

    mutating func binary() throws -> Bytes {
        try take(Int(try twoBytes()))
    }

    /// A UTF-8 string as MQTT 5 defines it (1.5.4): well-formed UTF-8 with no NUL.
    mutating func string() throws -> Bytes {
        let text = try binary()
        guard MQTTText.isValidString(text) else { throw MQTTDecodeError("string is not valid UTF-8 or holds a NUL") }
        return text
    }

    /// What is left, for a payload.
    mutating func rest() -> Bytes {
        defer { index = bytes.endIndex }
        return Bytes(bytes[index...])
    }
}

/// What MQTT accepts as text.
enum MQTTText {
    /// Well-formed UTF-8 without U+0000 (MQTT 5, 1.5.4). Surrogates are already ill-formed UTF-8.
    static func isValidString(_ bytes: Bytes) -> Bool {
        !bytes.contains(0) && String(validating: bytes, as: UTF8.self) != nil
    }
}
