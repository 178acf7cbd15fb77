import Foundation
import Glibc
import Testing

/// Every fault is said: a full disk under the log or the dead letters, the inotify watch limit,
/// a spool that goes away, spools inside spools.
@Suite struct FaultTests {
    /// Log lines that fail to be written are counted in `status`, and an `error` line says how
    /// many were lost as soon as the log can be written again; no line is left cut in two.
    @Test func logLinesLostToAFullDiskAreCountedAndReported() async throws {
        guard requireRoot("a dispatch log on a full tmpfs") else { return }
        try await withSandbox { sb in
            let disk = sb.root + "/logdisk"
            try await withTmpfs(at: disk, kilobytes: 64) {
                let log = DispatchLog(path: disk + "/dispatch.log")
                try sb.writeRules("inbox/*  file  ./h/record.sh\n")
                let daemon = try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", sb.spool, "--log", log.path], log: log)
                try fillFileSystem(with: disk + "/filler")
                for index in 0..<20 { try sb.drop("inbox/m\(index)", "body \(index)\n") }
                try await sb.waitForRuns(20)
                var facts = try await sb.waitForStatus("log lines counted as lost") { Int($0["log_lost"] ?? "") ?? 0 > 0 }

                try Files.remove(disk + "/filler")
                try sb.drop("inbox/after", "after\n")
                let report = try await sb.waitForLine(in: log, "error with lost=") { $0.verb == "error" && $0["lost"] != nil }
                facts = try await sb.statusFacts()
                #expect(Int(report["lost"] ?? "") == Int(facts["log_lost"] ?? ""), "\(report) vs \(facts)")
                #expect(report["err"]?.contains("No space left on device") == true, "\(report)")
                #expect(report.milliseconds != nil, "the report starts a line of its own: \(report)")
                try await sb.waitForLine(in: log, "recv of the message after") { $0.verb == "recv" && $0["name"] == "inbox/after" }
                // At most the one line the full disk cut short is not a log line, and it was
                // ended before the report.
                let raw = log.rawLines
                let cut = raw.indices.filter { LogLine.parse(raw[$0])?.milliseconds == nil }
                #expect(cut.count <= 1, "lines that are not log lines: \(cut.map { raw[$0].lossy })")
                for index in cut { #expect(index + 1 < raw.count && raw[index + 1] == report.raw, "a cut line is followed by the report") }
                try await daemon.stop()
            }
        }
    }

    /// A dead letter that cannot be written for lack of space stays in `work/` only until space
    /// returns: it is tried again with backoff, without a restart.
    @Test func deadLetterIsBuriedOnceSpaceReturns() async throws {
        guard requireRoot("a spool on a full tmpfs") else { return }
        try await withFullDiskGate(rules: "inbox/*  file  retries=0  ./h/gate.sh\n") { sb in
            let daemon = try await sb.startDaemon()
            try sb.drop("inbox/doomed", "doomed\n")
            try await sb.waitForLine("run of the doomed message") { $0.verb == "run" }
            try fillFileSystem(with: sb.spool + "/filler")
            try Files.write(sb.out + "/go", "")
            let error = try await sb.waitForLine("error burying the dead letter") { $0.verb == "error" && $0["retry"] != nil }
            #expect(error["err"]?.contains("No space left on device") == true, "\(error)")
            #expect(sb.claimed.count == 1, "still in work/: \(sb.claimed.map(\.lossy))")
            #expect(try await sb.statusFacts()["unsettled"] == "1")

            try Files.remove(sb.spool + "/filler")
            try await sb.waitFor("the dead letter in failed/") {
                Files.list(sb.state("failed")).contains { $0.lossy.hasSuffix(".inbox%2Fdoomed") }
            }
            #expect(Files.list(sb.state("failed")).contains { $0.lossy.hasSuffix("+reason") })
            #expect(sb.claimed.isEmpty, "work/ is empty: \(sb.claimed.map(\.lossy))")
            #expect(try await sb.statusFacts()["unsettled"] == "0")
            try await daemon.stop()
        }
    }

    /// A folder that cannot be watched because the watch limit is reached is named with the
    /// limit to raise, tried again with backoff, and scanned once watched. The daemon runs in a
    /// user namespace of its own, so lowering its limit touches no other process.
    @Test func folderBeyondTheWatchLimitIsWatchedAndScannedLater() async throws {
        guard requireRoot("a user namespace with a low inotify watch limit") else { return }
        try await withSandbox { sb in
            try sb.writeRules("**  file  ./h/record.sh\n")
            let daemon = try await NamespacedDaemon(in: sb)
            defer { daemon.kill() }
            try await daemon.setWatchLimit(0)
            try sb.drop("late/inner/m", "in an unwatched folder\n")
            let error = try await sb.waitForLine("error naming the watch limit") { $0.verb == "error" && $0["name"] == "late" }
            let message = error["err"] ?? ""
            #expect(message.contains("fs.inotify.max_user_watches"), "\(error)")
            #expect(!message.contains("No space left on device"), "\(error)")
            #expect(try await sb.statusFacts()["unwatched"] == "1")
            #expect(sb.runs.isEmpty)

            try await daemon.setWatchLimit(1000)
            let run = try await sb.waitForRun("the message in the folder watched late") { $0.name == Bytes(text: "late/inner/m") }
            #expect(run.pathContent == Bytes(text: "in an unwatched folder\n"))
            try await sb.waitForLine("rescan of the folder") { $0.verb == "rescan" && $0["reason"] == "watch" && $0["name"] == "late" }
            // Watched now: a new file there arrives by its event.
            try sb.drop("late/inner/n", "n\n")
            _ = try await sb.waitForRun("a new message in the folder") { $0.name == Bytes(text: "late/inner/n") }
            #expect(try await sb.statusFacts()["unwatched"] == "0")
        }
    }

    @Test(arguments: ["rename", "remove"])
    func spoolGoneMakesTheDaemonExitWithStatus1(_ how: String) async throws {
        try await withSandbox { sb in
            try sb.writeRules("**  file  ./h/record.sh\n")
            let daemon = try await sb.startDaemon()
            if how == "rename" {
                try Files.rename(sb.spool, sb.root + "/spool-moved")
            } else {
                Spawner.runToCompletion(["/bin/rm", "-rf", sb.spool])
            }
            let status = try await daemon.waitForExit(timeout: .seconds(30))
            #expect(status == .exited(1), "\(status)\n\(daemon.stderr)")
            let error = try await sb.waitForLine("error about the spool") { $0.verb == "error" && $0["spool"] != nil }
            #expect(error["err"]?.contains(how == "rename" ? "was moved or renamed" : "was deleted (its state folder .spoolbus is gone)") == true, "\(error)")
            #expect(daemon.stderr.contains("spoolbus: error: the spool \(sb.spool) "), "\(daemon.stderr)")
        }
    }

    @Test func daemonRefusesASpoolInsideAServedSpool() async throws {
        try await withSandbox { sb in
            try sb.writeRules("**  file  ./h/record.sh\n")
            let outer = try await sb.startDaemon()
            let inner = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool + "/inner", "--log", sb.root + "/inner.log"])
            #expect(inner.status == .exited(1), "\(inner)")
            #expect(inner.err.hasPrefix("spoolbus: error: spool \(sb.spool)/inner is inside the spool \(sb.spool), served by pid \(outer.pid);"), "\(inner)")
            #expect(!Files.exists(sb.spool + "/inner/.spoolbus"), "nothing was created")
            try await outer.stop()
        }
    }

    @Test func daemonLeavesAServedSpoolInsideItsOwnAlone() async throws {
        try await withSandbox { sb in
            try sb.writeRules("**  file  ./h/record.sh {name}\n")
            let innerLog = DispatchLog(path: sb.root + "/inner.log")
            let inner = try await sb.startDaemon(
                arguments: ["run", sb.rulesPath, "--spool", sb.spool + "/inner", "--log", innerLog.path], log: innerLog)
            let outer = try await sb.startDaemon()
            let error = try await sb.waitForLine("error about the inner spool") { $0.verb == "error" && $0["name"] == "inner" }
            #expect(error["err"]?.contains("served by pid \(inner.pid)") == true, "\(error)")

            try sb.drop("inner/x", "for the inner daemon\n")
            try sb.drop("y", "for the outer daemon\n")
            try await sb.waitForRuns(2)
            #expect(sb.runs.map { $0.tag }.sorted() == ["x", "y"], "each message handled once: \(sb.runs)")
            #expect(sb.log.ids(of: "inner/x").isEmpty, "the outer daemon left inner/x alone")
            #expect(innerLog.ids(of: "x").count == 1)
            try await outer.stop()
            try await inner.stop()
        }
    }
}
