/// How spool names become topic levels, reversibly: a name's `/` is the level separator, and
/// the bytes MQTT forbids or gives a meaning in a topic are written `%XX` (two upper-case hex
/// digits, one per byte): `+`, `#`, `%` itself, every byte of invalid UTF-8, the control
/// characters U+0000–U+001F, U+007F–U+009F and the non-characters (U+FFFE, U+FDD0, …), which
/// MQTT 5 (1.5.4) lets a broker refuse and Mosquitto does, and a `$` that would start the topic
/// (topics starting with `$` belong to the broker). `MQTTTopicPath` undoes it.
enum MQTTTopicEscaping {
    /// Why a literal part of a handler's TOPIC cannot be in a topic, or nil.
    static func problem(inLiteral literal: [UInt8]) -> String? {
        if literal.contains(UInt8(ascii: "+")) || literal.contains(UInt8(ascii: "#")) {
            return "'+' and '#' are wildcards, not allowed in a topic name"
        }
        guard MQTTText.isValidString(literal) else { return "not valid UTF-8, or holds a NUL" }
        guard !String(decoding: literal, as: UTF8.self).unicodeScalars.contains(where: isRefused) else {
            return "control characters and Unicode non-characters are refused by brokers"
        }
        return nil
    }

    /// A placeholder's value as topic bytes; `atStart` when it begins the topic.
    static func escape(_ value: [UInt8], atStart: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count)
        var index = 0
        while index < value.count {
            let byte = value[index]
            let length = validSequenceLength(value, at: index)
            if length == 0 {
                PercentEscape.append(byte, to: &out)
                index += 1
                continue
            }
            let sequence = value[index..<(index + length)]
            if length == 1 && (byte == UInt8(ascii: "+") || byte == UInt8(ascii: "#") || byte == UInt8(ascii: "%")
                               || (byte == UInt8(ascii: "$") && atStart && index == 0))
                || String(decoding: sequence, as: UTF8.self).unicodeScalars.contains(where: isRefused) {
                for byte in sequence { PercentEscape.append(byte, to: &out) }
            } else {
                out += value[index..<(index + length)]
            }
            index += length
        }
        return out
    }

    /// `%XX` sequences back to their bytes; a `%` not followed by two hex digits stays as is.
    static func unescape(_ text: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(text)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = PercentEscape.digitValue(bytes[index + 1]), let low = PercentEscape.digitValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    /// Control characters and non-characters: valid UTF-8 that brokers may refuse (MQTT 5, 1.5.4).
    static func isRefused(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value <= 0x1F || (0x7F...0x9F).contains(value) || (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE
    }

    /// The length of the well-formed UTF-8 sequence at `index`, 0 if there is none.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let first = bytes[index]
        let length: Int
        switch first {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        return String(validating: bytes[index..<(index + length)], as: UTF8.self) == nil ? 0 : length
    }
}
