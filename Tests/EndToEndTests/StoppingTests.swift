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
