import Foundation
import Glibc
import Testing

/// After `kill -9` of the daemon, its handlers run on (each leads its own session). A daemon
/// started then recovers their messages, but never runs one beside a leftover run of itself.
@Suite struct LeftoverRunTests {
    /// The handler takes an atomic lock (mkdir) for its whole run: a run that finds it taken
    /// ran beside another one of the same message. It holds the lock until the test creates
    /// `go`, then for `$1` seconds more, so the run is surely still going when the test wants.
    private static let lockingHandler = """
        #!/bin/sh
        mkdir "$OUT/lock" 2>/dev/null || touch "$OUT/overlap"
        echo "$$" >> "$OUT/pids"
        while [ ! -e "$OUT/go" ]; do sleep 0.05; done
        sleep "$1"
        rmdir "$OUT/lock" 2>/dev/null
        touch "$OUT/done.$$"
        """

    private func runs(_ sb: Sandbox) -> Int {
        Files.list(sb.out).filter { $0.hasPrefix(Bytes(text: "done.")) }.count
    }

    @Test func aRecoveredMessageWaitsForTheRunTheKilledDaemonLeft() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("locking.sh", Self.lockingHandler)
            try sb.writeRules("slow.msg file ./h/locking.sh 1\n")
            let first = try await sb.startDaemon()
            try sb.drop("slow.msg", "slow\n")
            try await sb.waitFor("the first run") { Files.exists(sb.out + "/pids") }
            // The record is made just after the spawn: on a busy machine the handler can be
            // running before it, and a kill in between leaves a run no daemon can know of.
            try await sb.waitFor("the first run's record") { Files.recordedRuns(spool: sb.spool).count == 1 }
            first.signal(SIGKILL)
            try await first.waitForExit()
            #expect(Files.exists(sb.out + "/lock"), "the first run outlives the daemon")

            let second = try await sb.startDaemon()
            // The leftover run ends a second after this: a recovered run beside it would find
            // the lock taken.
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("two runs") { runs(sb) == 2 }
            #expect(!Files.exists(sb.out + "/overlap"), "the recovered run ran beside the leftover: \(sb.log.tail(20))")
            let recovered = sb.log.lines("recv").filter { $0["recovered"] == "1" }
            #expect(recovered.count == 1)
            try await second.stop()
            #expect(Files.recordedRuns(spool: sb.spool).isEmpty, "records of ended runs are removed")
            #expect(Set(Files.list(sb.state("runs")).map(\.lossy)) == ["boot", "table"], "no file per run")
        }
    }

    @Test func aLeftoverRunPastItsTimeoutIsStoppedAndItsMessageRunsAgain() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("once-slow.sh", """
                #!/bin/sh
                if [ -e "$OUT/first" ]; then touch "$OUT/second"; exit 0; fi
                touch "$OUT/first"
                exec sleep 60
                """)
            // The first daemon must be killed before the timeout: 10 s leaves a busy machine
            // room to start the handler and the test to see it.
            try sb.writeRules("slow.msg file timeout=10s ./h/once-slow.sh\n")
            let first = try await sb.startDaemon()
            try sb.drop("slow.msg", "slow\n")
            try await sb.waitFor("the first run") { Files.exists(sb.out + "/first") }
            // Without its record (made just after the spawn), no daemon could know of the run.
            try await sb.waitFor("the first run's record") { Files.recordedRuns(spool: sb.spool).count == 1 }
            #expect(!sb.log.lines.contains { $0.verb == "fail" }, "the first daemon is killed before the run's timeout")
            first.signal(SIGKILL)
            try await first.waitForExit()

            let second = try await sb.startDaemon()
            try await sb.waitFor("the recovered run") { Files.exists(sb.out + "/second") }
            let stopped = sb.log.lines("error").filter { $0["err"]?.contains("passed its timeout") == true }
            #expect(stopped.count == 1, "\(sb.log.tail(20))")
            try await sb.waitForLine("ok after recovery") { $0.verb == "ok" }
            try await second.stop()
        }
    }
}
