import Foundation
import Glibc
import Testing

/// One daemon per spool; clean stops; nothing lost across a kill -9.
@Suite struct LifetimeTests {
    @Test func secondDaemonOnTheSameSpoolIsRefused() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh first {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            let first = try await sb.startDaemon()

            let second = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.root + "/second.log"])
            #expect(second.status == .exited(1), "\(second)")
            #expect(second.err.hasPrefix("spoolbus: error: spool "), "\(second)")
            #expect(second.err.contains("is already served by pid \(first.pid)"), "\(second)")

            #expect(first.isRunning)
            try sb.drop("inbox/still.msg", "still served\n")
            try await sb.waitForRuns(1)
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func stopSignalExitsZeroWithStopLine(_ signal: Int32) async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh {name}\n")
            let daemon = try await sb.startDaemon()
            daemon.signal(signal)
            let status = try await daemon.waitForExit()
            #expect(status == .exited(0), "\(daemon.stderr)")
            #expect(sb.log.lines.last?.verb == "stop", "\(sb.log.tail(5))")
            #expect(sb.log.lines("stop").first?["pid"].map { $0 == "\(daemon.pid)" } ?? true)
            // The lock is free again: a new daemon starts on the same spool.
            let again = try await sb.startDaemon()
            #expect(try await again.stop() == .exited(0))
        }
    }

    @Test func stopLetsARunningHandlerFinishWithinGrace() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("slow.sh", """
                #!/bin/sh
                : > "$OUT/slow-started"
                while [ ! -e "$OUT/go" ]; do sleep 0.05; done
                exec ./h/record.sh slow "$@"
                """)
            try sb.writeRules("inbox/*.msg file ./h/slow.sh {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon(["--grace", "60s"])
            try sb.drop("inbox/slow.msg", "slow\n")
            let id = try await sb.waitForID(of: "inbox/slow.msg")
            try await sb.waitFor("the handler to start") { Files.exists(sb.out + "/slow-started") }

            daemon.signal(SIGTERM)
            try Files.write(sb.out + "/go", "")
            #expect(try await daemon.waitForExit() == .exited(0), "\(daemon.stderr)")
            #expect(sb.runs.count == 1)
            #expect(!sb.log.lines("ok", id: id).isEmpty, "the running handler finished: \(sb.log.tail(10))")
            #expect(sb.claimed.isEmpty)
            #expect(!sb.existsInSpool("inbox/slow.msg"))
            #expect(sb.log.lines.last?.verb == "stop")
        }
    }

    @Test func messageUnfinishedAtStopIsDispatchedAgainAtNextStart() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("hang.sh", """
                #!/bin/sh
                echo $$ > "$OUT/hang.pid.tmp" && mv "$OUT/hang.pid.tmp" "$OUT/hang.pid"
                exec sleep 1000
                """)
            try sb.writeRules("inbox/*.msg file ./h/hang.sh\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon(["--grace", "1s"])
            try sb.drop("inbox/interrupted.msg", "interrupted\n")
            try await sb.waitFor("the handler to start") { Files.exists(sb.out + "/hang.pid") }
            let handlerPid = try #require(pid_t((Files.readText(sb.out + "/hang.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))

            #expect(try await daemon.stop() == .exited(0), "\(daemon.stderr)")
            try await sb.waitFor("the handler to be stopped after the grace period") { Leftovers.isGone(handlerPid) }
            #expect(!sb.claimed.isEmpty || sb.existsInSpool("inbox/interrupted.msg"), "the unfinished message is kept")

            try sb.writeRules("inbox/*.msg file ./h/record.sh again {name}\n")
            try await sb.startDaemon()
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "inbox/interrupted.msg"))
            #expect(run.stdin == Bytes(text: "interrupted\n"))
            try await sb.waitFor("work/ to be empty") { sb.claimed.isEmpty && !sb.existsInSpool("inbox/interrupted.msg") }
        }
    }

    /// What a daemon killed mid-write left in `tmp/` (a half-written sidecar, a socket being
    /// made) is removed by the next start, and the `start` line says how much.
    @Test func staleTemporariesAreRemovedAtStart() async throws {
        try await withSandbox { sb in
            try sb.writeRules("x  file  ./h/record.sh\n")
            let first = try await sb.startDaemon()
            try await first.stop()
            try Files.write(sb.state("tmp") + "/4242-1795971879443-3839756030", "half a sidecar")
            try Files.write(sb.state("tmp") + "/4242-1795971879444-1", "another")
            try await sb.startDaemon()
            let start = try #require(sb.log.lines("start").last)
            #expect(start["tmp_removed"] == "2", "\(start)")
            #expect(Files.list(sb.state("tmp")).isEmpty)
        }
    }

    @Test func killNineInTheMiddleOfABurstLosesNothing() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("mark.sh", """
                #!/bin/sh
                sleep 0.02
                : > "$OUT/seen/${SPOOL_NAME##*/}"
                """)
            try Files.makeDirectories(sb.out + "/seen")
            try sb.writeRules("burst/*.msg file stdin=none ./h/mark.sh\n")
            try Files.makeDirectories(sb.spool + "/burst")
            let daemon = try await sb.startDaemon()

            let names = (0..<300).map { String(format: "m%03d.msg", $0) }
            for name in names { try sb.drop("burst/\(name)", "\(name)\n") }
            try await sb.waitFor("some of the burst to be handled") { Files.list(sb.out + "/seen").count >= 20 }
            daemon.signal(SIGKILL)
            #expect(try await daemon.waitForExit() == .signaled(SIGKILL))

            try await sb.startDaemon()
            try await sb.waitFor("every file of the burst to be handled and work/ to be empty", timeout: .seconds(120)) {
                Set(Files.list(sb.out + "/seen").map { $0.lossy }).isSuperset(of: names)
                    && Files.list(sb.spool + "/burst").isEmpty && sb.claimed.isEmpty
            }
        }
    }

    @Test func defaultRulesSpoolAndLogAreFoundFromTheCurrentFolder() async throws {
        try await withSandbox { sb in
            let app = sb.root + "/app"
            try Files.makeDirectories(app + "/h")
            try Files.write(app + "/h/record.sh", Sandbox.recorderScript, mode: 0o755)
            try Files.write(app + "/spoolbus.rules", "** file ./h/record.sh {name}\n")
            let log = DispatchLog(path: app + "/spool/.spoolbus/dispatch.log")
            try await sb.startDaemon(arguments: ["run"], directory: app, log: log)
            #expect(Files.kind(Bytes(text: app + "/spool")) == .directory, "the spool is created beside the rules file")

            try Files.makeDirectories(app + "/spool/inbox")
            try Files.write(app + "/spool/inbox/x.msg", "found\n")
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "inbox/x.msg"))
            #expect(run.workingDirectory == app)
            #expect(!log.lines("recv").isEmpty, "the log is in SPOOL/.spoolbus/dispatch.log")
            // `**` matches everything, yet the daemon's own files are never messages.
            #expect(sb.runs.allSatisfy { !($0.name ?? []).hasPrefix(Bytes(text: ".spoolbus")) })
            #expect(log.lines("recv").allSatisfy { !($0.bytes("name") ?? []).hasPrefix(Bytes(text: ".spoolbus")) })
        }
    }

    @Test func rulesFileOthersCanWriteIsRefusedWhenRunningAsRoot() async throws {
        guard requireRoot("refusing a rules file others can write") else { return }
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh\n")
            try Files.chmod(sb.rulesPath, 0o666)
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath])
            #expect(result.status == .exited(1) || result.status == .exited(2), "\(result)")
            #expect(result.err.hasPrefix("spoolbus: error: "), "\(result)")
        }
    }
}

/// `user=` drops a handler to another user and its groups (the tests run as root).
@Suite struct UserTests {
    @Test func handlerRunsAsTheNamedUser() async throws {
        guard getuid() == 0, getpwnam("nobody") != nil else {
            Issue.record("this test needs root and the user nobody")
            return
        }
        try await withSandbox { sb in
            let shared = sb.root + "/shared"
            try Files.makeDirectories(shared)
            #expect(chmod(sb.root, 0o755) == 0 && chmod(shared, 0o777) == 0 && chmod(sb.handlers, 0o755) == 0)
            try sb.writeHandler("whoami.sh", """
                #!/bin/sh
                echo "$(id -u) $HOME $USER" > "\(shared)/uid.$SPOOL_ID.tmp" && mv "\(shared)/uid.$SPOOL_ID.tmp" "\(shared)/uid.$SPOOL_ID"
                """)
            try sb.writeRules("""
                as-nobody/*   file   user=nobody ./h/whoami.sh
                as-daemon/*   file   ./h/whoami.sh
                """)
            try Files.makeDirectories(sb.spool + "/as-nobody")
            try Files.makeDirectories(sb.spool + "/as-daemon")
            try await sb.startDaemon()
            try sb.drop("as-nobody/a", "x")
            try sb.drop("as-daemon/b", "y")
            let nobodyID = try await sb.waitForID(of: "as-nobody/a")
            let daemonID = try await sb.waitForID(of: "as-daemon/b")
            try await sb.waitFor("both handlers to record their uid") {
                Files.readText(shared + "/uid." + nobodyID) != nil && Files.readText(shared + "/uid." + daemonID) != nil
            }
            let nobody = getpwnam("nobody")!.pointee
            let home = String(cString: nobody.pw_dir)
            #expect(Files.readText(shared + "/uid." + nobodyID)?.trimmingCharacters(in: .whitespacesAndNewlines) == "\(nobody.pw_uid) \(home) nobody")
            #expect(Files.readText(shared + "/uid." + daemonID)?.hasPrefix("0 ") == true)
        }
    }
}
