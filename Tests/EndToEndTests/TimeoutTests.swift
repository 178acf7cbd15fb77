import Foundation
import Glibc
import Testing

/// A handler that hangs is killed, with its whole process group, at its rule's timeout.
@Suite struct TimeoutTests {
    /// Hangs in a child process, so only a kill of the process group ends all of it. Records the
    /// child's pid as `$OUT/<basename>.sleep`.
    static func hangingScript(ignoringTerm: Bool) -> String {
        """
        #!/bin/sh
        \(ignoringTerm ? "trap '' TERM" : "# SIGTERM is not ignored")
        sleep 1000 &
        n=${SPOOL_NAME##*/}
        echo "$!" > "$OUT/$n.sleep.tmp" && mv "$OUT/$n.sleep.tmp" "$OUT/$n.sleep"
        wait
        """
    }

    func sleeperPid(_ sb: Sandbox, _ base: String) -> pid_t? {
        Files.readText(sb.out + "/\(base).sleep").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func hangingHandlerIsKilledAtTimeoutWhileOtherMessagesFlow() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("hang.sh", Self.hangingScript(ignoringTerm: false))
            try sb.writeRules("""
                inbox/hang.msg    file  timeout=3s  retries=0  ./h/hang.sh
                inbox/stuck.msg   file  timeout=10m retries=0  ./h/hang.sh
                inbox/quick*.msg  file  ./h/record.sh quick {name}
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon(["--jobs", "8"])

            try sb.drop("inbox/stuck.msg", "stuck\n")
            try await sb.waitFor("the stuck handler to start") { sleeperPid(sb, "stuck.msg") != nil }
            try sb.drop("inbox/hang.msg", "hang\n")
            try await sb.waitFor("the hanging handler to start") { sleeperPid(sb, "hang.msg") != nil }
            let hangID = try await sb.waitForID(of: "inbox/hang.msg")
            let stuckID = try await sb.waitForID(of: "inbox/stuck.msg")

            for n in 1...3 { try sb.drop("inbox/quick\(n).msg", "quick \(n)\n") }
            try await sb.waitForRuns(3, "quick runs") { $0.tag == "quick" }
            #expect(sb.log.lines("ok", id: stuckID).isEmpty && sb.log.lines("fail", id: stuckID).isEmpty,
                    "quick messages ran while a handler hung")

            let fail = try await sb.waitForLine("fail id=\(hangID)") { $0.verb == "fail" && $0["id"] == hangID }
            #expect(fail["rule"] == "1")
            #expect(fail.raw.lossy.lowercased().contains("time"), "the failure says it timed out: \(fail)")
            if let run = sb.log.lines("run", id: hangID).first?.milliseconds, let failed = fail.milliseconds {
                #expect(failed - run >= 2950, "killed after \(failed - run) ms, before its 3s timeout")
            }
            try await sb.waitForLine("dead id=\(hangID)") { $0.verb == "dead" && $0["id"] == hangID }
            let sleeper = try #require(sleeperPid(sb, "hang.msg"))
            try await sb.waitFor("the hanging handler's child (pid \(sleeper)) to be killed too") { Leftovers.isGone(sleeper) }
            #expect(!Leftovers.isGone(try #require(sleeperPid(sb, "stuck.msg"))), "the other rule's handler still runs")
        }
    }

    @Test func handlerIgnoringSigtermIsKilledFiveSecondsLater() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("stubborn.sh", Self.hangingScript(ignoringTerm: true))
            // 3 s: time for a busy machine to start the shell and set its trap before the SIGTERM.
            try sb.writeRules("inbox/*.msg file timeout=3s retries=0 ./h/stubborn.sh\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/stubborn.msg", "stubborn\n")
            try await sb.waitFor("the stubborn handler to start") { sleeperPid(sb, "stubborn.msg") != nil }
            let id = try await sb.waitForID(of: "inbox/stubborn.msg")

            let fail = try await sb.waitForLine("fail id=\(id)") { $0.verb == "fail" && $0["id"] == id }
            if let run = sb.log.lines("run", id: id).first?.milliseconds, let failed = fail.milliseconds {
                #expect(failed - run >= 7900, "SIGKILL comes 5 s after SIGTERM (at 3 s); failed after \(failed - run) ms")
            }
            let sleeper = try #require(sleeperPid(sb, "stubborn.msg"))
            try await sb.waitFor("the stubborn handler's child (pid \(sleeper)) to be killed") { Leftovers.isGone(sleeper) }
        }
    }
}
