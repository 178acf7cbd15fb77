import Foundation
import Glibc
import Testing

/// `worker` rules: one long-lived process of the rule takes message after message over the line
/// protocol, and every guarantee of a one-shot run still holds.
@Suite struct WorkerTests {
    /// Appends each request line as received to $OUT/requests and its own pid to $OUT/pids,
    /// then answers what a file named in $OUT/answer says (default ok).
    static let recordingWorker = #"""
        #!/bin/sh
        while IFS= read -r request; do
            printf '%s\n' "$request" >> "$OUT/requests"
            echo $$ >> "$OUT/pids"
            if [ -f "$OUT/answer" ]; then cat "$OUT/answer"; else echo ok; fi
        done
        """#

    /// The bytes a `%XX`-escaped field stands for.
    static func decode(_ field: Bytes) -> Bytes {
        var out = Bytes()
        var index = 0
        while index < field.count {
            if field[index] == UInt8(ascii: "%"), index + 2 < field.count,
               let byte = UInt8(String(decoding: field[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                out.append(byte)
                index += 3
            } else {
                out.append(field[index])
                index += 1
            }
        }
        return out
    }

    func requests(_ sb: Sandbox) -> [[Bytes]] {
        (Files.read(sb.out + "/requests") ?? []).split(separator: 10).map { $0.split(separator: 32, omittingEmptySubsequences: false).map(Bytes.init) }
    }

    @Test func oneProcessTakesHostileNamesAndBinaryLinesThatRoundTrip() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.recordingWorker)
            try sb.writeRules("""
                listen  ask.sock
                **        file    worker  ./h/worker.sh
                ask.sock  socket  worker  ./h/worker.sh
                """)
            try await sb.startDaemon()
            let names: [Bytes] = [
                Bytes(text: "in/plain.txt"), Bytes(text: "in/a b%41\\c"), Bytes(text: "-"),
                Bytes(text: "in/new\nline\t") + [0x01, 0x7F, 0x80, 0xFF, 0xC3, 0xA9],
            ]
            for name in names { try sb.drop(name, Bytes(text: "body")) }
            var line: Bytes = Array(1...255).filter { $0 != 10 }.map(UInt8.init)
            line += Bytes(text: " %20 end")
            let client = try ChanSocket(connectingTo: sb.spool + "/ask.sock")
            client.send(line + [10])
            #expect(client.readReply()?.status.hasPrefix("ok ") == true)
            try await sb.waitFor("five requests answered") { sb.log.lines("ok").count == 5 }

            let requests = requests(sb)
            #expect(requests.count == 5, "\(requests)")
            for request in requests {
                #expect(request.count == 7, "seven fields: \(request.map(\.lossy))")
                #expect(request.joined(separator: [32]).allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "one printable line")
            }
            let files = requests.filter { $0.count == 7 && $0[1] == Bytes(text: "file") }
            #expect(Set(files.map { Self.decode($0[2]) }) == Set(names), "every name round-trips")
            #expect(files.contains { $0[2] == Bytes(text: "in/plain.txt") }, "a plain name reads as itself")
            #expect(files.contains { $0[2] == Bytes(text: "%2D") }, "a name that is '-' is escaped, '-' means none")
            for file in files {
                #expect(Self.decode(file[3]).lossy.hasPrefix(sb.spool + "/.spoolbus/work/"), "DATA is the claimed file: \(file[3].lossy)")
                #expect(file[4] == Bytes(text: "-"), "no peer pid for a file")
                #expect(file[5] == Bytes(text: String(geteuid())), "the file's owner")
                #expect(sb.log.lines("ok").contains { $0["id"] == file[0].lossy })
            }
            let socket = try #require(requests.first { $0.count == 7 && $0[1] == Bytes(text: "socket") })
            #expect(Self.decode(socket[3]) == line, "the line's bytes round-trip")
            #expect(socket[2] == Bytes(text: "ask.sock"))
            #expect(socket[4] != Bytes(text: "-"), "the sender's pid")

            let pids = (Files.readText(sb.out + "/pids") ?? "").split(separator: "\n")
            #expect(Set(pids).count == 2, "one worker process per rule took its messages: \(pids)")
            let fileRuns = sb.log.lines("run").filter { $0["rule"] == "2" }
            #expect(fileRuns.count == 4 && Set(fileRuns.compactMap { $0["pid"] }).count == 1, "one run line per message, with its worker's pid")
            let filePid = try #require(fileRuns.first?["pid"])
            let status = try await sb.spoolbus(["status", "--spool", sb.spool, "--raw"])
            let workers = status.out.split(separator: "\n").filter { $0.hasPrefix("worker=") }
            #expect(workers.count == 2, "\(status.out)")
            #expect(workers.contains { $0.contains("pid:\(filePid),") && $0.contains("state:idle") && $0.contains("served:4") }, "\(status.out)")
        }
    }

    @Test func answersOkFailAndGarbage() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", Self.recordingWorker)
            try sb.writeRules("*  file  retries=0  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try Files.write(sb.out + "/answer", "fail the disk is on fire\n")
            try sb.drop("refused", "x")
            let refusedID = try await sb.waitForID(of: "refused")
            let failed = try await sb.waitForLine("dead") { $0.verb == "dead" && $0["id"] == refusedID }
            #expect(failed["err"] == "the disk is on fire", "\(failed)")
            #expect(failed["kept"]?.hasSuffix(".refused") == true, "a fail answer makes a dead letter")

            try Files.write(sb.out + "/answer", "hello there\n")
            try sb.drop("garbage", "x")
            let garbageID = try await sb.waitForID(of: "garbage")
            let garbage = try await sb.waitForLine("dead garbage") { $0.verb == "dead" && $0["id"] == garbageID }
            #expect(garbage["err"]?.contains("protocol error: it answered \"hello there\", not ok") == true, "\(garbage)")
            #expect(sb.log.lines("error").contains { $0["err"]?.contains("worker protocol error") == true })
            try await sb.waitFor("the garbage-writing worker to be gone") {
                sb.log.lines("worker").contains { $0["state"] == "exited" && $0["signal"] == "SIGKILL" }
            }

            try FileManager.default.removeItem(atPath: sb.out + "/answer")
            try sb.drop("fine", "x")
            let fineID = try await sb.waitForID(of: "fine")
            try await sb.waitForLine("ok fine") { $0.verb == "ok" && $0["id"] == fineID }
            let pids = (Files.readText(sb.out + "/pids") ?? "").split(separator: "\n")
            #expect(pids.count == 3 && pids[1] != pids[2], "a new worker after the protocol error: \(pids)")
        }
    }

    @Test func timeoutKillsTheWorkersGroupAndANewOneTakesTheNext() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while IFS=' ' read -r id event name rest; do
                    echo $$ >> "$OUT/pids"
                    if [ "$name" = hang ]; then
                        sleep 1000 & echo $! > "$OUT/sleeper"; wait
                    fi
                    echo ok
                done
                """#)
            try sb.writeRules("*  file  timeout=1s  retries=0  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("hang", "x")
            let dead = try await sb.waitForLine("dead hang") { $0.verb == "dead" }
            #expect(dead["timeout"] == "1s", "\(dead)")
            let sleeper = try #require(Files.readText(sb.out + "/sleeper").flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            try await sb.waitFor("the worker's child to be killed with its group") { kill(sleeper, 0) != 0 }
            try sb.drop("next", "x")
            try await sb.waitFor("the next message answered") { sb.log.lines("ok").count == 1 }
            let pids = (Files.readText(sb.out + "/pids") ?? "").split(separator: "\n")
            #expect(pids.count == 2 && pids[0] != pids[1], "a new worker: \(pids)")
        }
    }

    @Test func aCrashFailsTheRequestWhichIsRetriedByANewWorker() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while read -r request; do
                    echo $$ >> "$OUT/pids"
                    if [ ! -f "$OUT/crashed" ]; then touch "$OUT/crashed"; echo "going down" >&2; exit 3; fi
                    echo ok
                done
                """#)
            try sb.writeRules("*  file  retries=2  backoff=10ms  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("msg", "x")
            let ok = try await sb.waitForLine("ok") { $0.verb == "ok" }
            let fail = try #require(sb.log.lines("fail").first)
            #expect(fail["exit"] == "3" && fail["err"] == "going down", "\(fail)")
            #expect(fail["id"] == ok["id"] && ok["attempt"] == nil)
            let runs = sb.log.lines("run")
            #expect(runs.count == 2 && runs[0]["pid"] != runs[1]["pid"] && runs[1]["attempt"] == "2", "\(runs)")
            #expect(sb.log.lines("error").contains { $0["state"] == "exited" && $0["exit"] == "3" }, "the crash is logged")
            #expect(!sb.existsInSpool("msg"))
        }
    }

    @Test func aWorkerThatKeepsDyingIsNotStartedInATightLoop() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("*  file  retries=5  backoff=10ms  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("msg", "x")
            let dead = try await sb.waitForLine("dead") { $0.verb == "dead" }
            #expect(dead["attempts"] == "6")
            let starts = sb.log.lines("worker").filter { $0["state"] == "started" }.compactMap(\.milliseconds)
            #expect(starts.count == 6)
            let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 >= 90 } && gaps.last! >= 1500, "each restart waits longer (100 ms, doubled), though retries come every 10 ms: \(gaps)")
            let deaths = sb.log.lines("error").filter { $0["state"] == "exited" }
            #expect(deaths.count == 6 && deaths.allSatisfy { $0["restart_in"] != nil && $0["err"]?.contains("without answering") == true }, "\(deaths)")
        }
    }

    @Test func reloadRestartsAChangedWorkerOnceItsRequestIsDone() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while IFS=' ' read -r id event name rest; do
                    echo "$1 $$ $name" >> "$OUT/served"
                    while [ "$name" = slow ] && [ ! -f "$OUT/go" ]; do sleep 0.02; done
                    echo ok
                done
                echo "$1 $$ eof" >> "$OUT/served"
                """#)
            try sb.writeRules("*  file  worker  ./h/worker.sh v1\n")
            try await sb.startDaemon()
            try sb.drop("slow", "x")
            try await sb.waitFor("the slow request to be in flight") { (Files.readText(sb.out + "/served") ?? "").contains("slow") }
            try sb.replaceRules("*  file  worker  ./h/worker.sh v2\n")
            try await sb.waitForLine("reload") { $0.verb == "reload" }
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("the old worker to finish and exit") { (Files.readText(sb.out + "/served") ?? "").contains("v1") && (Files.readText(sb.out + "/served") ?? "").contains("eof") }
            try sb.drop("after", "x")
            try await sb.waitFor("both answered") { sb.log.lines("ok").count == 2 }
            let served = (Files.readText(sb.out + "/served") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
            #expect(served.map { "\($0[0]) \($0[2])" } == ["v1 slow", "v1 eof", "v2 after"], "\(served)")
            #expect(served[0][1] == served[1][1] && served[0][1] != served[2][1])
        }
    }

    @Test func sigtermClosesTheWorkersStdinAndWaitsForIt() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while read -r request; do echo ok; done
                sleep 0.3
                echo done > "$OUT/eof"
                """#)
            try sb.writeRules("*  file  worker  ./h/worker.sh\n")
            let daemon = try await sb.startDaemon()
            try sb.drop("msg", "x")
            try await sb.waitForLine("ok") { $0.verb == "ok" }
            #expect(try await daemon.stop() == .exited(0))
            #expect(Files.readText(sb.out + "/eof") == "done\n", "the worker saw EOF and was waited for")
            let exited = try #require(sb.log.lines("worker").first { $0["state"] == "exited" })
            #expect(exited["exit"] == "0" && exited["served"] == "1")
            let verbs = sb.log.lines.map(\.verb)
            #expect(verbs.lastIndex(of: "worker")! < verbs.lastIndex(of: "stop")!, "the daemon stops after its worker")
        }
    }

    @Test func aWorkerThatIgnoresEndOfFileIsStoppedAtTheGracesEnd() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", "#!/bin/sh\nwhile :; do if read -r request; then echo ok; else sleep 0.05; fi; done\n")
            try sb.writeRules("*  file  worker  ./h/worker.sh\n")
            let daemon = try await sb.startDaemon(["--grace", "1s"])
            try sb.drop("msg", "x")
            try await sb.waitForLine("ok") { $0.verb == "ok" }
            #expect(try await daemon.stop() == .exited(0))
            let exited = try #require(sb.log.lines("worker").first { $0["state"] == "exited" })
            #expect(exited["signal"] == "SIGTERM", "SIGTERM once the grace is over: \(exited)")
        }
    }

    @Test func userAppliesToTheWorker() async throws {
        guard requireRoot("a worker run as another user") else { return }
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", "#!/bin/sh\nwhile read -r request; do id -u >&2; echo ok; done\n")
            try sb.shareSpoolWithOthers()
            try sb.writeRules("*  file  user=nobody  worker  ./h/worker.sh\n")
            try await sb.startDaemon()
            try sb.drop("msg", "x")
            try await sb.waitForLine("ok") { $0.verb == "ok" }
            let out = try #require(sb.log.lines("out").first)
            #expect(out["line"] == String(getpwnam("nobody")!.pointee.pw_uid), "\(out)")
            #expect(out["id"] != nil && out["stream"] == "stderr", "stderr is logged with the request's id")
        }
    }

    @Test func killNineOfTheDaemonMidRequestKeepsTheMessage() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", #"""
                #!/bin/sh
                while IFS=' ' read -r id event name rest; do
                    echo "$$ $name" >> "$OUT/served"
                    while [ ! -f "$OUT/go" ]; do sleep 0.02; done
                    echo ok
                done
                """#)
            try sb.writeRules("*  file  worker  ./h/worker.sh\n")
            let first = try await sb.startDaemon()
            try sb.drop("msg", "x")
            try await sb.waitFor("the request in flight") { Files.readText(sb.out + "/served") != nil }
            first.signal(SIGKILL)
            #expect(try await first.waitForExit() == .signaled(SIGKILL))
            #expect(sb.claimed.count == 1, "the message waits in work/")
            try await sb.startDaemon()
            try await sb.waitForLine("the old worker stopped before the message runs again") {
                $0.verb == "error" && $0["err"]?.hasPrefix("a worker left by a previous daemon is stopped") == true
            }
            try Files.write(sb.out + "/go", "")
            try await sb.waitFor("the message handled again by a new worker") { sb.log.lines("ok").count == 1 }
            try await sb.waitFor("nothing left") { sb.claimed.isEmpty && !sb.existsInSpool("msg") }
            let served = (Files.readText(sb.out + "/served") ?? "").split(separator: "\n")
            #expect(served.count == 2 && served.allSatisfy { $0.hasSuffix(" msg") }, "handled at least once, by each daemon's worker: \(served)")
        }
    }

    @Test func logFailuresLogsOnlyFailuresAndCountsTheRest() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("""
                mkfifo  events
                events  fifo  log=failures  swift:discard
                bad     file  log=failures  retries=0  ./h/fail.sh
                """)
            try await sb.startDaemon()
            let fd = try #require(chanOpenFifoWriter(sb.spool + "/events"))
            defer { close(fd) }
            for index in 0..<50 { chanWrite(fd, "line \(index)\n") }
            try sb.drop("bad", "x")
            try await sb.waitForLine("dead") { $0.verb == "dead" }
            var status = ""
            let deadline = ContinuousClock.now + .seconds(60)
            while !status.contains("ok_unlogged=50\n") && ContinuousClock.now < deadline {
                status = try await sb.spoolbus(["status", "--spool", sb.spool, "--raw"]).out
                if !status.contains("ok_unlogged=50\n") { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(status.contains("ok_unlogged=50\n"), "fifty successes counted: \(status)")
            #expect(sb.log.lines("run").isEmpty && sb.log.lines("ok").isEmpty, "no run or ok line")
            #expect(sb.log.lines("recv").count == 1, "only the file's recv: no line is logged")
            #expect(sb.log.lines("fail").count == 1 && sb.log.lines("dead").count == 1, "failures are logged")
            #expect(sb.log.lines("dead").first?["name"] == "bad", "and name their message")
        }
    }
}
