import Foundation
import Testing
@testable import SpoolBus

/// The small pure parts behind the operations features: JSON writing, base64, sizes, the
/// watch --json parse of log lines, dead-letter ages and reasons, the watchdog interval.
@Suite struct OperationsPartsTests {
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64MatchesRFC4648(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
    }

    @Test func jsonStringsSurviveARealParser() throws {
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} del \u{7F} é ☃ 𝄞 \u{2028}"
        let document = JSONValue.object([("s", .string(tricky)), ("n", .number(-42)), ("b", .bool(true)), ("z", .null),
                                          ("a", .array([.number(1), .string("x")]))])
        let line = document.line
        #expect(line.last == 10 && line.dropLast().allSatisfy { $0 != 10 }, "one line")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(parsed["s"] as? String == tricky)
        #expect(parsed["n"] as? Int == -42)
        #expect(parsed["b"] as? Bool == true)
        #expect(parsed["z"] is NSNull)
    }

    @Test func bytesThatAreNotUTF8GetAnExactBase64Twin() throws {
        let name: Bytes = Array("a/".utf8) + [0xFF, 0xC3] + Array(".msg".utf8)
        let fields = JSONValue.fields("name", name)
        #expect(fields.map(\.0) == ["name", "name_base64"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(JSONValue.object(fields).line)) as? [String: String])
        #expect(Data(base64Encoded: parsed["name_base64"] ?? "").map { Bytes($0) } == name)
        #expect(JSONValue.fields("name", Array("plain é".utf8)).map(\.0) == ["name"])
    }

    @Test func sizesTakeKMG() throws {
        #expect(try OptionValues.size(Array("512K".utf8), for: "log-max") == 512 * 1024)
        #expect(try OptionValues.size(Array("10M".utf8), for: "log-max") == 10 * 1024 * 1024)
        #expect(try OptionValues.size(Array("1G".utf8), for: "log-max") == 1 << 30)
        #expect(try OptionValues.size(Array("1000".utf8), for: "log-max") == 1000)
        for bad in ["", "0", "K", "10k", "1.5M", "-1M", "10MB", "99999999999999999G"] {
            #expect(throws: UsageError.self, "\(bad)") { try OptionValues.size(Array(bad.utf8), for: "log-max") }
        }
    }

    @Test func aLogLineParsesBackToItsFields() throws {
        let name: Bytes = Array("in box/\"q\"=".utf8) + [0xFF, 0x0A]
        let record = LogRecord(verb: "recv", fields: [("id", Array("0193-000001".utf8)), ("name", name), ("size", Array("6".utf8))], name: nil)
        let line = record.line(at: 1_700_000_000_123)
        let (time, verb, fields) = try #require(LogLineJSON.parse(Bytes(line.dropLast())))
        #expect(String(decoding: time, as: UTF8.self) == "2023-11-14T22:13:20.123Z")
        #expect(verb == Array("recv".utf8))
        #expect(fields.map { String(decoding: $0.0, as: UTF8.self) } == ["id", "name", "size"])
        #expect(fields[1].1 == name, "quoting and escapes undone exactly")
        #expect(LogLineJSON.parse(Array("not-a-line".utf8)) == nil)
    }

    @Test func agesUseTheirLargestUnit() {
        #expect([0, 59, 60, 3599, 3600, 86399, 86400, 200_000].map(DeadCommand.age) == ["0s", "59s", "1m", "59m", "1h", "23h", "1d", "2d"])
    }

    @Test func reasonSummaryKeepsTheRuleLines() {
        let details = Array("name: a\nid: 1\nrule 3: exited with status 1 (2 attempts)\n  last stderr lines:\n    boom\nrule 4: timed out (1 attempt)\n".utf8)
        #expect(String(decoding: ClaimStore.reasonSummary(details), as: UTF8.self)
                == "rule 3: exited with status 1 (2 attempts); rule 4: timed out (1 attempt)")
        #expect(ClaimStore.reasonSummary([]) == Array("no reason kept".utf8))
    }

    @Test func watchdogIsHalfTheIntervalAndOnlyForThisProcess() {
        let pid = "WATCHDOG_PID=\(getpid())"
        #expect(ServiceNotifier.watchdogInterval([Array("WATCHDOG_USEC=30000000".utf8)]) == .seconds(15))
        #expect(ServiceNotifier.watchdogInterval([Array("WATCHDOG_USEC=30000000".utf8), Array(pid.utf8)]) == .seconds(15))
        #expect(ServiceNotifier.watchdogInterval([Array("WATCHDOG_USEC=30000000".utf8), Array("WATCHDOG_PID=1".utf8)]) == nil)
        #expect(ServiceNotifier.watchdogInterval([Array("WATCHDOG_USEC=0".utf8)]) == nil)
        #expect(ServiceNotifier.watchdogInterval([]) == nil)
    }
}

@Suite struct RunOperationsOptionsTests {
    private func options(_ words: [String]) throws -> DaemonOptions {
        try RunCommand.options(from: ParsedArguments.parse(words.map { Array($0.utf8) }, as: RunCommand.spec))
    }

    @Test func retentionAndRotationOptions() throws {
        let defaults = try options([])
        #expect(defaults.logMaxSize == nil && defaults.keepDone == nil && defaults.keepFailed == nil)
        let given = try options(["--log-max", "10M", "--keep-done", "168h", "--keep-failed=30m"])
        #expect(given.logMaxSize == 10 << 20)
        #expect(given.keepDone == .seconds(168 * 3600))
        #expect(given.keepFailed == .seconds(1800))
        #expect(try options(["--keep-done", "7d"]).keepDone == .seconds(7 * 86400))
        #expect(throws: UsageError.self) { try options(["--keep-done", "7days"]) }
        #expect(throws: UsageError.self) { try options(["--log", "-", "--log-max", "1M"]) }
    }
}
