import Testing
@testable import SpoolBus

struct RulesDurationTests {
    static let valid: [(String, Duration)] = [
        ("250ms", .milliseconds(250)),
        ("10s", .seconds(10)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3600)),
        ("0s", .zero),
        ("0ms", .zero),
        ("007s", .seconds(7)),
        ("1500ms", .milliseconds(1500)),
        ("7d", .seconds(7 * 86400)),
    ]

    @Test(arguments: valid)
    func parses(text: String, expected: Duration) {
        #expect(parseDuration(text) == expected)
        #expect(parseDuration(Array(text.utf8)) == expected)
        #expect(parseDuration(Substring(text)) == expected)
    }

    @Test(arguments: ["", "s", "10", "10 s", " 10s", "10s ", "-1s", "+1s", "1.5s", "1S", "1sec", "1D", "1d12h", "1m30s", "ms", "1us", "99999999999999999999s", "9223372036854775807h"])
    func rejects(text: String) {
        #expect(parseDuration(text) == nil)
    }

    static let formatted: [(Duration, String)] = [
        (.seconds(1), "1s"),
        (.milliseconds(250), "250ms"),
        (.seconds(300), "5m"),
        (.seconds(3600), "1h"),
        (.milliseconds(1500), "1500ms"),
        (.seconds(90), "90s"),
        (.seconds(120), "2m"),
        (.seconds(7200), "2h"),
        (.seconds(5400), "90m"),
        (.zero, "0s"),
        (.seconds(-2), "-2s"),
        (.microseconds(1500), "1500us"),
        (.nanoseconds(7), "7ns"),
        (.seconds(86400), "1d"),
        (.seconds(7 * 86400), "7d"),
        (.seconds(36 * 3600), "36h"),
    ]

    @Test(arguments: formatted)
    func formats(duration: Duration, expected: String) {
        #expect(formatDuration(duration) == expected)
    }

    @Test(arguments: ["1s", "250ms", "5m", "1h", "1500ms", "90s", "0s", "61m", "86400s", "30d"])
    func roundTrips(text: String) throws {
        let duration = try #require(parseDuration(text))
        #expect(parseDuration(formatDuration(duration)) == duration)
    }

    @Test func formatPicksTheLargestExactUnit() {
        #expect(formatDuration(parseDuration("60s")!) == "1m")
        #expect(formatDuration(parseDuration("3600000ms")!) == "1h")
    }
}
