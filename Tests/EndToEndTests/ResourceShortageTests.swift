import Foundation
import Glibc
import Testing

/// Running out of descriptors before a handler starts is back-pressure: the job waits and is
/// tried again without spending an attempt, and the shortage is logged once, not per job.
@Suite struct ResourceShortageTests {
    @Test func aDaemonShortOfDescriptorsHandlesEveryFileAndFailsNone() async throws {
        try await withSandbox { sb in
            try sb.writeRules("*.msg file sh -c 'cat >/dev/null; sleep 0.02'\n")
            let count = 300
            for index in 0..<count { try sb.drop("f\(index).msg", "\(index)\n") }
            let daemon = try await sb.startDaemonThroughShell("ulimit -n 64", extra: ["--jobs", "200"])
            try await sb.waitFor("\(count) ok lines") { sb.log.lines("ok").count >= count }
            try await daemon.stop()
            let lines = sb.log.lines
            #expect(lines.filter { $0.verb == "fail" || $0.verb == "dead" }.isEmpty, "\(sb.log.tail(20))")
            #expect(!lines.contains { $0.description.contains("could not start") }, "\(sb.log.tail(20))")
            #expect(Files.list(sb.state("failed")).isEmpty)
            #expect(Files.list(sb.spool).filter { $0.hasSuffix(Bytes(text: ".msg")) }.isEmpty)
            // The shortage did happen, and was said in a line when it began and when it ended,
            // not once per job.
            let shortages = sb.log.lines("error").filter { $0["resource"] == "descriptors" }
            let begun = shortages.filter { $0["err"] != nil }
            #expect(!begun.isEmpty, "the test should run the daemon short of descriptors: \(sb.log.tail(20))")
            #expect(begun.count < 20, "\(begun.count) shortage lines")
            #expect(shortages.filter { $0["resolved"] != nil }.count == begun.count)
        }
    }
}
