import Glibc
import Testing

/// Stopping is visible: a `stopping` line says what is in flight and the grace left, a second
/// signal ends the grace, and `watch` clients get the final `stop` line.
@Suite struct StoppingTests {
    @Test func secondSignalEndsTheGraceAtOnce() async throws {
        try await withSandbox { sb in
            try sb.writeRules("slow/* file sleep 300\n")
            let daemon = try await sb.startDaemon(["--grace", "10m"])
            try sb.drop("slow/a", "x\n")
            try await sb.waitForLine("the run of slow/a") { $0.verb == "run" }
            daemon.signal(SIGTERM)
            let first = try await sb.waitForLine("a stopping line") { $0.verb == "stopping" }
            #expect(first["signal"] == "SIGTERM")
            #expect(first["running"] == "1", "\(first)")
            #expect(first["grace"] == "10m", "\(first)")
            #expect(daemon.isRunning, "the grace lets the handler run on")

            daemon.signal(SIGINT)
            // Far less than the ten-minute grace: the handler is stopped now.
            let status = try await daemon.waitForExit(timeout: .seconds(120))
            #expect(status == .exited(0))
            let stopping = sb.log.lines("stopping")
            #expect(stopping.count == 2, "\(sb.log.tail(6))")
            #expect(stopping.last?["signal"] == "SIGINT")
            #expect(stopping.last?["grace"] == "0s", "the second line says the grace is over")
            #expect(sb.log.lines("putback").count == 1, "the message stopped mid-run is put back:\n\(sb.log.tail(6))")
            #expect(sb.log.lines.last?.verb == "stop")
        }
    }

    @Test func watchersGetTheStopLine() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let daemon = try await sb.startDaemon()
            // One watching everything, one only some names: both learn why the stream ends.
            let watches = try [["watch"], ["watch", "inbox/*"]].map { try sb.startSpoolbus($0 + ["--spool", sb.spool]) }
            _ = try await sb.waitForStatus("the watchers to subscribe") { $0["watchers"] == "2" }
            try await daemon.stop()
            for watch in watches {
                try await sb.waitFor("watch to end") { !watch.child.isRunning }
                let lines = (Files.readText(watch.stdout) ?? "").nonEmptyLines
                #expect(lines.contains { $0.contains(" stopping ") }, "\(watch.child.label): \(lines)")
                #expect(lines.last?.contains(" stop ") == true, "the last line a watcher gets is the stop line: \(watch.child.label): \(lines)")
                #expect(watch.child.poll() == .exited(0), "a watch ended by the stop line exits 0 quietly: \(watch.child.label)")
                #expect(Files.readText(String(watch.stdout.dropLast(".stdout".count)) + ".stderr")?.isEmpty != false)
            }
        }
    }

    /// A daemon that dies (SIGKILL) sends no stop line: the watch exits 1 and says so.
    @Test(arguments: [false, true])
    func aWatchEndedWithoutAStopLineExitsOne(json: Bool) async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let daemon = try await sb.startDaemon()
            let watch = try sb.startSpoolbus(["watch", "--spool", sb.spool] + (json ? ["--json"] : []))
            _ = try await sb.waitForStatus("the watcher to subscribe") { $0["watchers"] == "1" }
            daemon.signal(SIGKILL)
            try await sb.waitFor("watch to end") { !watch.child.isRunning }
            #expect(watch.child.poll() == .exited(1))
            let stderr = Files.readText(String(watch.stdout.dropLast(".stdout".count)) + ".stderr") ?? ""
            #expect(stderr.contains("without a stop line"), "\(stderr)")
        }
    }
}

/// Lines the daemon holds when it stops are kept as dead letters, all made durable with one
/// sync: kept and buried one by one they took five fsyncs each, and a flood of held lines kept
/// the stop waiting for seconds (past a service manager's stop timeout, whose SIGKILL then lost
/// the lines not yet written).
@Suite struct StopPutBackTests {
    @Test func heldLinesAreKeptAsDeadLettersWithOneSync() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                mkfifo events
                events fifo concurrency=1 sleep 300
                """)
            let daemon = try await sb.startDaemon(["--grace", "1s"])
            // 120: below the 128 lines a FIFO may hold unsettled before its reading pauses.
            let fifo = try #require(chanOpenFifoWriter(sb.spoolPath("events")))
            chanWrite(fifo, (1...120).map { "line \($0)\n" }.joined())
            close(fifo)
            _ = try await sb.waitForStatus("120 lines held") { $0["queued"] == "119" && $0["running"] == "1" }
            let trace = sb.root + "/syncs.strace"
            let tracer = try Spawner.spawn(
                ["/usr/bin/strace", "-f", "-qq", "-e", "trace=fsync,fdatasync,syncfs,sync,sync_file_range", "-o", trace, "-p", "\(daemon.pid)"]
                    .map { Bytes(text: $0) },
                environment: [:], directory: sb.root, stdin: "/dev/null", stdout: sb.root + "/strace.stdout",
                stderr: sb.root + "/strace.stderr", label: "strace of the daemon")
            defer { tracer.killAndReap() }
            try await sb.waitFor("strace to attach") {
                (Files.readText("/proc/\(daemon.pid)/status") ?? "").split(separator: "\n")
                    .contains { $0.hasPrefix("TracerPid:") && !$0.hasSuffix("\t0") }
            }
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit(timeout: .seconds(120)) == .exited(0))
            try await sb.waitFor("strace to end with the daemon") { !tracer.isRunning }
            #expect(sb.log.lines("putback").count == 120, "\(sb.log.tail(5))")
            let failed = Files.list(sb.spool + "/.spoolbus/failed")
            #expect(failed.filter { !$0.contains(UInt8(ascii: "+")) }.count == 120, "dead letters")
            #expect(failed.filter { $0.count > 5 && Array($0.suffix(5)) == Bytes(text: "+line") }.count == 120, "each with its channel's record, for retry")
            let syncs = (Files.readText(trace) ?? "").nonEmptyLines.filter { $0.contains("sync") && !$0.contains("resumed") }
            #expect(syncs.count <= 5, "\(syncs.count) syncs for 120 lines:\n\(syncs.prefix(10).joined(separator: "\n"))")
        }
    }
}
