import Foundation
import Glibc
import Testing

/// The files of `spool-example/systemd/`: the unit passes `systemd-analyze verify`, the init
/// script starts, reports, reloads and stops a daemon, the logrotate snippet rotates a live log.
@Suite struct OperationsFilesTests {
    /// `spool-example/systemd/` of this checkout.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("spool-example/systemd").path

    @Test func unitFilePassesSystemdAnalyzeVerify() async throws {
        try await withSandbox { sb in
            let analyze = try #require(["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { Files.exists($0) },
                                       "systemd-analyze is missing (.ci/run installs systemd)")
            let unit = try #require(Files.readText(Self.folder + "/spoolbus@.service"))
            #expect(unit.contains("\nType=notify\n"))
            #expect(unit.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"))
            #expect(unit.contains(" --log -\n"), "the log goes to the journal")
            for directive in ["WatchdogSec=", "ProtectSystem=strict", "ReadWritePaths=/var/spool/spoolbus/%i", "PrivateTmp=yes",
                              "ProtectHome=", "NoNewPrivileges=yes", "CapabilityBoundingSet="] {
                #expect(unit.contains("\n" + directive), "\(directive) is set")
            }
            let bounding = try #require(unit.split(separator: "\n").first { $0.hasPrefix("CapabilityBoundingSet=") })
            for capability in ["CAP_SETUID", "CAP_SETGID", "CAP_KILL"] {
                #expect(bounding.contains(capability), "user= rules and timeouts need \(capability)")
            }
            // verify checks that ExecStart's program exists: a copy runs the binary under test.
            let installed = "/usr/local/bin/spoolbus"
            #expect(unit.contains("ExecStart=\(installed) run "))
            try Files.makeDirectories(sb.root + "/units")
            let copy = sb.root + "/units/spoolbus@.service"
            try Files.write(copy, unit.replacingOccurrences(of: installed, with: spoolbusBinary))
            let result = try await sb.runProgram([analyze, "verify", copy])
            #expect(result.status == .exited(0), "\(result)")
            let complaints = result.err.nonEmptyLines.filter { $0.contains("spoolbus@") }
            #expect(complaints.isEmpty, "systemd-analyze has something to say about the unit:\n\(result.err)")
        }
    }

    /// Writes a defaults file for the init script that points it at the sandbox.
    private func initScript(_ sb: Sandbox, options: String = "--env OUT") throws -> (script: String, variables: [String: String]) {
        let defaults = sb.root + "/spoolbus.defaults"
        try Files.write(defaults, """
            SPOOLBUS=\(spoolbusBinary)
            SPOOLBUS_RULES=\(sb.rulesPath)
            SPOOLBUS_SPOOL=\(sb.spool)
            SPOOLBUS_OPTIONS="\(options)"
            SPOOLBUS_STDERR=\(sb.root)/init.stderr
            SPOOLBUS_STOP_WAIT=30

            """)
        return (Self.folder + "/spoolbus.init", ["SPOOLBUS_DEFAULTS": defaults])
    }

    @Test func initScriptStartsReportsReloadsAndStops() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let (script, variables) = try initScript(sb)
            let syntax = try await sb.runProgram(["/bin/sh", "-n", script])
            #expect(syntax.status == .exited(0), "\(syntax)")

            let before = try await sb.runProgram(["/bin/sh", script, "status"], extra: variables)
            #expect(before.status == .exited(3), "LSB: 3 is not running\n\(before)")

            let start = try await sb.runProgram(["/bin/sh", script, "start"], extra: variables)
            #expect(start.status == .exited(0), "\(start)")
            let log = DispatchLog(path: sb.state("dispatch.log"))
            let started = try await sb.waitForLine(in: log, "the start line") { $0.verb == "start" }
            let pid = try #require(started["pid"])
            #expect(start.out.contains("pid \(pid)"), "start says the pid from the lock: \(start)")

            let status = try await sb.runProgram(["/bin/sh", script, "status"], extra: variables)
            #expect(status.status == .exited(0), "\(status)")
            #expect(status.out.contains("running (pid \(pid)"), "\(status)")
            let again = try await sb.runProgram(["/bin/sh", script, "start"], extra: variables)
            #expect(again.out.contains("already running (pid \(pid))"), "\(again)")

            try sb.drop("inbox/a", "hello\n")
            let run = try await sb.waitForRun("the run of inbox/a")
            #expect(run.stdin == Bytes(text: "hello\n"))

            let reload = try await sb.runProgram(["/bin/sh", script, "reload"], extra: variables)
            #expect(reload.status == .exited(0), "\(reload)")
            try await sb.waitForLine(in: log, "the reload line") { $0.verb == "reload" }

            let stop = try await sb.runProgram(["/bin/sh", script, "stop"], extra: variables)
            #expect(stop.status == .exited(0), "\(stop)")
            #expect(log.lines.last?.verb == "stop", "stop waits for the daemon to end:\n\(log.tail(3))")
            #expect(Leftovers.isGone(pid_t(pid) ?? 0))
            let after = try await sb.runProgram(["/bin/sh", script, "status"], extra: variables)
            #expect(after.status == .exited(3), "\(after)")
        }
    }

    @Test func initScriptSaysWhyADaemonDidNotStart() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file\n")
            let (script, variables) = try initScript(sb)
            let start = try await sb.runProgram(["/bin/sh", script, "start"], extra: variables)
            #expect(start.status == .exited(1), "\(start)")
            #expect(start.err.contains("did not start"), "\(start)")
            #expect(start.err.contains("error"), "the daemon's own words are shown: \(start)")
        }
    }

    @Test func logrotateSnippetRotatesALiveLog() async throws {
        try await withSandbox { sb in
            let logrotate = try #require(["/usr/sbin/logrotate", "/usr/bin/logrotate"].first { Files.exists($0) },
                                         "logrotate is missing (.ci/run installs it)")
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let log = DispatchLog(path: sb.state("dispatch.log"))
            let daemon = try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", sb.spool], log: log)
            // The snippet as shipped, pointed at this spool and told to signal this daemon.
            var snippet = try #require(Files.readText(Self.folder + "/spoolbus.logrotate"))
            let pattern = "/var/spool/spoolbus/*/.spoolbus/dispatch.log"
            #expect(snippet.contains(pattern + " {"))
            snippet = snippet.replacingOccurrences(of: pattern, with: log.path)
            let script = try #require(snippet.range(of: "postrotate\n").map { $0.upperBound }.flatMap { start in
                snippet.range(of: "    endscript", range: start..<snippet.endIndex).map { start..<$0.lowerBound }
            })
            snippet.replaceSubrange(script, with: "        kill -HUP \(daemon.pid)\n")
            let config = sb.root + "/logrotate.conf"
            try Files.write(config, snippet)
            let result = try await sb.runProgram([logrotate, "--force", "--state", sb.root + "/logrotate.state", config])
            #expect(result.status == .exited(0), "\(result)")
            let rotated = DispatchLog(path: log.path + ".1")
            #expect(rotated.lines.first?.verb == "start", "the old lines are in dispatch.log.1")
            try await sb.waitForLine(in: log, "a reload line in the new log") { $0.verb == "reload" }
            #expect(permissions(log.path) == 0o640)
            #expect(!rotated.lines.contains { $0.verb == "reload" })
        }
    }
}
