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

    /// The unit's `CapabilityBoundingSet=` as setpriv writes a bounding set: `-all,+setuid,…`.
    static func unitBoundingSet() throws -> String {
        let unit = try #require(Files.readText(folder + "/spoolbus@.service"))
        let line = try #require(unit.split(separator: "\n").first { $0.hasPrefix("CapabilityBoundingSet=") })
        let capabilities = line.dropFirst("CapabilityBoundingSet=".count).split(separator: " ")
            .map { "+" + $0.lowercased().replacingOccurrences(of: "cap_", with: "") }
        return (["-all"] + capabilities).joined(separator: ",")
    }

    @Test func theUnitsCapabilitiesAndNoNewPrivilegesKeepUserRulesWorking() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try Files.chmod(sb.out, 0o777)
            try sb.writeRules("""
                mine.msg   file  user=nobody  ./h/record.sh nobody
                theirs.msg file  ./h/record.sh theirs
                slow.msg   file  user=nobody  timeout=300ms retries=0  sleep 60

                """)
            // What the unit gives the daemon: no new privileges and its bounding set, applied
            // by setpriv to this daemon as systemd would.
            let daemon = try await sb.startDaemonThroughShell(
                "exec /usr/bin/setpriv --no-new-privs --bounding-set=\(try Self.unitBoundingSet()) -- \"$0\" \"$@\"")
            #expect(Files.readText("/proc/\(daemon.pid)/status")?.contains("NoNewPrivs:\t1") == true)
            // user=: the handler runs as nobody.
            try sb.drop("mine.msg", "x\n")
            _ = try await sb.waitForRun("the user=nobody run") { $0.tag == "nobody" }
            let owners = Files.list(sb.out).compactMap { name -> uid_t? in
                var status = stat()
                return lstat(sb.out + "/" + name.lossy, &status) == 0 ? status.st_uid : nil
            }
            #expect(owners.contains(Attacker.uid), "the handler ran as nobody: owners \(owners)")
            // Another user's file, mode 0600: the daemon (CAP_DAC_OVERRIDE) claims and reads it.
            let staging = sb.root + "/theirs.staging"
            try Files.write(staging, "private\n")
            guard chown(staging, Attacker.uid, getpwnam("nobody")!.pointee.pw_gid) == 0 else { throw SystemCallFailed("chown") }
            try Files.chmod(staging, 0o600)
            try Files.rename(staging, sb.spoolPath("theirs.msg"))
            let theirs = try await sb.waitForRun("the run of another user's 0600 file") { $0.tag == "theirs" }
            #expect(theirs.stdin == Bytes(text: "private\n"))
            // A timeout stops a handler of another user (CAP_KILL).
            try sb.drop("slow.msg", "x\n")
            let id = try await sb.waitForID(of: "slow.msg")
            let fail = try await sb.waitForLine("the timeout of slow.msg") { $0.verb == "fail" && $0["id"] == id }
            #expect(fail["timeout"] != nil || fail["err"]?.contains("timed out") == true, "\(fail)")
            try await sb.waitForLine("slow.msg dead") { $0.verb == "dead" && $0["id"] == id }
            try await daemon.stop()

            // The check bites: without CAP_SETUID a user= rule cannot run.
            let bare = try await sb.startDaemonThroughShell(
                "exec /usr/bin/setpriv --no-new-privs --bounding-set=-setuid -- \"$0\" \"$@\"")
            try sb.drop("mine.msg", "y\n")
            try await sb.waitFor("a second recv of mine.msg") { sb.log.ids(of: "mine.msg").count >= 2 }
            let again = sb.log.ids(of: "mine.msg")[1]
            try await sb.waitForLine("the user= run failing without CAP_SETUID") { $0.verb == "fail" && $0["id"] == again }
            try await bare.stop()
        }
    }

    /// Writes a defaults file for the init script that points it at the sandbox.
    private func initScript(_ sb: Sandbox, options: String = "--env OUT", stopWait: Int = 30) throws -> (script: String, variables: [String: String]) {
        let defaults = sb.root + "/spoolbus.defaults"
        try Files.write(defaults, """
            SPOOLBUS=\(spoolbusBinary)
            SPOOLBUS_RULES=\(sb.rulesPath)
            SPOOLBUS_SPOOL=\(sb.spool)
            SPOOLBUS_OPTIONS="\(options)"
            SPOOLBUS_STDERR=\(sb.root)/init.stderr
            SPOOLBUS_STOP_WAIT=\(stopWait)

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

    /// "Not running" names the spool and rules looked at; a copy named after a second spool
    /// defaults to that spool, its rules and its own defaults file.
    @Test func initScriptNamesTheSpoolAndRulesItLookedAt() async throws {
        try await withSandbox { sb in
            let (script, variables) = try initScript(sb)
            let status = try await sb.runProgram(["/bin/sh", script, "status"], extra: variables)
            #expect(status.status == .exited(3), "\(status)")
            #expect(status.out.contains("not running (spool \(sb.spool), rules \(sb.rulesPath))"), "\(status)")
            let reload = try await sb.runProgram(["/bin/sh", script, "reload"], extra: variables)
            #expect(reload.status == .exited(7), "\(reload)")
            #expect(reload.err.contains("spool \(sb.spool)"), "\(reload)")

            try Files.makeDirectories(sb.root + "/init.d")
            let copy = sb.root + "/init.d/spoolbus-print"
            try Files.write(copy, try #require(Files.readText(script)))
            let second = try await sb.runProgram(["/bin/sh", copy, "status"])
            #expect(second.out.contains("not running (spool /var/spool/spoolbus/spoolbus-print, rules /etc/spoolbus/spoolbus-print.rules)"),
                    "\(second)")
        }
    }

    /// A reload the daemon refuses (the rules have errors) is not reported as done.
    @Test func initScriptReloadSaysWhenTheRulesAreRefused() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let (script, variables) = try initScript(sb)
            let start = try await sb.runProgram(["/bin/sh", script, "start"], extra: variables)
            #expect(start.status == .exited(0), "\(start)")
            let log = DispatchLog(path: sb.state("dispatch.log"))
            try sb.replaceRules("inbox/* fiel ./h/record.sh\n")
            try await sb.waitForLine(in: log, "the refused change on disk") { $0.verb == "error" && $0["kept"] != nil }
            let refused = try await sb.runProgram(["/bin/sh", script, "reload"], extra: variables)
            #expect(refused.status == .exited(1), "\(refused)")
            #expect(!refused.out.contains("reload"), "\(refused)")
            #expect(refused.err.contains("did not reload"), "\(refused)")
            #expect(refused.err.contains("error"), "the rules' errors are shown: \(refused)")
            try sb.replaceRules("inbox/* file ./h/record.sh x\n")
            try await sb.waitForLine(in: log, "the reload of the fixed rules") { $0.verb == "reload" }
            let fine = try await sb.runProgram(["/bin/sh", script, "reload"], extra: variables)
            #expect(fine.status == .exited(0), "\(fine)")
            #expect(fine.out.contains("reload requested"), "\(fine)")
            let stop = try await sb.runProgram(["/bin/sh", script, "stop"], extra: variables)
            #expect(stop.status == .exited(0), "\(stop)")
        }
    }

    @Test func initScriptStopEndsALongGraceWithASecondSignal() async throws {
        try await withSandbox { sb in
            try sb.writeRules("slow/* file sleep 300\n")
            // The daemon must have taken the first SIGTERM before the second comes (two pending
            // ones are one): 3 s is room for a busy machine.
            let (script, variables) = try initScript(sb, options: "--grace 10m", stopWait: 3)
            let start = try await sb.runProgram(["/bin/sh", script, "start"], extra: variables)
            #expect(start.status == .exited(0), "\(start)")
            let log = DispatchLog(path: sb.state("dispatch.log"))
            try sb.drop("slow/a", "x\n")
            try await sb.waitForLine(in: log, "the run of slow/a") { $0.verb == "run" }
            let stop = try await sb.runProgram(["/bin/sh", script, "stop"], extra: variables)
            #expect(stop.status == .exited(0), "\(stop)")
            #expect(stop.out.contains("stopping them now"), "\(stop)")
            #expect(log.lines("stopping").map { $0["grace"] } == ["10m", "0s"], "\(log.tail(5))")
            #expect(log.lines.last?.verb == "stop")
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

    /// The snippet as shipped, its postrotate unchanged, rotating the logs of two spools each
    /// served by its own daemon: each daemon gets its SIGHUP and moves to its new log.
    @Test func logrotateSnippetSignalsTheDaemonOfEachRotatedLog() async throws {
        try await withSandbox { sb in
            let logrotate = try #require(["/usr/sbin/logrotate", "/usr/bin/logrotate"].first { Files.exists($0) },
                                         "logrotate is missing (.ci/run installs it)")
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            var logs: [DispatchLog] = []
            for name in ["mail", "print"] {
                let spool = sb.root + "/spools/" + name
                try Files.makeDirectories(spool)
                let log = DispatchLog(path: spool + "/.spoolbus/dispatch.log")
                try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", spool], log: log)
                logs.append(log)
            }
            var snippet = try #require(Files.readText(Self.folder + "/spoolbus.logrotate"))
            let pattern = "/var/spool/spoolbus/*/.spoolbus/dispatch.log"
            #expect(snippet.contains(pattern + " {"))
            snippet = snippet.replacingOccurrences(of: pattern, with: sb.root + "/spools/*/.spoolbus/dispatch.log")
            let config = sb.root + "/logrotate.conf"
            try Files.write(config, snippet)
            let result = try await sb.runProgram([logrotate, "--force", "--state", sb.root + "/logrotate.state", config])
            #expect(result.status == .exited(0), "\(result)")
            for log in logs {
                let rotated = DispatchLog(path: log.path + ".1")
                #expect(rotated.lines.first?.verb == "start", "the old lines are in \(rotated.path)")
                try await sb.waitForLine(in: log, "a reload line in the new \(log.path)") { $0.verb == "reload" }
                #expect(permissions(log.path) == 0o640)
                #expect(!rotated.lines.contains { $0.verb == "reload" })
            }
        }
    }

    /// `--log-max` and logrotate both rename the log to dispatch.log.1: the files say to use
    /// one or the other, and the init script does not suggest combining them.
    @Test func logMaxAndLogrotateAreOneOrTheOther() throws {
        let snippet = try #require(Files.readText(Self.folder + "/spoolbus.logrotate"))
        #expect(snippet.contains("One or the other"), "the snippet warns against --log-max")
        let script = try #require(Files.readText(Self.folder + "/spoolbus.init"))
        let suggestion = try #require(script.split(separator: "\n").first { $0.hasPrefix("# More `spoolbus run` options") })
        let example = suggestion.split(separator: "\"").dropFirst().first ?? ""
        #expect(!example.isEmpty && !example.contains("--log-max"), "the init script's example options rotate with logrotate: \(suggestion)")
        let readme = try #require(Files.readText(Self.folder + "/../../README.md"))
        #expect(readme.contains("**One or the other**"))
    }
}
