import Foundation
import Glibc
import Testing

/// Nothing a producer puts in the spool turns the root daemon against a file outside it
/// (issue 8, findings 1, 2, 3, 6, 7 and the producer cases of 10).
@Suite struct ConfinementTests {
    /// Finding 1: a producer who made `.spoolbus/` first, with `lock` and `dispatch.log`
    /// symlinks to a root file, cannot have it truncated or appended to: `run` refuses.
    @Test func aStateFolderMadeByAProducerIsRefused() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let victim = sb.root + "/victim"
            try Files.write(victim, "precious\n")
            let state = sb.spool + "/.spoolbus"
            #expect(try Attacker.run(["mkdir", state]).status == 0)
            #expect(try Attacker.run(["ln", "-s", victim, state + "/lock"]).status == 0)
            #expect(try Attacker.run(["ln", "-s", victim, state + "/dispatch.log"]).status == 0)
            try sb.writeRules("x  file  ./h/record.sh\n")

            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool], timeout: .seconds(30))
            #expect(result.status == .exited(1), "\(result)")
            #expect(result.err.contains("refusing the spool's state folder: '\(state)' belongs to uid \(Attacker.uid)"), "\(result.err)")
            #expect(result.err.contains("chown it to uid 0 or remove it"), "the error says what to fix: \(result.err)")
            #expect(Files.readText(victim) == "precious\n", "the file outside is untouched")
        }
    }

    /// Finding 1, inside a state folder that is the daemon's: a symlink, a file of another
    /// user or a folder others may write makes `run` refuse too, naming it.
    @Test(arguments: ["symlink", "foreign file", "writable folder"])
    func anythingInTheStateFolderNotTheDaemonsIsRefused(_ planted: String) async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            let victim = sb.root + "/victim"
            try Files.write(victim, "precious\n")
            let state = sb.spool + "/.spoolbus"
            #expect(mkdir(state, 0o711) == 0)
            let culprit: String
            switch planted {
            case "symlink":
                culprit = state + "/dispatch.log"
                #expect(symlink(victim, culprit) == 0)
            case "foreign file":
                culprit = state + "/lock"
                try Files.write(culprit, "")
                #expect(chown(culprit, Attacker.uid, 0) == 0)
            default:
                culprit = state + "/failed"
                #expect(mkdir(culprit, 0o700) == 0)
                try Files.chmod(culprit, 0o777)
            }
            try sb.writeRules("x  file  ./h/record.sh\n")
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool], timeout: .seconds(30))
            #expect(result.status == .exited(1), "\(result)")
            #expect(result.err.hasPrefix("spoolbus: error: refusing the spool's state folder: '\(culprit)' "), "\(result.err)")
            #expect(Files.readText(victim) == "precious\n")
        }
    }

    /// Finding 6: what the daemon creates is its own and not readable by others, and the
    /// folders it was given are tightened; a producer cannot read the log or dead letters.
    @Test func theStateFolderIsNotReadableByOthers() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("fail.sh", "#!/bin/sh\necho 'secret stderr' >&2\nexit 1\n")
            try sb.writeRules("inbox/*  file  retries=0  ./h/fail.sh\n")
            let state = sb.spool + "/.spoolbus"
            let log = DispatchLog(path: state + "/dispatch.log")
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", sb.spool], log: log)
            try sb.drop("inbox/secret.msg", "the body\n")
            try await sb.waitFor("the dead letter") { Files.list(state + "/failed").count == 2 }

            #expect(permissions(state) == 0o711, "others may reach control.sock only")
            #expect(permissions(state + "/dispatch.log") == 0o640)
            #expect(permissions(state + "/lock") == 0o600)
            #expect(permissions(state + "/failed") == 0o700)
            #expect(permissions(state + "/done") == 0o700)
            #expect(permissions(state + "/tmp") == 0o700)
            #expect(permissions(state + "/work") == 0o711, "a user= handler reaches its claimed file by name")
            #expect(try Attacker.run(["cat", state + "/dispatch.log"]).status != 0, "others cannot read the log")
            #expect(try Attacker.run(["ls", state + "/failed"]).status != 0, "others cannot list dead letters")
        }
    }

    /// Finding 6, an older spool: folders others could read are tightened at start.
    @Test func olderStateFoldersAreTightened() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            let state = sb.spool + "/.spoolbus"
            for folder in [state, state + "/failed", state + "/done"] {
                #expect(mkdir(folder, 0o755) == 0)
                try Files.chmod(folder, 0o755)
            }
            // A log an older version made 0644, already holding bodies: others lose their read.
            try Files.write(state + "/dispatch.log", "2026-01-01T00:00:00.000Z recv name=old body=secret\n", mode: 0o644)
            try Files.chmod(state + "/dispatch.log", 0o644)
            try sb.writeRules("x  file  ./h/record.sh\n")
            let log = DispatchLog(path: state + "/dispatch.log")
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", sb.spool], log: log)
            #expect(permissions(state) == 0o751)
            #expect(permissions(state + "/failed") == 0o750)
            #expect(permissions(state + "/done") == 0o750)
            #expect(permissions(state + "/dispatch.log") == 0o640, "others lose their read; the group keeps its")
        }
    }

    /// Finding 3: `retry` run by root puts a dead letter back by its folder's descriptor: a
    /// folder of its name swapped for a symlink to a folder outside gets nothing.
    @Test func retryNeverWritesThroughASymlinkedFolder() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let outside = sb.root + "/etc"
            try Files.makeDirectories(outside + "/profile.d")
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("in/**  file  retries=0  ./h/fail.sh\n")
            let daemon = try await sb.startDaemon()
            let sent = try Attacker.run([spoolbusBinary, "send", "in/profile.d/evil.sh", "--spool", sb.spool], stdin: "echo owned\n")
            #expect(sent.status == 0, "\(sent.stderr)")
            try await sb.waitFor("the dead letter") { Files.list(sb.state("failed")).count == 2 }
            #expect(try await daemon.stop() == .exited(0))

            #expect(try Attacker.run(["mv", sb.spool + "/in", sb.spool + "/in.away"]).status == 0)
            #expect(try Attacker.run(["ln", "-s", outside, sb.spool + "/in"]).status == 0)
            let retried = try await sb.spoolbus(["retry", "--all", "--spool", sb.spool])
            #expect(retried.status == .exited(1), "\(retried)")
            #expect(retried.err.contains("cannot put back 'in/profile.d/evil.sh'") && retried.err.contains("a symlink or a file is in the way"), "\(retried.err)")
            #expect(Files.list(outside + "/profile.d").isEmpty, "nothing is written outside the spool")
            #expect(Files.list(sb.state("failed")).count == 2, "the dead letter stays")
        }
    }

    /// Finding 2, the last component: a producer renames a symlink to a root-only file over its
    /// own message between the daemon's check of the file and its claim. Whatever lands in
    /// `work/` is checked again (the same file, or a regular one) and bodies are opened beneath
    /// `work/` without following links: no handler reads the secret. The producer races for three
    /// seconds, a few hundred claims; before the fix about one in four leaked.
    @Test func aFileSwappedForASymlinkWhileClaimedIsNotFollowed() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let secret = sb.root + "/secret"
            try Files.write(secret, "TOPSECRET\n", mode: 0o600)
            try sb.writeRules("*.msg  file  retries=0  output=log  /bin/cat\n")
            try await sb.startDaemon()
            let race = """
                import os, sys, time
                spool, secret = sys.argv[1], sys.argv[2]
                end, i = time.monotonic() + 3, 0
                while time.monotonic() < end:
                    name = os.path.join(spool, "m%d.msg" % i)
                    with open(name, "w") as f: f.write("plain\\n")
                    link = os.path.join(spool, ".l%d" % i)
                    os.symlink(secret, link)
                    os.rename(link, name)
                    i += 1
                """
            let raced = try Attacker.run(["/usr/bin/env", "python3", "-c", race, sb.spool, secret])
            #expect(raced.status == 0, "\(raced.stderr)")
            try await sb.waitFor("some messages handled") { sb.log.lines("ok").count >= 10 }
            try await sb.waitFor("the daemon to settle what it claimed") { sb.claimed.isEmpty }
            let leaked = sb.log.lines.filter { $0.raw.lossy.contains("TOPSECRET") }
            #expect(leaked.isEmpty, "\(leaked.count) log lines hold the secret: \(leaked.prefix(3))")
            #expect(Files.readText(secret) == "TOPSECRET\n")
        }
    }

    /// Finding 2, end to end: a folder swapped for a symlink to a root-only folder while the
    /// daemon is busy makes the claim fail; the files outside stay, and no handler gets them.
    @Test func aFolderSwappedUnderTheDaemonIsNotFollowed() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let secret = sb.root + "/secret"
            try Files.makeDirectories(secret)
            try Files.chmod(secret, 0o700)
            try Files.write(secret + "/shadow", "root only\n")
            try sb.writeRules("drop/*  file  ./h/record.sh\n")
            #expect(try Attacker.run(["mkdir", sb.spool + "/drop"]).status == 0)
            #expect(try Attacker.run(["sh", "-c", "echo probe > \(sb.spool)/drop/probe"]).status == 0)
            let daemon = try await sb.startDaemon()
            _ = try await sb.waitForRun("the probe, so drop/ is watched") { $0.name == Bytes(text: "drop/probe") }
            // Stopped, the daemon holds the event for drop/shadow when the folder is swapped.
            daemon.signal(SIGSTOP)
            #expect(try Attacker.run(["sh", "-c", "echo mine > \(sb.spool)/drop/shadow"]).status == 0)
            #expect(try Attacker.run(["mv", sb.spool + "/drop", sb.spool + "/drop.away"]).status == 0)
            #expect(try Attacker.run(["ln", "-s", secret, sb.spool + "/drop"]).status == 0)
            daemon.signal(SIGCONT)
            try await sb.waitForLine("an error about drop/shadow") { $0.verb == "error" && $0["name"] == "drop/shadow" }
            #expect(Files.readText(secret + "/shadow") == "root only\n")
            #expect(sb.runs(named: "drop/shadow").isEmpty, "no handler got the root-only file")
            #expect(sb.claimed.isEmpty)
            #expect(Files.readText(sb.spool + "/drop.away/shadow") == "mine\n")
        }
    }

    /// Finding 7: names holding `+` survive a kill -9 in the middle of their run, are found by
    /// recovery, and become dead letters that `retry` puts back.
    @Test func namesWithAPlusSurviveRecoveryAndRetry() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("hang.sh", "#!/bin/sh\n: > \"$OUT/started.$SPOOL_ID\"\nexec sleep 60\n")
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("**  file  ./h/hang.sh\n")
            let daemon = try await sb.startDaemon()
            let names = ["user+tag@example.com", "c++.txt"]
            for name in names { try sb.drop(name, "body of \(name)\n") }
            try await sb.waitFor("both handlers to start") { Files.list(sb.out).filter { $0.lossy.hasPrefix("started.") }.count == 2 }
            daemon.signal(SIGKILL)
            #expect(try await daemon.waitForExit() == .signaled(SIGKILL))

            try sb.writeRules("**  file  retries=0  ./h/fail.sh\n")
            let second = try await sb.startDaemon()
            for name in names {
                try await sb.waitForLine("recovered \(name)") { $0.verb == "recv" && $0["name"] == name && $0["recovered"] == "1" }
            }
            try await sb.waitFor("both dead letters and an empty work/") {
                Files.list(sb.state("failed")).count == 4 && sb.claimed.isEmpty
            }
            #expect(try await second.stop() == .exited(0))
            for name in names {
                let retried = try await sb.spoolbus(["retry", name, "--spool", sb.spool])
                #expect(retried.status == .exited(0), "\(retried)")
                #expect(Files.readText(sb.spoolPath(name)) == "body of \(name)\n")
            }
            #expect(Files.list(sb.state("failed")).isEmpty)
        }
    }

    /// Finding 10: `--spool` through a symlinked folder works, and the real path is logged.
    @Test func aSymlinkedSpoolPathIsResolvedOnce() async throws {
        try await withSandbox { sb in
            let link = sb.root + "/link"
            #expect(symlink(sb.spool, link) == 0)
            try sb.writeRules("inbox/*  file  ./h/record.sh\n")
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--spool", link, "--log", sb.logPath])
            #expect(sb.log.lines("start").last?["spool"] == sb.spool, "the start line names the real path")
            try sb.drop("inbox/a", "x\n")
            let run = try await sb.waitForRun()
            #expect(run.variable("SPOOL_DIR") == sb.spool)
        }
    }

    /// Finding 10: `send` onto the daemon's FIFO writes one line into it, and leaves the FIFO.
    @Test func sendOntoAFifoWritesALine() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                mkfifo  events
                events  fifo  ./h/record.sh
                """)
            let daemon = try await sb.startDaemon()
            try await sb.waitFor("the FIFO") { fileType(sb.spoolPath("events")) == S_IFIFO }
            let sent = try await sb.spoolbus(["send", "events", "usb", "added", "--spool", sb.spool])
            #expect(sent.status == .exited(0), "\(sent)")
            let run = try await sb.waitForRun()
            #expect(run.variable("SPOOL_MESSAGE") == "usb added")
            #expect(fileType(sb.spoolPath("events")) == S_IFIFO, "the FIFO is never replaced")
            #expect(try await daemon.stop() == .exited(0))
            if !Files.exists(sb.spoolPath("events")) { #expect(mkfifo(sb.spoolPath("events"), 0o622) == 0) }
            let unread = try await sb.spoolbus(["send", "events", "x", "--spool", sb.spool])
            #expect(unread.status == .exited(1))
            #expect(unread.err == "spoolbus: error: cannot send 'events': '\(sb.spoolPath("events"))' is a FIFO that no one reads (is the daemon running?): nothing was written\n")
            #expect(fileType(sb.spoolPath("events")) == S_IFIFO)
        }
    }

    /// Finding 10: `send` onto a socket refuses, and the socket stays.
    @Test func sendOntoASocketRefuses() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                listen  ask.sock
                ask.sock  socket  ./h/record.sh
                """)
            try await sb.startDaemon()
            try await sb.waitFor("the socket") { fileType(sb.spoolPath("ask.sock")) == S_IFSOCK }
            let sent = try await sb.spoolbus(["send", "ask.sock", "hi", "--spool", sb.spool])
            #expect(sent.status == .exited(1))
            #expect(sent.err.hasPrefix("spoolbus: error: cannot send 'ask.sock': '\(sb.spoolPath("ask.sock"))' is a socket, not a message file: nothing was written"), "\(sent.err)")
            #expect(fileType(sb.spoolPath("ask.sock")) == S_IFSOCK)
        }
    }
}
