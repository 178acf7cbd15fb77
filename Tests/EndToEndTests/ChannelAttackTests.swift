import Foundation
import Glibc
import Testing

/// Attacks by an unprivileged user (`nobody`) on a root daemon through its newer ways in:
/// descriptors passed to a `listen` socket, file leases on what a producer owns, the control
/// socket opened to everyone (`--control-mode 0666`), what a broker hands a `subscribe` line.
@Suite struct ChannelAttackTests {
    /// A folder of the sandbox that only the attacker may write, for its own files.
    private func attackersFolder(_ sb: Sandbox) throws -> String {
        let folder = sb.root + "/attacker"
        #expect(mkdir(folder, 0o755) == 0 && chown(folder, Attacker.uid, 0) == 0)
        return folder
    }

    /// The sender owns the file it passes, so it may take a write lease on it (F_SETLEASE), on
    /// the very open file it sends. The daemon opened `/proc/self/fd/N` anew for each run, and an
    /// open that breaks a lease waits for the holder to give it up, up to
    /// `/proc/sys/fs/lease-break-time` (45 s): the whole bus stood still that long, per message.
    @Test func aLeasedFileItsSenderPassesDoesNotStallTheBus() async throws {
        guard Attacker.available() else { return }
        let breakTime = try longLeaseBreakTime()
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("""
                listen files.sock mode=0666
                files.sock socket ./h/record.sh passed
                """)
            try await sb.startDaemon()
            let folder = try attackersFolder(sb)
            let script = folder + "/lease.py"
            try Files.write(script, """
                import fcntl, os, signal, socket, sys, time
                folder = sys.argv[2]
                with open(folder + "/leased", "w") as f:
                    f.write("the sender's own bytes\\n")
                fd = os.open(folder + "/leased", os.O_RDONLY)
                signal.signal(signal.SIGIO, lambda *_: None)  # told to give the lease up: never does
                fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)  # F_SETLEASE
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])
                socket.send_fds(s, [b"leased\\n"], [fd])
                print(s.recv(99).decode(), end="", flush=True)
                deadline = time.time() + 40
                while not os.path.exists(folder + "/release") and time.time() < deadline:
                    time.sleep(0.05)
                """)
            async let attack = sb.runProgram(Attacker.command(["/usr/bin/python3", script, sb.spoolPath("files.sock"), folder]))
            let timeout = Duration.seconds(breakTime / 2)
            try await sb.waitForLine("recv of the passed file", timeout: timeout) { $0.verb == "recv" && $0["fd_type"] == "file" }
            let status = try await sb.spoolbus(["status", "--spool", sb.spool], timeout: timeout)
            #expect(status.status == .exited(0), "\(status)")
            let run = try await sb.waitForRun("the run of the leased message", timeout: timeout) {
                $0.variable("SPOOL_MESSAGE") == "leased"
            }
            #expect(run.stdin == Bytes(text: "the sender's own bytes\n"), "the handler still reads the file")
            try Files.write(folder + "/release", "")
            let attacker = try await attack
            #expect(attacker.status == .exited(0) && attacker.out.hasPrefix("ok "), "\(attacker)")
        }
    }

    /// With `--control-mode 0666` anyone may `watch`, and every log line about a message was
    /// matched against every watcher's pattern on the event loop, in (pattern length × name
    /// length) steps: eight watchers of 60,000-byte patterns and one file with a 3,765-byte name
    /// held the root daemon for minutes. Others' patterns now share a budget of 1,024 bytes;
    /// root's are not limited.
    @Test func longWatchPatternsFromAnyoneDoNotStallTheBus() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("** file ./h/record.sh any\n")
            try await sb.startDaemon(["--control-mode", "0666"])
            let folder = try attackersFolder(sb)
            let script = folder + "/watch.py"
            try Files.write(script, """
                import os, socket, sys, time
                control, folder = sys.argv[1], sys.argv[2]
                held, answers = [], []
                for pattern in [b"**?" * 20000] * 8 + [b"big/**"]:
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(control)
                    s.sendall(b"watch " + pattern + b"\\n")
                    answers.append(s.makefile("rb").readline().decode().split(" ")[0])
                    held.append(s)
                # Written whole before its name appears: the test reads it as soon as it exists.
                with open(folder + "/answers.new", "w") as f:
                    f.write(" ".join(answers))
                os.rename(folder + "/answers.new", folder + "/answers")
                deadline = time.time() + 60
                while not os.path.exists(folder + "/release") and time.time() < deadline:
                    time.sleep(0.05)
                """)
            async let attack = sb.runProgram(Attacker.command(["/usr/bin/python3", script, sb.state("control.sock"), folder]))
            try await sb.waitFor("the attacker's watchers") { Files.exists(folder + "/answers") }
            let answers = String(decoding: Files.read(folder + "/answers") ?? [], as: UTF8.self)
            #expect(answers == Array(repeating: "error", count: 8).joined(separator: " ") + " watching", "\(answers)")
            let root = try sb.startSpoolbus(["watch", String(repeating: "**?", count: 400), "--spool", sb.spool])
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            while try await Int(sb.statusFacts()["watchers"] ?? "") ?? 0 < 2 {
                try #require(root.child.isRunning && clock.now < deadline, "root's watch with a long pattern: \(sb.diagnostics())")
                try await Task.sleep(for: .milliseconds(20))
            }

            let name = Array(repeating: String(repeating: "b", count: 250), count: 15).joined(separator: "/")
            try sb.drop(name, "x\n")
            _ = try await sb.waitForRun("the run of the long name", timeout: .seconds(20)) { $0.name == Bytes(text: name) }
            try await sb.waitFor("root's watch to show the long name") { Files.readText(root.stdout)?.contains(name) == true }
            let status = try await sb.spoolbus(["status", "--spool", sb.spool], timeout: .seconds(20))
            #expect(status.status == .exited(0), "\(status)")
            try Files.write(folder + "/release", "")
            let attacker = try await attack
            #expect(attacker.status == .exited(0), "\(attacker)")
        }
    }

    /// Whoever may publish to the broker chooses the topic and user properties of what a
    /// `subscribe` line writes into the spool, and they are kept in one extended attribute of
    /// the file. On ext4 an attribute holds at most a block (4 KiB): a 6,000-byte topic, or an
    /// `origin-host` of 8,000 bytes, made fsetxattr fail with ENOSPC, the batch was never
    /// acknowledged, and the broker sent the message again at every reconnect, forever: nothing
    /// published after it ever reached the spool. Such a message is now kept without the
    /// attribute, with an `error` line.
    @Test func anOriginTooLargeForAnAttributeDoesNotWedgeTheSubscription() async throws {
        try await withSandbox { sb in
            let broker = try Mosquitto(in: sb)
            try await broker.start()
            try sb.writeRules("""
                broker hub \(broker.url) client-id=t-attr-wedge
                subscribe hub '#' into in
                in/** file ./h/record.sh got
                """)
            try await sb.startDaemon()
            try await sb.waitForLine("connect") { $0.verb == "connect" }
            let deep = Array(repeating: String(repeating: "t", count: 29), count: 199).joined(separator: "/")
            let publishes = [
                ["-t", deep, "-m", "deep topic"],
                ["-t", "wide", "-m", "wide property", "-D", "publish", "user-property", "origin-host", String(repeating: "h", count: 8000)],
                ["-t", "after", "-m", "published after"],
            ]
            for publish in publishes {
                let sent = try await mosquittoPublish(sb, ["-p", "\(broker.port)", "-V", "mqttv5", "-q", "1"] + publish)
                #expect(sent.status == .exited(0), "\(sent)")
            }
            let runs = try await sb.waitForRuns(3, timeout: .seconds(30), "all three messages")
            #expect(Set(runs.map { $0.stdin.lossy }) == ["deep topic", "wide property", "published after"])
            let plain = try #require(runs.first { $0.stdin.lossy == "published after" })
            #expect(plain.variable("SPOOL_MQTT_TOPIC") == "after", "a message that fits keeps its origin")
            #expect(sb.log.lines("error").contains { $0["err"]?.contains("extended attribute") == true }, "\(sb.log.tail(20))")
            #expect(sb.log.lines("disconnect").isEmpty, "\(sb.log.tail(20))")
        }
    }

    /// A producer owns the file it drops and may keep a descriptor of it; once the daemon has
    /// claimed it (renamed into `work/`, where it waits behind a busy `concurrency=1` rule), the
    /// producer takes a write lease on it. The run's open of the claimed body then waited for the
    /// lease to break, up to 45 s, with the whole bus.
    @Test func aLeaseTakenOnAClaimedFileDoesNotStallTheBus() async throws {
        guard Attacker.available() else { return }
        let breakTime = try longLeaseBreakTime()
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("gate.sh", """
                #!/bin/sh
                while [ ! -e "$OUT/open" ]; do sleep 0.05; done
                exec "$(dirname "$0")/record.sh" gated
                """)
            try sb.writeRules("** file concurrency=1 retries=0 ./h/gate.sh\n")
            try await sb.startDaemon()
            try sb.drop("first.msg", "first\n")
            try await sb.waitForLine("the first run") { $0.verb == "run" }
            let folder = try attackersFolder(sb)
            let script = folder + "/lease.py"
            try Files.write(script, """
                import fcntl, os, signal, sys, time
                spool, folder = sys.argv[1], sys.argv[2]
                with open(spool + "/.late", "w") as f:
                    f.write("late\\n")
                fd = os.open(spool + "/.late", os.O_RDONLY)
                signal.signal(signal.SIGIO, lambda *_: None)  # told to give the lease up: never does
                os.rename(spool + "/.late", spool + "/late.msg")
                deadline = time.time() + 40
                while os.path.exists(spool + "/late.msg") and time.time() < deadline:
                    time.sleep(0.001)
                while time.time() < deadline:
                    try:
                        fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)  # F_SETLEASE, once the daemon holds it open no more
                        break
                    except OSError:
                        time.sleep(0.001)
                open(folder + "/leased", "w").close()
                while not os.path.exists(folder + "/release") and time.time() < deadline:
                    time.sleep(0.05)
                """)
            async let attack = sb.runProgram(Attacker.command(["/usr/bin/python3", script, sb.spool, folder]))
            try await sb.waitFor("the attacker's lease on its claimed file") { Files.exists(folder + "/leased") }
            try Files.write(sb.out + "/open", "")
            let timeout = Duration.seconds(breakTime / 2)
            try await sb.waitForRun("the first run", timeout: timeout) { $0.stdin == Bytes(text: "first\n") }
            let status = try await sb.spoolbus(["status", "--spool", sb.spool], timeout: timeout)
            #expect(status.status == .exited(0), "\(status)")
            let dead = try await sb.waitForLine("the leased message settled", timeout: timeout) {
                ($0.verb == "ok" || $0.verb == "dead") && $0["id"] == sb.log.ids(of: "late.msg").first
            }
            #expect(dead.verb == "dead" && dead["err"]?.contains("lease") == true, "the producer's own message fails, said: \(dead)")
            try Files.write(folder + "/release", "")
            let attacker = try await attack
            #expect(attacker.status == .exited(0), "\(attacker)")
        }
    }

    /// What a broker's message came with is kept in the file's `user.spoolbus.origin`
    /// attribute, and any producer may set `user.` attributes on a file of its own: a plain file
    /// dropped with `topic=admin/commands`, `broker=hub` reached its handler as a message from the
    /// broker (`SPOOL_MQTT_BROKER=hub`, `SPOOL_ORIGIN_HOST=trusted-hq`), the facts a handler has to
    /// tell where a message came from. Only a file the daemon's user owns carries an origin now.
    @Test func aProducerCannotForgeTheOriginOfABrokersMessage() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("** file ./h/record.sh got\n")
            try await sb.startDaemon()
            let forged = try Attacker.run(["/usr/bin/python3", "-c", """
                import os, sys
                hidden = sys.argv[1] + "/.forged"
                with open(hidden, "w") as f:
                    f.write("do as the hub says\\n")
                os.setxattr(hidden, "user.spoolbus.origin",
                            b"origin-host=trusted-hq\\0origin-id=1\\0topic=admin/commands\\0broker=hub")
                os.rename(hidden, sys.argv[1] + "/forged.msg")
                """, sb.spool])
            #expect(forged.status == 0, "\(forged.stderr)")
            let run = try await sb.waitForRun("the forged file's run") { $0.name == Bytes(text: "forged.msg") }
            #expect(run.stdin == Bytes(text: "do as the hub says\n"))
            #expect(run.variable("SPOOL_PEER_UID") == String(Attacker.uid))
            for variable in ["SPOOL_MQTT_BROKER", "SPOOL_MQTT_TOPIC", "SPOOL_ORIGIN_HOST", "SPOOL_ORIGIN_ID"] {
                #expect(run.variable(variable) == nil, "\(variable)=\(run.variable(variable) ?? "")")
            }
        }
    }

    /// `send --via NAME` reaches NAME beneath the spool's descriptor, never through a symlink:
    /// a producer's symlink in a shared spool could point at any socket root may reach (one
    /// root serves passes the listener check), and root's stdin would go there.
    @Test func sendViaASymlinkAProducerPlantedConnectsNowhere() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("""
                listen real.sock mode=0666
                real.sock socket ./h/record.sh
                """)
            try await sb.startDaemon()
            #expect(try Attacker.run(["ln", "-s", "real.sock", sb.spool + "/evil.sock"]).status == 0)
            let refused = try await sb.spoolbus(["send", "--via", "evil.sock", "--spool", sb.spool, "through the symlink"], stdin: Bytes(text: "secret\n"))
            #expect(refused.status == .exited(1), "\(refused)")
            #expect(refused.err.contains("connect '\(sb.spool)/evil.sock'"), "\(refused)")
            let sent = try await sb.spoolbus(["send", "--via", "real.sock", "--spool", sb.spool, "direct"], stdin: Bytes(text: "x\n"))
            #expect(sent.status == .exited(0), "\(sent)")
            let run = try await sb.waitForRun()
            // The run reads the passed stdin: the direct one's, never the secret.
            #expect(run.stdin == Bytes(text: "x\n"), "the first message the socket took is the direct one")
            #expect(sb.runs.count == 1)
        }
    }

    /// A `subscribe … into in` folder is made only when the first message comes, so in a shared
    /// spool a producer may make `in` first. Through a symlink there every message failed to be
    /// stored, was never acknowledged and came again at each reconnect, forever; into a folder
    /// of the producer's own, the root daemon wrote what the broker sent where the producer may
    /// rename it out before it is claimed. Now such messages are kept as dead letters (and
    /// acknowledged), and `retry` puts them in place once the folders are mended.
    @Test func aSubscriptionsFolderMadeFirstByAProducerNeitherWedgesNorLeaksIt() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let broker = try Mosquitto(in: sb)
            try await broker.start()
            let elsewhere = try attackersFolder(sb)
            #expect(try Attacker.run(["ln", "-s", elsewhere, sb.spool + "/in"]).status == 0)
            #expect(try Attacker.run(["mkdir", "-m", "0755", sb.spool + "/mine"]).status == 0)
            try sb.writeRules("""
                broker hub \(broker.url) client-id=t-folder-first
                subscribe hub "jobs/#" into in
                subscribe hub "more/#" into mine
                ** file ./h/record.sh got
                """)
            try await sb.startDaemon()
            try await sb.waitForLine("connect") { $0.verb == "connect" }
            for topic in ["jobs/x", "more/y"] {
                let sent = try await mosquittoPublish(sb, ["-p", "\(broker.port)", "-V", "mqttv5", "-q", "1", "-t", topic, "-m", topic])
                #expect(sent.status == .exited(0), "\(sent)")
            }
            try await sb.waitFor("both messages kept as dead letters") {
                sb.log.lines("error").filter { $0["kept"] != nil }.count >= 2
            }
            let letters = try await sb.spoolbus(["dead", "--names"])
            #expect(letters.out.contains("in/jobs/x.") && letters.out.contains("mine/more/y."), "\(letters)")
            #expect(Files.walk(elsewhere).isEmpty, "nothing written through the producer's symlink")
            #expect(Files.walk(sb.spool + "/mine").isEmpty, "nothing written into the producer's folder")
            #expect(sb.runs.isEmpty && sb.log.lines("disconnect").isEmpty, "acknowledged, no reconnect loop: \(sb.log.tail(10))")
            // The administrator mends the folders; retry puts the letters in place.
            Spawner.runToCompletion(["/bin/rm", "-rf", sb.spool + "/in", sb.spool + "/mine"])
            let retried = try await sb.spoolbus(["retry", "--all"])
            #expect(retried.status == .exited(0), "\(retried)")
            try await sb.waitForRuns(2, timeout: .seconds(30), "both messages, once the folders are mended")
            let names = Set(sb.runs.compactMap { $0.name.map { String(decoding: $0.prefix(4), as: UTF8.self) } })
            #expect(names == ["in/j", "mine"], "\(names)")
        }
    }

}

/// A lease a producer holds stalls an open of its file up to `/proc/sys/fs/lease-break-time`:
/// only a long one tells a stalled bus from a slow one.
private func longLeaseBreakTime() throws -> Int {
    let breakTime = Int(String(decoding: Files.read("/proc/sys/fs/lease-break-time") ?? [], as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    try #require(breakTime >= 30, "lease-break-time is \(breakTime) s: too short to tell a stalled bus from a slow one")
    return breakTime
}
