import Glibc
import Testing

/// The dispatch log can be rotated: by logrotate (rename, then SIGHUP) or by the daemon itself
/// (`--log-max`), for the default log in `.spoolbus/` and for `--log FILE`.
@Suite struct LogRotationTests {
    /// Renames the log, sends SIGHUP, and checks that new lines go to a new file of mode 0640
    /// while the renamed one gets none.
    private func renameThenHangUp(_ sb: Sandbox, daemon: Daemon, log: DispatchLog) async throws {
        let moved = DispatchLog(path: log.path + ".1")
        try Files.rename(log.path, moved.path)
        daemon.signal(SIGHUP)
        try await sb.waitForLine(in: log, "the reload line in a new log") { $0.verb == "reload" }
        #expect(permissions(log.path) == 0o640, "a new log is 0640: \(String(permissions(log.path) ?? 0, radix: 8))")
        try sb.drop("inbox/after", "x\n")
        try await sb.waitForLine(in: log, "the message after the rotation") { $0.verb == "ok" }
        #expect(moved.lines.contains { $0.verb == "start" }, "the old lines stay in the renamed file")
        #expect(!moved.lines.contains { $0.verb == "reload" || $0.verb == "recv" }, "nothing new goes to the renamed file:\n\(moved.tail(10))")
    }

    @Test func hangUpReopensTheDefaultLog() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let log = DispatchLog(path: sb.state("dispatch.log"))
            let daemon = try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", sb.spool], log: log)
            try await renameThenHangUp(sb, daemon: daemon, log: log)
        }
    }

    @Test func hangUpReopensALogFile() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let daemon = try await sb.startDaemon()
            try await renameThenHangUp(sb, daemon: daemon, log: sb.log)
        }
    }

    /// For the default log in `.spoolbus/` and for `--log FILE`.
    @Test(arguments: [false, true])
    func logMaxKeepsTheLogAndOneOlderFile(logFile: Bool) async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let log = logFile ? sb.log : DispatchLog(path: sb.state("dispatch.log"))
            try await sb.startDaemon(["--log-max", "2K"],
                                     arguments: ["run", sb.rulesPath, "--spool", sb.spool] + (logFile ? ["--log", log.path] : []), log: log)
            let older = DispatchLog(path: log.path + ".1")
            // Each message writes about 300 bytes of log: a dozen pass 2 KiB twice.
            for round in 0..<12 {
                try sb.drop("inbox/m\(round)", "x\n")
                try await sb.waitFor("message \(round) done") { sb.runs.count > round }
            }
            try await sb.waitFor("a rotation into dispatch.log.1") { Files.exists(older.path) && !older.lines.isEmpty }
            try await sb.waitFor("the ok line of the last message") {
                let lines = older.lines + log.lines
                let id = lines.first { $0.verb == "recv" && $0["name"] == "inbox/m11" }?["id"]
                return lines.contains { $0.verb == "ok" && $0["id"] == id }
            }
            #expect(!Files.exists(log.path + ".2"), "one older file only")
            #expect(log.lines.first?.verb == "rotate", "a new log starts by saying it was rotated:\n\(log.tail(3))")
            #expect(permissions(log.path) == 0o640)
            let current = try #require(Files.size(log.path)), kept = try #require(Files.size(older.path))
            #expect(kept > 2048 && kept < 2048 + 4096, "the older file passed the limit by the last batch only: \(kept) bytes")
            #expect(current <= 2048 + 4096, "\(current) bytes")
            // No line is cut in two by a rotation.
            #expect(Files.read(older.path)?.last == 10)
        }
    }

    /// A FIFO put at the log's name before SIGHUP: the reopen blocked in open(2) until a reader
    /// came, and with it the whole bus. Now it is refused, said in an `error` line, and the lines
    /// go on to the file held before.
    @Test func aFifoAtTheLogsNameDoesNotStallTheBus() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let path = sb.root + "/bus.log"
            let daemon = try await sb.startDaemon(
                arguments: ["run", sb.rulesPath, "--spool", sb.spool, "--log", path], log: DispatchLog(path: path))
            let moved = DispatchLog(path: path + ".1")
            try Files.rename(path, moved.path)
            guard mkfifo(path, 0o666) == 0 else { throw SystemCallFailed("mkfifo") }
            defer { unlink(path) }
            daemon.signal(SIGHUP)
            let error = try await sb.waitForLine(in: moved, "an error about the reopen") { $0.verb == "error" }
            #expect(error["err"]?.contains("cannot reopen the dispatch log") == true, "\(error)")
            let status = try await sb.spoolbus(["status", "--spool", sb.spool], timeout: .seconds(20))
            #expect(status.status == .exited(0), "the daemon still answers: \(status)")
            try sb.drop("inbox/after", "x\n")
            try await sb.waitForLine(in: moved, "the message after the refused reopen") { $0.verb == "ok" }
        }
    }

    @Test func aLogThatIsASymlinkIsRefused() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            try Files.write(sb.root + "/elsewhere.log", "")
            guard symlink(sb.root + "/elsewhere.log", sb.root + "/link.log") == 0 else { throw SystemCallFailed("symlink") }
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.root + "/link.log"])
            #expect(result.status == .exited(1), "\(result)")
            #expect(result.err.contains("is a symbolic link, which the daemon never follows"), "\(result)")
            #expect(Files.size(sb.root + "/elsewhere.log") == 0, "nothing was written through the link")
        }
    }

    @Test func logMaxNeedsAFile() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--log", "-", "--log-max", "1M"])
            #expect(result.status == .exited(2), "\(result)")
            #expect(result.err.contains("--log-max needs a log file"), "\(result)")
            let bad = try await sb.spoolbus(["run", sb.rulesPath, "--log-max", "10X"])
            #expect(bad.status == .exited(2), "\(bad)")
        }
    }
}
