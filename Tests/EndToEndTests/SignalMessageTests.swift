import Foundation
import Glibc
import Testing

/// Signals named by `signal` directives become messages of event `signal`, from `kill` and
/// `sigqueue` (`/bin/kill --queue`, procps-ng or util-linux), with their sender and value.
@Suite struct SignalMessageTests {
    @Test func killAndSigqueueBecomeMessagesWithTheirSenderAndValue() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                signal USR1 RTMIN+1
                * signal ./h/record.sh {name} {event}
                """)
            let daemon = try await sb.startDaemon()
            // Scripts find the pid to signal in `status` and in the lock file.
            let facts = try await sb.statusFacts()
            #expect(facts["pid"] == String(daemon.pid))
            #expect(Files.readText(sb.state("lock"))?.trimmingCharacters(in: .whitespacesAndNewlines) == String(daemon.pid))
            let plain = try await sb.runProgram(["/bin/kill", "-USR1", String(daemon.pid)])
            #expect(plain.status == .exited(0), "\(plain)")
            let usr1 = try await sb.waitForRun { $0.name == Bytes(text: "USR1") }
            #expect(usr1.argv.map(\.lossy) == ["USR1", "signal"])
            #expect(usr1.variable("SPOOL_EVENT") == "signal")
            #expect(usr1.variable("SPOOL_TYPE") == "signal")
            #expect(usr1.variable("SPOOL_PEER_UID") == String(getuid()))
            #expect(usr1.variable("SPOOL_PEER_PID").flatMap { Int32($0) }.map { $0 > 0 && $0 != daemon.pid } == true)
            #expect(usr1.variable("SPOOL_PEER_GID") == nil, "signalfd does not say the group")
            #expect(usr1.variable("SPOOL_SIGNAL_VALUE") == nil, "kill sends no value")
            let queued = try await sb.runProgram(["/bin/kill", "--queue", "42", "-s", "RTMIN+1", String(daemon.pid)])
            #expect(queued.status == .exited(0), "\(queued)")
            let rt = try await sb.waitForRun { $0.name == Bytes(text: "RTMIN+1") }
            #expect(rt.variable("SPOOL_SIGNAL_VALUE") == "42")
            // A signal no directive names is read, said and counted, and does not stop the daemon.
            _ = try await sb.runProgram(["/bin/kill", "-USR2", String(daemon.pid)])
            try await sb.waitForLine("USR2 ignored") { $0.verb == "error" && $0["name"] == "USR2" }
            let after = try await sb.waitForStatus("two signals taken, one ignored") { $0["signals"] == "2" && $0["signals_ignored"] == "1" }
            #expect(after["signals_by_name"] == "\"USR1:1 RTMIN+1:1\"", "\(after)")
            #expect(daemon.isRunning)
        }
    }

    @Test func realTimeSignalsQueueEachWithItsValue() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                signal RTMIN+2
                RTMIN+2 signal ./h/record.sh
                """)
            let daemon = try await sb.startDaemon()
            // Real-time signals are not coalesced: every one sent arrives.
            let sent = try await sb.runProgram(["/bin/sh", "-c", "for v in 1 2 3 4 5; do /bin/kill --queue $v -s RTMIN+2 \"$0\"; done",
                                                String(daemon.pid)])
            #expect(sent.status == .exited(0), "\(sent)")
            let runs = try await sb.waitForRuns(5)
            #expect(Set(runs.compactMap { $0.variable("SPOOL_SIGNAL_VALUE") }) == ["1", "2", "3", "4", "5"])
            let facts = try await sb.statusFacts()
            #expect(facts["signals"] == "5")
        }
    }

    @Test func aReloadMayTakeASignalTheDaemonStartedWithout() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                signal USR1
                * signal ./h/record.sh
                """)
            let daemon = try await sb.startDaemon()
            try sb.replaceRules("""
                signal USR1 USR2
                * signal ./h/record.sh
                """)
            try await sb.waitForLine("reload") { $0.verb == "reload" }
            kill(daemon.pid, SIGUSR2)
            let run = try await sb.waitForRun { $0.name == Bytes(text: "USR2") }
            #expect(run.variable("SPOOL_PEER_PID") == String(getpid()))
        }
    }

    @Test func watchFollowsSignalAndQueueMessagesByName() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let client = try await sb.buildQueueClient()
            try sb.writeRules("""
                signal USR1
                mq \(queue)
                USR1 signal ./h/record.sh
                \(queue.dropFirst()) mq ./h/record.sh
                """)
            let daemon = try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            let usr1 = try sb.startSpoolbus(["watch", "USR1", "--spool", sb.spool])
            let queued = try sb.startSpoolbus(["watch", String(queue.dropFirst()), "--spool", sb.spool])
            _ = try await sb.waitForStatus("both watchers to subscribe") { $0["watchers"] == "2" }
            kill(daemon.pid, SIGUSR1)
            _ = try await sb.runProgram([client, "send", queue, "1", "watched"])
            try await sb.waitFor("each watcher to see its message's ok line") {
                (Files.readText(usr1.stdout) ?? "").contains(" ok ") && (Files.readText(queued.stdout) ?? "").contains(" ok ")
            }
            let signalLines = Files.readText(usr1.stdout) ?? ""
            let queueLines = Files.readText(queued.stdout) ?? ""
            #expect(signalLines.contains("name=USR1 event=signal"), "\(signalLines)")
            #expect(!signalLines.contains("event=mq"), "\(signalLines)")
            #expect(queueLines.contains("event=mq size=7 priority=1"), "\(queueLines)")
            #expect(!queueLines.contains("event=signal"), "\(queueLines)")
        }
    }

    @Test func explainShowsSignalAndQueueRules() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                signal RTMIN+2
                mq /jobs
                RTMIN+* signal ./h/record.sh {name}
                jobs mq ./h/record.sh {path}
                """)
            let signal = try await sb.spoolbus(["explain", "RTMIN+2", "--on", "signal", "--rules", sb.rulesPath])
            #expect(signal.status == .exited(0), "\(signal)")
            #expect(signal.out.contains("line 3"), "\(signal)")
            #expect(signal.out.contains("RTMIN+2"), "\(signal)")
            let queue = try await sb.spoolbus(["explain", "jobs", "--on", "mq", "--rules", sb.rulesPath])
            #expect(queue.out.contains("line 4"), "\(queue)")
            #expect(queue.out.contains("/dev/mqueue/jobs"), "\(queue)")
        }
    }
}

/// `check` on `mq` and `signal` directives: every mistake at its line and column.
@Suite struct IPCRulesCheckTests {
    @Test func badQueueAndSignalDirectivesAreReportedWhereTheyAre() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                mq jobs
                mq /a/b
                mq /ok maxmsg=0 msgsize=99999999
                mq /ok2 size=3
                signal HUP USR3 KILL RTMIN+99 RTMAX
                signal USR1 USR1
                signal
                x sgnal ./h/record.sh
                """)
            let result = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(result.status == .exited(2), "\(result)")
            let expected = [
                "1:4: error: queue name 'jobs' must start with '/' (like /jobs)",
                "2:6: error: queue name '/a/b' must not hold a second '/'",
                "3:15: error: invalid maxmsg '0'; expected a whole number, 1 or more",
                "3:25: error: msgsize=99999999 is more than Linux allows anyone (16777216)",
                "4:9: error: unknown mq option 'size'",
                "5:8: error: signal HUP cannot be a message: the daemon's own: it reloads the rules",
                "5:12: error: unknown signal 'USR3'; did you mean 'USR1'?",
                "5:17: error: signal KILL cannot be a message: it cannot be caught",
                "5:22: error: RTMIN+99 is past the last real-time signal",
                "5:31: error: write real-time signals as RTMIN+N",
                "6:13: error: duplicate signal 'USR1' (already declared on line 6)",
                "7:7: error: missing signal names after 'signal' (USR1, USR2, WINCH, PWR, RTMIN+N)",
                "8:3: error: unknown event 'sgnal'; did you mean 'signal'?",
            ]
            for message in expected {
                #expect(result.err.contains("spoolbus.rules:" + message), "missing \(message) in:\n\(result.err)")
            }
        }
    }

    @Test func aQueueLargerThanTheSystemAllowsAUserIsACheckErrorForThem() async throws {
        guard requireRoot("running check as another user"), Attacker.available() else { return }
        let limit = try #require(Int((try String(contentsOfFile: "/proc/sys/fs/mqueue/msg_max", encoding: .utf8))
                                        .trimmingCharacters(in: .whitespacesAndNewlines)))
        let folder = "/tmp/spoolbus-mqcheck-\(UUID().uuidString)"
        try Files.makeDirectories(folder)
        defer { Spawner.runToCompletion(["/bin/rm", "-rf", folder]) }
        try Files.chmod(folder, 0o755)
        try Files.write(folder + "/q.rules", "mq /big maxmsg=\(limit + 1)\n")
        let asUser = try Attacker.run([spoolbusBinary, "check", folder + "/q.rules"])
        #expect(asUser.status == 2, "\(asUser)")
        #expect(asUser.stderr.contains("q.rules:1:9: error: maxmsg=\(limit + 1) is over /proc/sys/fs/mqueue/msg_max (\(limit))"),
                "\(asUser)")
        // Root may ask for more (up to Linux's hard limit).
        let asRoot = Process()
        asRoot.executableURL = URL(fileURLWithPath: spoolbusBinary)
        asRoot.arguments = ["check", folder + "/q.rules"]
        asRoot.standardOutput = FileHandle.nullDevice
        asRoot.standardError = FileHandle.nullDevice
        try asRoot.run()
        asRoot.waitUntilExit()
        #expect(asRoot.terminationStatus == 0)
    }
}
