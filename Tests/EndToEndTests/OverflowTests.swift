import Foundation
import Glibc
import Testing

/// More events than the inotify queue holds: the daemon notices the overflow, rescans, loses nothing.
@Suite struct OverflowTests {
    @Test func filesWrittenWhileTheDaemonIsStoppedAreAllHandled() async throws {
        let limitText = try #require(Files.readText("/proc/sys/fs/inotify/max_queued_events"))
        let limit = try #require(Int(limitText.trimmingCharacters(in: .whitespacesAndNewlines)))
        let count = limit + 2000

        try await withSandbox { sb in
            try sb.writeRules("""
                flood/*.msg  file  stdin=none output=discard /bin/true
                level        file  then=keep ./h/record.sh level
                """)
            try Files.makeDirectories(sb.spool + "/flood")
            // A state file and a file no rule matches, there before the flood: the rescan
            // must neither run the unchanged state file again nor log the stray file again.
            try sb.drop("level", "42\n")
            try sb.drop("stray", "?\n")
            let daemon = try await sb.startDaemon()
            try await sb.waitForRun { $0.tag == "level" }

            daemon.signal(SIGSTOP)
            let names = (0..<count).map { String(format: "f%06d.msg", $0) }
            for name in names { try sb.drop("flood/\(name)", "x\n") }
            daemon.signal(SIGCONT)

            // Poll cheap conditions while the flood drains; parse the log only once it has.
            var lines: [LogLine] = []
            func missing() -> [String] {
                lines = sb.log.lines
                var nameOfID: [String: String] = [:]
                for line in lines where line.verb == "recv" {
                    if let id = line["id"], let name = line["name"] { nameOfID[id] = name }
                }
                let handled = Set(lines.filter { $0.verb == "ok" }.compactMap { $0["id"].flatMap { nameOfID[$0] } })
                return names.filter { !handled.contains("flood/\($0)") }
            }
            do {
                // One process per file: a busy 2-core machine starts a few dozen a second, so
                // the flood takes minutes there. The deadline only bounds a daemon that lost some.
                try await sb.waitFor("every one of the \(count) files to be handled", timeout: .seconds(1200)) {
                    guard Files.list(sb.spool + "/flood").isEmpty && sb.claimed.isEmpty else { return false }
                    return missing().isEmpty
                }
            } catch {
                let unhandled = missing()
                Issue.record("\(unhandled.count) of \(count) files not handled, e.g. \(unhandled.prefix(5))")
                throw error
            }
            #expect(daemon.isRunning)
            #expect(lines.contains { $0.verb == "overflow" }, "an overflow line")
            #expect(lines.contains { $0.verb == "rescan" && $0["reason"] == "overflow" }, "a rescan line")
            #expect(sb.runs(tagged: "level").count == 1, "an unchanged state file is not run again by a rescan")
            #expect(lines.filter { $0.verb == "nomatch" && $0["name"] == "stray" }.count == 1, "nomatch is logged once")
        }
    }
}
