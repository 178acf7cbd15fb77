import Testing
@testable import SpoolBus

/// The dispatch-log escaper on arbitrary byte strings: every value is written on one line, with
/// no control byte and as valid UTF-8, reads back to the exact bytes by the documented format
/// (`"…"` with `\"`, `\\`, `\n`, `\t`, `\xNN`; bare otherwise), and never bleeds into the next
/// `key=value` field.
@Suite struct LogEscapingPropertyTests {
    /// Pieces that stress the escaper: separators, escapes, and UTF-8 that is valid, invalid,
    /// overlong, a surrogate, a C1 control, or cut short.
    static let pieces: [[UInt8]] = [
        [0x20], [0x22], [0x3D], [0x5C], [0x0A], [0x0D], [0x09], [0x00], [0x7F], [0x1B],
        Array("\\x41".utf8), Array("\\n".utf8), Array("key=\"v\"".utf8), Array(" name=x".utf8),
        [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x92, 0xA9], [0xE2, 0x80, 0xA8],
        [0xC2, 0x85], [0xC2, 0xA0], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
        [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC3], [0xE2, 0x82], [0x80], [0xFF],
        Array("inbox/hello.msg".utf8), Array("-rf".utf8), Array("$(id)".utf8),
    ]

    static func value(_ generator: inout SplitMix64) -> [UInt8] {
        var value: [UInt8] = []
        switch generator.below(4) {
        case 0:
            value = generator.bytes(count: generator.below(24))
        case 1:
            value = (0..<generator.below(24)).map { _ in UInt8(0x20 + generator.below(0x5F)) }
        default:
            for _ in 0..<generator.below(8) {
                value += generator.chance(1, in: 3)
                    ? generator.bytes(count: 1 + generator.below(3))
                    : generator.pick(pieces)
            }
        }
        return value
    }

    /// Reads one escaped value starting at `index` in `line`, as a reader of the documented
    /// format would: up to the next space when bare, up to the closing quote when quoted.
    static func readValue(_ line: [UInt8], from index: inout Int) -> [UInt8]? {
        var value: [UInt8] = []
        guard index < line.count, line[index] == UInt8(ascii: "\"") else {
            while index < line.count && line[index] != UInt8(ascii: " ") && line[index] != 0x0A {
                value.append(line[index])
                index += 1
            }
            return value
        }
        index += 1
        while index < line.count {
            let byte = line[index]
            index += 1
            if byte == UInt8(ascii: "\"") { return value }
            guard byte == UInt8(ascii: "\\") else {
                value.append(byte)
                continue
            }
            guard index < line.count else { return nil }
            let escape = line[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): value.append(escape)
            case UInt8(ascii: "n"): value.append(0x0A)
            case UInt8(ascii: "t"): value.append(0x09)
            case UInt8(ascii: "x"):
                guard index + 2 <= line.count,
                      let byte = UInt8(String(decoding: line[index..<(index + 2)], as: UTF8.self), radix: 16)
                else { return nil }
                value.append(byte)
                index += 2
            default: return nil
            }
        }
        return nil  // no closing quote
    }

    @Test func everyValueIsOneLineAndReadsBack() {
        checkProperty("escaped value", cases: 4000) { generator in
            let value = Self.value(&generator)
            var escaped: [UInt8] = []
            LogEscaping.append(value, to: &escaped)
            let shown = "\(shownBytes(value)) escaped as \(shownBytes(escaped))"
            if let control = escaped.first(where: { $0 < 0x20 || $0 == 0x7F }) {
                return "raw control byte \(control) in \(shown)"
            }
            if String(validating: escaped, as: UTF8.self) == nil { return "not valid UTF-8: \(shown)" }
            let isBare = escaped.first != UInt8(ascii: "\"")
            if isBare, value.isEmpty || escaped.contains(where: { [0x20, 0x22, 0x3D, 0x5C].contains($0) }) {
                return "bare value with a separator or escape byte: \(shown)"
            }
            var index = 0
            guard let read = Self.readValue(escaped, from: &index) else { return "does not read back: \(shown)" }
            if index != escaped.count { return "reading stopped at byte \(index) of \(escaped.count): \(shown)" }
            if read != value { return "reads back as \(shownBytes(read)): \(shown)" }
            return nil
        }
    }

    /// A whole line of random fields splits back into exactly those fields.
    @Test func fieldsNeverBleedIntoEachOther() {
        checkProperty("log line", cases: 1500) { generator in
            let fields = (0..<(1 + generator.below(5))).map { index in
                ("k\(index)", Self.value(&generator))
            }
            let record = LogRecord(verb: "recv", fields: fields, name: nil)
            let line = record.line(at: 1_795_000_000_123)
            let shown = shownBytes(line)
            guard line.last == 0x0A, line.firstIndex(of: 0x0A) == line.count - 1, !line.contains(0x0D) else {
                return "not exactly one line: \(shown)"
            }
            var index = line.firstIndex(of: UInt8(ascii: " "))! + 1
            while line[index] == UInt8(ascii: " ") { index += 1 }
            guard line[index...].starts(with: "recv".utf8) else { return "verb moved: \(shown)" }
            index += 4
            for (number, (key, value)) in fields.enumerated() {
                while line[index] == UInt8(ascii: " ") { index += 1 }
                let expectedKey = Array("\(key)=".utf8)
                guard line[index...].starts(with: expectedKey) else { return "field \(number) does not start at byte \(index): \(shown)" }
                index += expectedKey.count
                guard let read = Self.readValue(line, from: &index), read == value else {
                    return "field \(number) reads back wrong: \(shown)"
                }
                guard line[index] == (number == fields.count - 1 ? 0x0A : UInt8(ascii: " ")) else {
                    return "field \(number) is followed by byte \(line[index]): \(shown)"
                }
            }
            return nil
        }
    }

    /// Every single byte value, and every pair, escapes and reads back.
    @Test func everyByteAndPairReadsBack() {
        for first in 0...255 {
            for second in [-1] + Array(0...255) where second < 0 || first % 7 == 0 || second % 7 == 0 {
                let value = second < 0 ? [UInt8(first)] : [UInt8(first), UInt8(second)]
                var escaped: [UInt8] = []
                LogEscaping.append(value, to: &escaped)
                var index = 0
                if Self.readValue(escaped, from: &index) != value || index != escaped.count {
                    Issue.record("\(shownBytes(value)) escaped as \(shownBytes(escaped)) does not read back")
                }
            }
        }
    }
}
