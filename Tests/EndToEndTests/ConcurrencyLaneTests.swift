import Foundation
import Glibc
import Testing

/// `concurrency=` throttles follow a rule's identity (pattern, events, handler), not its line:
/// a reload that inserts lines above a rule keeps its runs in one lane.
@Suite struct ConcurrencyLaneTests {
    @Test func aReloadThatMovesAConcurrencyOneRuleKeepsItsRunsOneAtATime() async throws {
        try await withSandbox { sb in
            // mkdir is atomic: a run that finds the lock taken ran beside another one, and says
            // so in a file that stays. Every run holds the lock until the test creates `go`, so
            // the reload surely comes while the first run is in its lane.
            try sb.writeHandler("one-at-a-time.sh", """
                #!/bin/sh
                mkdir "$OUT/lock" 2>/dev/null || touch "$OUT/overlap"
                touch "$OUT/started.$SPOOL_ID"
                while [ ! -e "$OUT/go" ]; do sleep 0.05; done
                sleep 0.2
                rmdir "$OUT/lock" 2>/dev/null
                touch "$OUT/done.$SPOOL_ID"
                """)
            let slowRule = "slow/* file concurrency=1 ./h/one-at-a-time.sh\n"
            try sb.writeRules(slowRule)
            try Files.makeDirectories(sb.spool + "/slow")
            try Files.makeDirectories(sb.spool + "/other")
            let daemon = try await sb.startDaemon()
            for index in 1...4 { try sb.drop("slow/\(index)", "\(index)\n") }
            try await sb.waitFor("the first slow run") {
                Files.list(sb.out).contains { $0.hasPrefix(Bytes(text: "started.")) }
            }

            let reloads = sb.log.lines("reload").count
            try sb.replaceRules("""
                other/* file ./h/record.sh other
                other/* file ./h/record.sh other-again
                \(slowRule)
                """)
            try await sb.waitFor("the reload") { sb.log.lines("reload").count > reloads }
            // A rule now on the slow rule's old line, without a limit, gets messages too.
            for index in 1...3 { try sb.drop("other/\(index)", "\(index)\n") }
            for index in 5...7 { try sb.drop("slow/\(index)", "\(index)\n") }
            // Only now may the first run (started before the reload) end.
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("7 slow runs") {
                Files.list(sb.out).filter { $0.hasPrefix(Bytes(text: "done.")) }.count >= 7
            }
            try await sb.waitForRuns(6) { $0.tag.hasPrefix("other") }
            #expect(!Files.exists(sb.out + "/overlap"), "two runs of the concurrency=1 rule overlapped: \(sb.log.tail(30))")
            try await daemon.stop()
        }
    }
}
