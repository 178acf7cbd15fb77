import Foundation
import Glibc
import Testing

/// `pipeline=N` on `worker` rules: the daemon writes up to N requests ahead to one worker
/// process, whose code is the same as with one in flight, and every guarantee still holds.
@Suite struct WorkerPipelineTests {
    /// Appends "PID NAME" to $OUT/served for each request read; holds the first one until
    /// $OUT/go exists (writing "waiting for NAME" to stderr meanwhile), then answers ok. With
    /// $OUT/crash present it exits 3 instead of answering, once (removing the file).
    static let holdingWorker = #"""
        #!/bin/sh
        first=1
        while IFS=' ' read -r id event name rest; do
            echo "$$ $name" >> "$OUT/served"
            if [ $first = 1 ]; then
                echo "waiting for $name" >&2
                while [ ! -f "$OUT/go" ]; do sleep 0.02; done
                first=0
            fi
            if [ -f "$OUT/crash" ]; then rm "$OUT/crash"; exit 3; fi
            echo ok
        done
        """#

    /// The `worker=` facts of `status --raw`.
    func workers(_ sb: Sandbox) async throws -> [String] {
        let status = try await sb.spoolbus(["status", "--spool", sb.spool, "--raw"])
        return status.out.split(separator: "\n").filter { $0.hasPrefix("worker=") }.map(String.init)
    }

    /// Asks `status` until one worker says `inflight:COUNT`.
    func waitForInFlight(_ count: Int, _ sb: Sandbox) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var seen: [String] = []
        while ContinuousClock.now < deadline {
            seen = try await workers(sb)
            if seen.contains(where: { $0.hasSuffix(",inflight:\(count)") }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimedOut(what: "a worker with \(count) requests in flight", details: "\(seen)\n" + sb.log.tail(30))
    }

    func served(_ sb: Sandbox) -> [[Substring]] {
        (Files.readText(sb.out + "/served") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
    }

    @Test func requestsAreWrittenAheadOfOneJobSlotAndSettleInArrivalOrder() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.holdingWorker)
            try sb.writeRules("*  file  pipeline=8  worker  ./h/worker.sh\n")
            // One job slot: the requests written ahead share their worker's.
            try await sb.startDaemon(["--jobs", "1"])
            let names = (1...6).map { "m\($0)" }
            for name in names { try sb.drop(name, "x") }
            try await waitForInFlight(6, sb)
            #expect(served(sb).count == 1, "the worker read one request; the daemon wrote all six")
            let facts = try await workers(sb)
            #expect(facts.count == 1 && facts[0].contains("state:busy"), "\(facts)")
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("six answered") { sb.log.lines("ok").count == 6 }
            let received = sb.log.lines("recv").compactMap { $0["id"] }
            #expect(sb.log.lines("ok").compactMap { $0["id"] } == received, "settled in arrival order")
            #expect(served(sb).map { String($0[1]) } == names, "answered in order: \(served(sb))")
            #expect(Set(served(sb).map(\.[0])).count == 1, "one process took them all")
            try await waitForInFlight(0, sb)
            let idle = try await workers(sb)
            #expect(idle.count == 1 && idle[0].contains("state:idle") && idle[0].contains("served:6"), "\(idle)")
        }
    }

    @Test func jobsBoundsTheWorkerProcessesOfAPipelinedRuleWithRoomForMore() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.holdingWorker)
            // A second request would start a second process (concurrency=2), which needs a
            // second --jobs slot: it waits instead.
            try sb.writeRules("*  file  concurrency=2  pipeline=4  worker  ./h/worker.sh\n")
            try await sb.startDaemon(["--jobs", "1"])
            try sb.drop("m1", "x")
            try await waitForInFlight(1, sb)
            try sb.drop("m2", "x")
            try await sb.waitFor("m2 received") { sb.log.lines("recv").count == 2 }
            let facts = try await workers(sb)
            #expect(facts.count == 1, "one --jobs slot, one worker process: \(facts)")
            let status = try await sb.spoolbus(["status", "--spool", sb.spool, "--raw"])
            #expect(status.out.contains("queued=1"), "m2 waits for the slot: \(status.out)")
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("both answered") { sb.log.lines("ok").count == 2 }
            #expect(sb.log.lines("worker").filter { $0["state"] == "started" }.count == 1, "\(sb.log.tail(20))")
        }
    }

    @Test func theLargestConcurrencyTheParserTakesWithAPipelineDispatches() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", "#!/bin/sh\nwhile read -r request; do echo ok; done\n")
            // concurrency=Int.max times pipeline= overflowed, and the daemon trapped on the first message.
            try sb.writeRules("*  file  concurrency=9223372036854775807  pipeline=2  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("m1", "x")
            try await sb.waitFor("m1 answered") { sb.log.lines("ok").count == 1 }
        }
    }

    @Test func aRequestsTimeoutStartsWhenItBecomesTheOldest() async throws {
        try await withSandbox { sb in
            // Each request takes 0.5 s: the fourth is answered 2 s after it was written, past
            // its timeout, yet each was the oldest for 0.5 s only.
            try sb.writeHandler("worker.sh", "#!/bin/sh\nwhile read -r request; do sleep 0.5; echo ok; done\n")
            try sb.writeRules("*  file  timeout=2s  retries=0  pipeline=4  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            for index in 1...4 { try sb.drop("t\(index)", "x") }
            try await sb.waitFor("four answered") { sb.log.lines("ok").count + sb.log.lines("dead").count == 4 }
            #expect(sb.log.lines("ok").count == 4 && sb.log.lines("fail").isEmpty, "no request timed out for the time of those before it: \(sb.log.tail(20))")
            let starts = sb.log.lines("worker").filter { $0["state"] == "started" }
            #expect(starts.count == 1, "one process, never killed")
        }
    }

    @Test func aCrashFailsEveryRequestInFlightAndEachIsRetried() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.holdingWorker)
            try sb.writeRules("*  file  retries=2  backoff=10ms  pipeline=4  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try Files.write(sb.out + "/crash", "")
            for index in 1...4 { try sb.drop("c\(index)", "x") }
            try await waitForInFlight(4, sb)
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("all four answered by the next worker") { sb.log.lines("ok").count == 4 }
            let fails = sb.log.lines("fail")
            #expect(fails.count == 4, "\(fails)")
            let oldest = try #require(fails.first)
            #expect(oldest["exit"] == "3" && oldest["name"] == nil, "the oldest fails with the worker's exit: \(oldest)")
            let behind = fails.dropFirst()
            #expect(behind.allSatisfy { $0["err"]?.contains("the worker ended with 4 requests unanswered, this one written ahead") == true }, "\(behind)")
            #expect(behind.allSatisfy { $0["retry_in"] != nil }, "each is retried as usual")
            #expect(sb.log.lines("dead").isEmpty)
            try await sb.waitFor("every file settled") { sb.claimed.isEmpty && (1...4).allSatisfy { !sb.existsInSpool("c\($0)") } }
        }
    }

    @Test func aTimeoutKillsTheWorkerAndFailsThoseWrittenBehindTheOldest() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while IFS=' ' read -r id event name rest; do
                    if [ "$name" = hang ] && [ ! -f "$OUT/hung" ]; then touch "$OUT/hung"; sleep 1000; fi
                    echo ok
                done
                """#)
            try sb.writeRules("*  file  timeout=1s  retries=1  backoff=10ms  pipeline=3  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            for name in ["hang", "a", "b"] { try sb.drop(name, "x") }
            try await sb.waitFor("all three answered after the timeout") { sb.log.lines("ok").count == 3 }
            let fails = sb.log.lines("fail")
            #expect(fails.count == 3, "\(fails)")
            #expect(fails.first?["timeout"] == "1s", "the oldest timed out: \(fails)")
            #expect(fails.dropFirst().allSatisfy { $0["err"]?.contains("(the oldest: timed out after 1s)") == true }, "\(fails)")
            #expect(sb.log.lines("worker").contains { $0["state"] == "exited" && $0["signal"] == "SIGKILL" })
        }
    }

    @Test func aProtocolErrorFailsEveryRequestInFlight() async throws {
        try await withSandbox { sb in
            // Holds the first request until $OUT/go, then answers it with garbage, once.
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while IFS=' ' read -r id event name rest; do
                    if [ ! -f "$OUT/garbled" ]; then
                        while [ ! -f "$OUT/go" ]; do sleep 0.02; done
                        touch "$OUT/garbled"
                        echo "not an answer"
                    else
                        echo ok
                    fi
                done
                """#)
            try sb.writeRules("*  file  retries=1  backoff=10ms  pipeline=3  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            for name in ["p1", "p2", "p3"] { try sb.drop(name, "x") }
            try await waitForInFlight(3, sb)
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("all three answered by the next worker") { sb.log.lines("ok").count == 3 }
            let fails = sb.log.lines("fail")
            #expect(fails.count == 3, "\(fails)")
            #expect(fails.first?["err"]?.hasPrefix("protocol error: it answered \"not an answer\"") == true, "\(fails)")
            #expect(fails.dropFirst().allSatisfy { $0["err"]?.contains("3 requests unanswered, this one written ahead (the oldest: protocol error") == true }, "\(fails)")
        }
    }

    @Test func stderrGoesToTheOldestUnansweredRequest() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.holdingWorker)
            try sb.writeRules("*  file  pipeline=2  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("first", "x")
            try sb.drop("second", "x")
            try await waitForInFlight(2, sb)
            let out = try await sb.waitForLine("the worker's stderr line") { $0.verb == "out" }
            let firstID = try await sb.waitForID(of: "first")
            #expect(out["line"] == "waiting for first" && out["id"] == firstID, "\(out)")
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("both answered") { sb.log.lines("ok").count == 2 }
        }
    }

    @Test func replyRulesAnswerEachClientWithItsOwnReply() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("echo.sh", #"""
                #!/bin/sh
                first=1
                while IFS=' ' read -r id event name data rest; do
                    if [ $first = 1 ]; then
                        while [ ! -f "$OUT/go" ]; do sleep 0.02; done
                        first=0
                    fi
                    printf 'reply %d\n%s' "${#data}" "$data"
                done
                """#)
            try sb.writeRules("""
                listen  ask.sock
                ask.sock  socket  reply  pipeline=8  worker  ./h/echo.sh
                """)
            try await sb.startDaemon()
            let clients = try (0..<5).map { _ in try ChanSocket(connectingTo: sb.spool + "/ask.sock") }
            for (index, client) in clients.enumerated() { client.send("question\(index)\n") }
            try await waitForInFlight(5, sb)
            try Files.write(sb.out + "/go", "")
            for (index, client) in clients.enumerated() {
                let reply = try #require(client.readReply())
                #expect(reply.body == "question\(index)", "each client its own reply: \(reply)")
            }
            #expect(sb.log.lines("worker").filter { $0["state"] == "started" }.count == 1)
        }
    }

    @Test func killNineOfTheDaemonMidPipelineLosesNothing() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.holdingWorker)
            try sb.writeRules("*  file  pipeline=8  worker  ./h/worker.sh\n")
            let first = try await sb.startDaemon()
            let names = (1...5).map { "k\($0)" }
            for name in names { try sb.drop(name, "x") }
            try await waitForInFlight(5, sb)
            first.signal(SIGKILL)
            #expect(try await first.waitForExit() == .signaled(SIGKILL))
            #expect(sb.claimed.count == 5, "the messages wait in work/")
            try await sb.startDaemon()
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("the five handled again") { sb.log.lines("ok").count == 5 }
            try await sb.waitFor("nothing left") { sb.claimed.isEmpty && names.allSatisfy { !sb.existsInSpool($0) } }
            let byProcess = Dictionary(grouping: served(sb), by: { String($0[0]) })
            #expect(byProcess.count == 2, "each daemon's worker: \(served(sb))")
            #expect(byProcess.values.contains { Set($0.map { String($0[1]) }) == Set(names) }, "the new worker took all five: \(served(sb))")
        }
    }
}
