import Foundation
import Glibc
import Testing

extension ChannelTests {
    @Suite struct Control {
        /// The `key=value` lines of a `status` answer.
        static func status(_ box: ChanSandbox) throws -> [String: String] {
            let client = try ChanSocket(connectingTo: box.control)
            client.send("status\n")
            var facts: [String: String] = [:]
            for line in client.readToEnd().split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                facts[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            return facts
        }

        @Test func controlSocketAnswersStatus() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock
                    mkfifo events
                    ask.sock  socket  ./h/record.sh sock
                    events    fifo    ./h/record.sh fifo
                    inbox/*   file    ./h/record.sh file
                    """)
                var info = stat()
                #expect(stat(box.control, &info) == 0)
                #expect(info.st_mode & 0o777 == 0o600)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("one\n")
                _ = client.readLine()
                try await chanWait("the socket message to be handled", details: box.report()) { !box.records().isEmpty }
                // The handler writes its record before it exits; the daemon counts `ok` once it has reaped it.
                try await chanWait("the daemon to count the run ok", details: box.report()) { try Self.status(box)["ok"] == "1" }
                let facts = try Self.status(box)
                #expect(facts["pid"] == String(box.daemon?.processIdentifier ?? -1))
                #expect(facts["rules_loaded"] == "3")
                #expect(facts["received"] == "1")
                #expect(facts["ok"] == "1")
                #expect(facts["fifos"] == "1")
                #expect(facts["sockets"] == "1")
                #expect(facts["clients"] == "1")
                #expect(facts["paused"] == "no")
                for key in ["uptime", "failed", "dead", "nomatch", "running", "queued", "too_long", "clients_refused"] {
                    #expect(facts[key] != nil, "missing \(key)")
                }
            }
        }

        @Test func watchSeesMessagesDispatchedAfterItStarted() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    inbox/*   file  ./h/record.sh inbox
                    other/*   file  ./h/record.sh other
                    """)
                let watcher = try ChanSocket(connectingTo: box.control)
                watcher.send("watch inbox/*\n")
                #expect(watcher.readLine() == "watching inbox/*")
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: box.spool + "/other", withIntermediateDirectories: true)
                try "x\n".write(toFile: box.spool + "/other/b.msg", atomically: true, encoding: .utf8)
                try await chanWait("other/b.msg to be handled", details: box.report()) { box.records().contains { $0.tag == "other" } }
                try "x\n".write(toFile: box.spool + "/inbox/a.msg", atomically: true, encoding: .utf8)
                var seen: [ChanLogLine] = []
                while let line = watcher.readLine() {
                    let parsed = ChanLogLine(line)
                    seen.append(parsed)
                    if parsed.verb == "ok" { break }
                }
                #expect(seen.map(\.verb) == ["recv", "run", "ok"], "\(seen)")
                #expect(seen.first?["name"] == "inbox/a.msg")
                #expect(!seen.contains { $0.raw.contains("other/b.msg") })
                // The lines are the dispatch log's own (which may reach the file a moment later).
                try await chanWait("the watched lines in the log file", details: box.report()) {
                    let logged = Set(box.logLines().map(\.raw))
                    return seen.allSatisfy { logged.contains($0.raw) }
                }
            }
        }

        @Test func slowWatcherIsDroppedNotWaitedFor() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events  fifo  swift:discard
                    """)
                let watcher = try ChanSocket(connectingTo: box.control)
                var small: Int32 = 4096
                setsockopt(watcher.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
                watcher.send("watch\n")
                #expect(watcher.readLine() == "watching **")
                // The watcher reads nothing more while thousands of messages go by.
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                let line = String(repeating: "z", count: 200) + "\n"
                for _ in 0..<20 { chanWrite(fd, String(repeating: line, count: 500)) }
                close(fd)
                try await chanWait("10000 messages handled", timeout: .seconds(120), details: box.report()) {
                    box.logCount("ok") >= 10_000
                }
                #expect(box.logLines().contains { $0.verb == "error" && $0["err"]?.contains("watch") == true })
                #expect(try Self.status(box)["watchers_dropped"] == "1")
            }
        }

        @Test func retryThroughTheControlSocket() async throws {
            try await withChanSandbox { box in
                try box.script("flaky.sh", #"[ -e "$OUT/healed" ] || exit 1; cat > "$OUT/healed-body.tmp" && mv "$OUT/healed-body.tmp" "$OUT/healed-body""#)
                try await box.start("inbox/*  file  retries=0  ./h/flaky.sh")
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try "body\n".write(toFile: box.spool + "/inbox/with space.msg", atomically: true, encoding: .utf8)
                try await chanWait("a dead letter", details: box.report()) { box.logLines().contains { $0.verb == "dead" } }
                FileManager.default.createFile(atPath: box.out + "/healed", contents: nil)
                let missing = try ChanSocket(connectingTo: box.control)
                missing.send("retry nothing.msg\n")
                #expect(missing.readToEnd() == "missing nothing.msg\n")
                let client = try ChanSocket(connectingTo: box.control)
                client.send("retry \"inbox/with space.msg\"\n")
                let answer = client.readToEnd()
                #expect(answer.hasPrefix("retried "), "\(answer)")
                #expect(answer.hasSuffix(" \"inbox/with space.msg\"\n"), "\(answer)")
                try await chanWait("the retried message to succeed", details: box.report()) {
                    FileManager.default.fileExists(atPath: box.out + "/healed-body")
                }
                #expect(try String(contentsOfFile: box.out + "/healed-body", encoding: .utf8) == "body\n")
            }
        }

        @Test func backPressurePausesChannelsAndLosesNothing() async throws {
            try await withChanSandbox { box in
                // Ten FIFOs into one slow lane (a program per line, one at a time): each FIFO
                // stops being read at its own limit (throttles), and together they saturate
                // the dispatcher (pauses).
                let names = (0..<10).map { "events\($0)" }
                try await box.start(names.map { "mkfifo \($0)" }.joined(separator: "\n") + """

                    events*  fifo  /bin/true
                    """, arguments: ["--jobs", "1"])
                let perFifo = 400
                let writers = try names.map { try #require(chanOpenFifoWriter(box.spool + "/" + $0)) }
                for (index, fd) in writers.enumerated() {
                    chanWrite(fd, (1...perFifo).map { "fifo \(index) line \($0)\n" }.joined())
                }
                for fd in writers { close(fd) }
                let total = perFifo * names.count
                try await chanWait("\(total) messages handled", timeout: .seconds(120), details: box.report()) {
                    box.logCount("ok") >= total
                }
                #expect(box.logCount("recv") == total)
                let facts = try Self.status(box)
                #expect(Int(facts["throttles"] ?? "0") ?? 0 >= 1, "\(facts)")
                #expect(Int(facts["pauses"] ?? "0") ?? 0 >= 1, "\(facts)")
                #expect(facts["paused"] == "no")
            }
        }

        @Test func statusCommandWithAndWithoutADaemon() async throws {
            try await withChanSandbox { box in
                let before = try box.command(["status", "--spool", box.spool])
                #expect(before.status == 1)
                #expect(before.out.isEmpty)
                #expect(before.err.hasPrefix("spoolbus: error: no daemon serves spool '\(box.spool)'"), "\(before.err)")
                try await box.start("""
                    listen ask.sock
                    mkfifo events
                    events    fifo    ./h/record.sh fifo
                    ask.sock  socket  ./h/record.sh sock
                    """)
                let during = try box.command(["status", "--spool", box.spool])
                #expect(during.status == 0, "\(during.err)")
                let pid = box.daemon?.processIdentifier ?? -1
                #expect(during.out.hasPrefix("pid        \(pid)\nuptime     "), "\(during.out)")
                #expect(during.out.contains("\nrules      \(box.root)/spoolbus.rules, 2 loaded\n"), "\(during.out)")
                #expect(during.out.contains("\nchannels   fifos 1, sockets 1, clients 0, watchers 0, queues 0\n"), "\(during.out)")
                let raw = try box.command(["status", "--raw", "--spool", box.spool])
                #expect(raw.out.split(separator: "\n").contains("pid=\(pid)"))
                try await box.stop()
                let after = try box.command(["status", "--spool", box.spool])
                #expect(after.status == 1)
                #expect(after.err.contains("no daemon serves spool"))
            }
        }

        @Test func watchCommandPrintsMessagesDispatchedAfterItStarted() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events   fifo  ./h/record.sh fifo
                    inbox/*  file  ./h/record.sh file
                    """)
                let watch = try await Self.startWatch("events", box)
                defer { Self.stop(watch) }
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try "not watched\n".write(toFile: box.spool + "/inbox/a", atomically: true, encoding: .utf8)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "usb-added\n")
                close(fd)
                let output = { String(decoding: FileManager.default.contents(atPath: box.root + "/watch.out") ?? Data(), as: UTF8.self) }
                try await chanWait("the watch to print the fifo message's ok", details: output()) {
                    output().split(separator: "\n").contains { ChanLogLine(String($0)).verb == "ok" }
                }
                try await chanWait("the file message to be handled too") { box.records().count == 2 }
                let lines = output().split(separator: "\n").map { ChanLogLine(String($0)) }
                #expect(lines.first?.verb == "recv")
                #expect(lines.first?["name"] == "events")
                #expect(lines.first?["event"] == "fifo")
                #expect(!lines.contains { $0["name"] == "inbox/a" })
                #expect(watch.isRunning)
            }
        }

        /// Starts `spoolbus watch PATTERN` with its output in ROOT/watch.out, and waits until the
        /// daemon counts it as a watcher.
        private static func startWatch(_ pattern: String, _ box: ChanSandbox) async throws -> Process {
            let watch = Process()
            watch.executableURL = URL(fileURLWithPath: chanBinary)
            watch.arguments = ["watch", pattern, "--spool", box.spool]
            FileManager.default.createFile(atPath: box.root + "/watch.out", contents: nil)
            watch.standardOutput = FileHandle(forWritingAtPath: box.root + "/watch.out")
            watch.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try watch.run()
            do {
                try await chanWait("the watcher to subscribe", details: box.report()) {
                    try box.command(["status", "--raw", "--spool", box.spool]).out.contains("\nwatchers=1\n")
                }
            } catch {
                stop(watch)
                throw error
            }
            return watch
        }

        /// SIGKILL: a process started from a test thread inherits its blocked SIGTERM.
        private static func stop(_ watch: Process) {
            if watch.isRunning { kill(watch.processIdentifier, SIGKILL); watch.waitUntilExit() }
        }

        @Test func broadcastHandsTheBodyToMatchingWatchers() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    tray/*   file  swift:broadcast
                    other/*  file  swift:broadcast
                    """)
                let watch = try await Self.startWatch("tray/*", box)
                defer { Self.stop(watch) }
                for folder in ["tray", "other"] {
                    try FileManager.default.createDirectory(atPath: box.spool + "/" + folder, withIntermediateDirectories: true)
                }
                try "not for this watcher\n".write(toFile: box.spool + "/other/x", atomically: true, encoding: .utf8)
                try "battery low\n".write(toFile: box.spool + "/tray/notice", atomically: true, encoding: .utf8)
                let output = { String(decoding: FileManager.default.contents(atPath: box.root + "/watch.out") ?? Data(), as: UTF8.self) }
                try await chanWait("the watch to print the broadcast message", details: output()) {
                    output().split(separator: "\n").contains { ChanLogLine(String($0)).verb == "message" }
                }
                let message = try #require(output().split(separator: "\n").map { ChanLogLine(String($0)) }.first { $0.verb == "message" })
                #expect(message["name"] == "tray/notice")
                #expect(message["body"] == "battery low\n")
                try await chanWait("other/x to be handled too", details: box.report()) { !FileManager.default.fileExists(atPath: box.spool + "/other/x") }
                #expect(!output().contains("other/x"), "a watcher sees only names matching its pattern")
            }
        }

        @Test func retryCommandGoesThroughTheRunningDaemon() async throws {
            try await withChanSandbox { box in
                try box.script("flaky.sh", #"[ -e "$OUT/healed" ] || exit 1; cat > "$OUT/healed-body.tmp" && mv "$OUT/healed-body.tmp" "$OUT/healed-body""#)
                try await box.start("inbox/*  file  retries=0  ./h/flaky.sh")
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try "one\n".write(toFile: box.spool + "/inbox/one", atomically: true, encoding: .utf8)
                try await chanWait("a dead letter", details: box.report()) { box.logLines().contains { $0.verb == "dead" } }
                let dead = box.logLines().filter { $0.verb == "dead" }
                let id = dead.first?["id"] ?? "?"
                FileManager.default.createFile(atPath: box.out + "/healed", contents: nil)
                let missing = try box.command(["retry", "inbox/none", "--spool", box.spool])
                #expect(missing.status == 1)
                #expect(missing.err == "spoolbus: error: no dead letter named 'inbox/none'\n")
                let retried = try box.command(["retry", "--all", "--spool", box.spool])
                #expect(retried.status == 0, "\(retried.err)")
                let expected = "put back inbox/one (id \(id))\n"
                #expect(retried.out == expected)
                let report = box.report
                try await chanWait("the retried message to succeed", details: report()) {
                    FileManager.default.fileExists(atPath: box.out + "/healed-body")
                }
                let none = try box.command(["retry", "--all", "--spool", box.spool])
                #expect(none.status == 0)
                #expect(none.err.hasPrefix("spoolbus: no dead letters in "))
            }
        }
    }
}
