import Testing
@testable import SpoolBus

@Suite struct LogEscapingTests {
    private func escaped(_ value: [UInt8]) -> String {
        var line: [UInt8] = []
        LogEscaping.append(value, to: &line)
        return String(decoding: line, as: UTF8.self)
    }

    @Test(arguments: [
        ("inbox/hello.msg", "inbox/hello.msg"),
        ("two words", "\"two words\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("line\nbreak", "\"line\\nbreak\""),
        ("tab\there", "\"tab\\there\""),
        ("", "\"\""),
        ("café", "café"),
        ("$(touch pwned)", "\"$(touch pwned)\""),
    ])
    func textValues(input: String, expected: String) {
        #expect(escaped(Array(input.utf8)) == expected)
    }

    @Test func invalidUTF8BecomesHexEscapes() {
        #expect(escaped([0x61, 0xFF, 0x62]) == "\"a\\xffb\"")
        // A truncated sequence and an overlong encoding are not printable UTF-8 either.
        #expect(escaped([0xC3]) == "\"\\xc3\"")
        #expect(escaped([0xC0, 0xAF]) == "\"\\xc0\\xaf\"")
    }

    @Test func controlCharactersAreEscaped() {
        #expect(escaped([0x01, 0x7F]) == "\"\\x01\\x7f\"")
        #expect(escaped([0xC2, 0x85]) == "\"\\xc2\\x85\"")  // U+0085, a C1 control
    }

    @Test func timestampsAcrossASecondBoundary() {
        let stamp = { (ms: Int64) -> String in
            var out = Bytes()
            Timestamp.appendRFC3339(millisecondsSinceEpoch: ms, to: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(stamp(1_795_000_000_998) == "2026-11-18T11:06:40.998Z")
        #expect(stamp(1_795_000_000_999) == "2026-11-18T11:06:40.999Z")
        #expect(stamp(1_795_000_001_000) == "2026-11-18T11:06:41.000Z")
        #expect(stamp(1_795_000_000_005) == "2026-11-18T11:06:40.005Z")
    }

    @Test func aLineIsTimestampVerbAndFields() {
        let record = LogRecord(verb: "recv", fields: [("id", Array("x-1".utf8)), ("name", [0x61, 0x0A])], name: nil)
        let line = String(decoding: record.line(at: 1_795_000_000_123), as: UTF8.self)
        #expect(line == "2026-11-18T11:06:40.123Z recv    id=x-1 name=\"a\\n\"\n")
    }
}
