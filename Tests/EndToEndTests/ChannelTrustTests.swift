import Foundation
import Glibc
import Testing

extension ChannelTests {
    /// Issue 8: a socket's mode never reaches another file; no line that was read or answered
    /// `ok` is lost, whether its handlers give up, the daemon stops, or it is killed.
    @Suite struct Trust {
        // Finding 4: `mode=` is applied to the node that was bound, never to the name.
        @Test func aNewModeNeverReachesWhatWasPutAtTheSocketsName() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock mode=0660
                    ask.sock  socket  ./h/record.sh sock
                    """)
                let socketPath = box.spool + "/ask.sock"
                #expect(chanMode(socketPath) == 0o660)
                #expect(chanType(socketPath) == S_IFSOCK)
                #expect(box.stateFolderIsEmpty("tmp"), "the socket was bound in tmp/ and renamed into place")

                // Someone swaps the socket for a symlink to a file outside the spool.
                let victim = box.root + "/victim"
                try "not the daemon's\n".write(toFile: victim, atomically: false, encoding: .utf8)
                #expect(chmod(victim, 0o600) == 0)
                #expect(symlink(victim, box.spool + "/.swap") == 0)
                #expect(rename(box.spool + "/.swap", socketPath) == 0)

                let reloads = box.logCount("reload")
                try "listen ask.sock mode=0666\nask.sock  socket  ./h/record.sh sock\n"
                    .write(toFile: box.root + "/spoolbus.rules", atomically: true, encoding: .utf8)
                box.signal(SIGHUP)
                try await chanWait("the reload", details: box.report()) { box.logCount("reload") > reloads }
                #expect(chanMode(victim) == 0o600, "the file the symlink points to kept its mode")

                try await box.stop()
                #expect(chanType(socketPath) == S_IFLNK, "at stop, only the daemon's own socket is unlinked")
                #expect(chanMode(victim) == 0o600)
            }
        }

        @Test func mkfifoGivesExactlyItsModeAndReplacesNothing() async throws {
            try await withChanSandbox { box in
                try FileManager.default.createDirectory(atPath: box.spool + "/taken", withIntermediateDirectories: true)
                try "a file\n".write(toFile: box.spool + "/taken/pipe", atomically: false, encoding: .utf8)
                try await box.start("""
                    mkfifo sub/events mode=0602
                    mkfifo taken/pipe
                    sub/events  fifo  ./h/record.sh fifo
                    """)
                #expect(chanType(box.spool + "/sub/events") == S_IFIFO)
                #expect(chanMode(box.spool + "/sub/events") == 0o602)
                #expect(box.spoolFile("taken/pipe") == "a file\n")
                #expect(box.logLines().contains { $0.verb == "error" && $0["name"] == "taken/pipe" })
                #expect(box.stateFolderIsEmpty("tmp"))
            }
        }

        // A FIFO line whose handlers give up is a dead letter with its body; `retry` through a
        // running daemon makes it a FIFO line again.
        @Test func deadFifoLineIsKeptWithItsBodyAndRetriedAsALine() async throws {
            try await withChanSandbox { box in
                try box.script("picky.sh", """
                    [ -e ./fixed ] || { echo "not yet" >&2; exit 3; }
                    exec ./h/record.sh picky
                    """)
                try await box.start("""
                    mkfifo events
                    events  fifo  retries=0  ./h/picky.sh
                    """)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                defer { close(fd) }
                chanWrite(fd, "first line\n")
                try await chanWait("the line to be dead", details: box.report()) { box.logLines().contains { $0.verb == "dead" } }
                let dead = try #require(box.logLines().first { $0.verb == "dead" })
                let kept = try #require(dead["kept"])
                #expect(kept.hasPrefix(".spoolbus/failed/"))
                #expect(box.spoolFile(kept) == "first line", "the dead letter holds the line")
                #expect(!box.logLines().contains { $0["body"] != nil }, "the body is not in the log")
                #expect(box.failedFiles().contains { $0.contains("rule 2: exited with status 3") && $0.contains("not yet") },
                        "the reason, with the handler's stderr, is kept beside it")

                try "".write(toFile: box.root + "/fixed", atomically: false, encoding: .utf8)
                let retry = try box.command(["retry", "events", "--spool", box.spool])
                #expect(retry.status == 0, "\(retry.err)")
                #expect(retry.out == "put back events (id \(dead["id"]!))\n")
                try await chanWait("the retried line", details: box.report()) { !box.records().isEmpty }
                let record = try #require(box.records().first)
                #expect(record.id == dead["id"])
                #expect(record.body == "first line")
                #expect(record["SPOOL_EVENT"] == "fifo")
                #expect(record["SPOOL_NAME"] == "events")
                try await chanWait("failed/ and work/ to be empty", details: box.report()) {
                    box.stateFolderIsEmpty("failed") && box.stateFolderIsEmpty("work")
                }
                #expect(chanType(box.spool + "/events") == S_IFIFO, "the FIFO was not replaced")
            }
        }

        // A socket line answered `ok` whose handlers give up is a dead letter; `retry` with no
        // daemon running puts it back, and the next start dispatches it as a socket line.
        @Test func deadSocketLineRetriedWhileNoDaemonRunsComesBackAtTheNextStart() async throws {
            try await withChanSandbox { box in
                try box.script("picky.sh", """
                    [ -e ./fixed ] || exit 3
                    exec ./h/record.sh picky
                    """)
                let rules = """
                    listen ask.sock
                    ask.sock  socket  retries=0  ./h/picky.sh
                    """
                try await box.start(rules)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("second line\n")
                let reply = try #require(client.readLine())
                #expect(reply.hasPrefix("ok "))
                try await chanWait("the line to be dead", details: box.report()) { box.logLines().contains { $0.verb == "dead" } }
                let kept = try #require(box.logLines().first { $0.verb == "dead" }?["kept"])
                #expect(box.spoolFile(kept) == "second line")
                try await box.stop()

                try "".write(toFile: box.root + "/fixed", atomically: false, encoding: .utf8)
                let retry = try box.command(["retry", "--all", "--spool", box.spool])
                #expect(retry.status == 0, "\(retry.err)")
                let replyID = String(reply.dropFirst(3))
                #expect(retry.out == "put back ask.sock (id \(replyID))\n")
                #expect(box.spoolFile("ask.sock") == nil, "a line is not put back as a file over the socket's name")

                try await box.restart(rules)
                try await chanWait("the retried line", details: box.report()) { !box.records().isEmpty }
                let record = try #require(box.records().first)
                #expect(record.body == "second line")
                #expect(record["SPOOL_EVENT"] == "socket")
                #expect(record["SPOOL_PEER_UID"] == String(getuid()))
                #expect(box.logLines().contains { $0.verb == "recv" && $0["recovered"] == "1" })
                try await chanWait("failed/ and work/ to be empty", details: box.report()) {
                    box.stateFolderIsEmpty("failed") && box.stateFolderIsEmpty("work")
                }
            }
        }

        // SIGTERM: lines already read are dispatched within the grace.
        @Test func linesReadBeforeStopAreDispatchedWithinTheGrace() async throws {
            try await withChanSandbox { box in
                try box.script("gate.sh", """
                    : > ./started
                    while [ ! -e ./go ]; do sleep 0.05; done
                    exec ./h/record.sh gate
                    """)
                try await box.start("""
                    mkfifo events
                    events  fifo  concurrency=1  ./h/gate.sh
                    """, arguments: ["--grace", "60s"])
                let path = box.spool + "/events"
                let fd = try #require(chanOpenFifoWriter(path))
                chanWrite(fd, "one\ntwo\nthree\n")
                close(fd)
                try await chanWait("the first handler", details: box.report()) { FileManager.default.fileExists(atPath: box.root + "/started") }
                try await chanWait("the daemon to read all three lines", details: box.report()) { box.logCount("recv") == 3 }
                box.signal(SIGTERM)
                // The daemon closes its FIFO once it has taken the stop: no reader any more.
                try await chanWait("the FIFO to be closed", details: box.report()) {
                    guard let probe = chanOpenFifoWriter(path) else { return true }
                    close(probe)
                    return false
                }
                try "".write(toFile: box.root + "/go", atomically: false, encoding: .utf8)
                #expect(try await box.waitForExit() == 0)
                #expect(box.records().map(\.body).sorted() == ["one", "three", "two"], "\(box.report())")
                #expect(box.logCount("putback") == 0)
                #expect(box.stateFolderIsEmpty("failed"))
            }
        }

        // SIGTERM: lines held back by back-pressure (read, not yet handed to the dispatcher)
        // are dispatched too, from a FIFO and from a socket client.
        @Test func linesHeldBackByBackPressureAreNotDroppedAtStop() async throws {
            try await withChanSandbox { box in
                try box.script("gate.sh", """
                    while [ ! -e ./go ]; do sleep 0.05; done
                    printf '%s\\n' "$SPOOL_MESSAGE" >> "./seen.$SPOOL_EVENT"
                    """)
                try await box.start("""
                    mkfifo events
                    listen ask.sock
                    events    fifo    concurrency=1  ./h/gate.sh
                    ask.sock  socket  concurrency=1  ./h/gate.sh
                    """, arguments: ["--grace", "60s"])
                let lines = (1...150).map { "line \($0)" }
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, lines.map { $0 + "\n" }.joined())
                close(fd)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send(lines.map { $0 + "\n" }.joined())
                // 128 unsettled lines per channel are dispatched; the rest wait in the daemon.
                try await chanWait("each channel to be throttled", details: box.report()) { box.logCount("recv") == 256 }
                box.signal(SIGTERM)
                try await chanWait("the socket to be removed", details: box.report()) {
                    !FileManager.default.fileExists(atPath: box.spool + "/ask.sock")
                }
                try "".write(toFile: box.root + "/go", atomically: false, encoding: .utf8)
                #expect(try await box.waitForExit() == 0)
                func seen(_ event: String) -> [String] {
                    (box.rootFile("seen." + event) ?? "").split(separator: "\n").map(String.init)
                }
                #expect(seen("fifo") == lines)
                #expect(seen("socket") == lines)
                #expect(box.logCount("putback") == 0)
                #expect((0..<150).allSatisfy { _ in client.readLine()?.hasPrefix("ok ") == true }, "every line was answered")
            }
        }

        // SIGTERM with a handler that outlasts the grace: the lines are kept as dead letters,
        // logged `putback`, not `fail`; `retry` dispatches them again as lines.
        @Test func linesNotDoneWhenTheGraceEndsArePutBackAsDeadLetters() async throws {
            try await withChanSandbox { box in
                try box.script("hang.sh", """
                    echo $$ > ./hang.pid.tmp && mv ./hang.pid.tmp ./hang.pid
                    exec sleep 1000
                    """)
                try await box.start("""
                    mkfifo events
                    events  fifo  concurrency=1  ./h/hang.sh
                    """, arguments: ["--grace", "1s"])
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "first\nsecond\n")
                close(fd)
                _ = try await box.waitForPid(in: "hang.pid")
                try await chanWait("the daemon to read both lines", details: box.report()) { box.logCount("recv") == 2 }
                box.signal(SIGTERM)
                #expect(try await box.waitForExit() == 0)

                let putBack = box.logLines().filter { $0.verb == "putback" }
                #expect(putBack.count == 2, "\(box.report())")
                #expect(Set(putBack.compactMap { $0["kept"].flatMap { box.spoolFile($0) } }) == ["first", "second"])
                #expect(putBack.contains { $0["stopped"] != nil }, "the running handler was stopped")
                #expect(!box.logLines().contains { $0.verb == "fail" || $0.verb == "dead" }, "\(box.report())")
                #expect(box.failedFiles().filter { $0.contains("stopped: the daemon stopped") }.count == 2, "each has a reason")

                let retry = try box.command(["retry", "--all", "--spool", box.spool])
                #expect(retry.status == 0, "\(retry.err)")
                try await box.restart("""
                    mkfifo events
                    events  fifo  ./h/record.sh again
                    """)
                try await chanWait("both lines again", details: box.report()) { box.records().count == 2 }
                #expect(box.records().map(\.body).sorted() == ["first", "second"])
                #expect(box.records().allSatisfy { $0["SPOOL_EVENT"] == "fifo" })
            }
        }

        // A file message whose handler the daemon stops is put back in `work/`, not failed.
        @Test func aFileWhoseHandlerIsStoppedAtStopIsLoggedPutBack() async throws {
            try await withChanSandbox { box in
                try box.script("hang.sh", """
                    echo $$ > ./hang.pid.tmp && mv ./hang.pid.tmp ./hang.pid
                    exec sleep 1000
                    """)
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try await box.start("inbox/*.msg  file  ./h/hang.sh", arguments: ["--grace", "1s"])
                try "body\n".write(toFile: box.spool + "/inbox/a.msg", atomically: true, encoding: .utf8)
                _ = try await box.waitForPid(in: "hang.pid")
                box.signal(SIGTERM)
                #expect(try await box.waitForExit() == 0)
                let putBack = try #require(box.logLines().first { $0.verb == "putback" }, "\(box.report())")
                #expect(putBack["name"] == "inbox/a.msg")
                #expect(putBack["stopped"] == "1")
                let kept = try #require(putBack["kept"])
                #expect(kept.hasPrefix(".spoolbus/work/"))
                #expect(box.spoolFile(kept) == "body\n")
                #expect(!box.logLines().contains { $0.verb == "fail" }, "\(box.report())")
            }
        }

        // `durable`: a line answered `ok` (or read from the FIFO) survives `kill -9`.
        /// A durable FIFO's lines are on disk once the daemon has read them, including those
        /// back-pressure holds back (a FIFO has 128 unsettled lines at most in the bus): one
        /// write of 200 lines, a blocked handler, kill -9, and all 200 come back.
        @Test func durableFifoLinesHeldBackByBackPressureSurviveKillNine() async throws {
            try await withChanSandbox { box in
                try box.script("block.sh", "exec sleep 1000")
                try await box.start("""
                    mkfifo events durable
                    events    fifo    ./h/block.sh
                    """)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, (1...200).map { "line \($0)\n" }.joined())
                try await chanWait("every line kept in work/", details: box.report()) {
                    let work = (try? FileManager.default.contentsOfDirectory(atPath: box.spool + "/.spoolbus/work")) ?? []
                    return work.filter { !$0.contains("+") }.count == 200
                }
                box.signal(SIGKILL)
                _ = try await box.waitForExit()
                close(fd)
                for pid in Leftovers.processes(of: box.root) { kill(pid, SIGKILL) }

                try await box.restart("""
                    mkfifo events durable
                    events    fifo    ./h/record.sh fifo
                    """)
                try await chanWait("all 200 lines handled after the restart", timeout: .seconds(120), details: box.report()) {
                    box.records().count == 200
                }
                #expect(Set(box.records().map(\.body)) == Set((1...200).map { "line \($0)" }))
            }
        }

        /// After kill -9, a durable line waits for the run of it the killed daemon left, as a file does.
        @Test func aRecoveredDurableLineWaitsForItsLeftoverRun() async throws {
            try await withChanSandbox { box in
                try box.script("slow.sh", """
                    echo $$ > ./left.pid.tmp && mv ./left.pid.tmp ./left.pid
                    sleep 2
                    touch ./left.done
                    """)
                try await box.start("""
                    listen ask.sock durable
                    ask.sock  socket  ./h/slow.sh
                    """)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("once at a time\n")
                #expect(try #require(client.readLine()).hasPrefix("ok "))
                _ = try await box.waitForPid(in: "left.pid")
                try await chanWait("the run's record", details: box.report()) {
                    Files.recordedRuns(spool: box.spool).count == 1
                }
                box.signal(SIGKILL)
                _ = try await box.waitForExit()

                // Written aside and renamed: `order` appears whole or not at all.
                try box.script("check.sh", "if [ -e ./left.done ]; then echo after; else echo beside; fi > ./order.tmp && mv ./order.tmp ./order")
                try await box.restart("""
                    listen ask.sock durable
                    ask.sock  socket  ./h/check.sh
                    """)
                try await chanWait("the recovered line's run", details: box.report()) {
                    FileManager.default.fileExists(atPath: box.root + "/order")
                }
                let order = try String(contentsOfFile: box.root + "/order", encoding: .utf8)
                #expect(order == "after\n", "the recovered line ran beside the leftover run of itself")
            }
        }

        @Test func durableLinesSurviveKillNine() async throws {
            try await withChanSandbox { box in
                try box.script("block.sh", """
                    echo $$ > "./$SPOOL_EVENT.pid.tmp" && mv "./$SPOOL_EVENT.pid.tmp" "./$SPOOL_EVENT.pid"
                    exec sleep 1000
                    """)
                try await box.start("""
                    listen ask.sock durable
                    mkfifo events durable
                    ask.sock  socket  ./h/block.sh
                    events    fifo    ./h/block.sh
                    """)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("keep me\n")
                let reply = try #require(client.readLine())
                #expect(reply.hasPrefix("ok "))
                let replyID = String(reply.dropFirst(3))
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "fifo line\n")
                close(fd)
                let handlers = [try await box.waitForPid(in: "socket.pid"), try await box.waitForPid(in: "fifo.pid")]

                box.signal(SIGKILL)
                _ = try await box.waitForExit()
                for handler in handlers { kill(handler, SIGKILL) }
                #expect(!box.stateFolderIsEmpty("work"), "the lines are on disk")

                try await box.restart("""
                    listen ask.sock durable
                    mkfifo events durable
                    ask.sock  socket  ./h/record.sh sock
                    events    fifo    ./h/record.sh fifo
                    """)
                try await chanWait("both lines handled after the restart", details: box.report()) { box.records().count == 2 }
                try await chanWait("work/ to be empty", details: box.report()) { box.stateFolderIsEmpty("work") }
                let socketLine = try #require(box.records().first { $0.tag == "sock" })
                #expect(socketLine.id == replyID)
                #expect(socketLine.body == "keep me")
                #expect(socketLine["SPOOL_EVENT"] == "socket")
                #expect(socketLine["SPOOL_PEER_UID"] == String(getuid()))
                let fifoLine = try #require(box.records().first { $0.tag == "fifo" })
                #expect(fifoLine.body == "fifo line")
                #expect(fifoLine["SPOOL_EVENT"] == "fifo")
            }
        }
    }
}
