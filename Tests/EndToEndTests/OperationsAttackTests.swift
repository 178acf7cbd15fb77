import Foundation
import Glibc
import Testing

/// Attacks by an unprivileged producer through the operations commands (`dead`, `drop`,
/// `retry`, completion): names a producer chose must never act as options, reach an admin's
/// terminal as control bytes, or expand in an admin's shell; a state folder a producer made must
/// never hang an admin's command.
@Suite(.serialized) struct OperationsAttackTests {
    /// A shared spool whose every top-level message fails at once, a daemon serving it.
    private func failingSpool(_ sb: Sandbox) async throws {
        try sb.shareSpoolWithOthers()
        try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 3\n")
        try sb.writeRules("* file retries=0 ./h/fail.sh\n")
        try await sb.startDaemon()
    }

    /// A producer names a message `--all`. The admin drops (or retries) that one letter,
    /// `spoolbus drop -- --all`: through the daemon, the request `drop --all` was every dead
    /// letter, so the admin's precious `victim` was destroyed (retried) with it.
    @Test func aDeadLetterNamedLikeAnOptionIsDroppedOrRetriedAlone() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try await failingSpool(sb)
            try sb.drop("victim", "precious\n")
            #expect(try Attacker.run(["/bin/sh", "-c", "echo x > \"$1/--all\"", "-", sb.spool]).status == 0)
            try await sb.waitFor("two dead letters") { sb.log.lines("dead").count == 2 }

            let retried = try await sb.spoolbus(["retry", "--spool", sb.spool, "--", "--all"])
            #expect(retried.status == .exited(0), "\(retried)")
            #expect(retried.out.nonEmptyLines.count == 1 && retried.out.contains("put back --all"), "\(retried)")
            try await sb.waitFor("--all dead again") { sb.log.lines("dead").count == 3 }
            #expect(sb.log.lines("recv").filter { $0["name"] == "victim" }.count == 1, "victim was not retried")

            let dropped = try await sb.spoolbus(["drop", "--spool", sb.spool, "--", "--all"])
            #expect(dropped.status == .exited(0), "\(dropped)")
            #expect(dropped.out.nonEmptyLines.count == 1 && dropped.out.contains("dropped --all"), "\(dropped)")
            let left = try await sb.spoolbus(["dead", "--names", "--spool", sb.spool])
            #expect(left.out.nonEmptyLines == ["victim"], "only the letter named --all is gone: \(left)")
        }
    }

    /// A name with an escape sequence and a newline: `drop` and `retry` printed it raw, so a
    /// producer could drive the admin's terminal and forge lines of the answer.
    @Test func dropAndRetryPrintNamesEscaped() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try await failingSpool(sb)
            let evil = "evil\u{1b}]0;owned\u{07}\u{1b}[2J\ndropped everything-else (id 1)"
            #expect(try Attacker.run(["/bin/sh", "-c", "printf x > \"$1/$2\"", "-", sb.spool, evil]).status == 0)
            try await sb.waitFor("a dead letter") { sb.log.lines("dead").count == 1 }

            let retried = try await sb.spoolbus(["retry", "--all", "--spool", sb.spool])
            #expect(retried.status == .exited(0), "\(retried)")
            #expect(!retried.stdout.contains(0x1B) && retried.out.nonEmptyLines.count == 1, "\(retried.stdout)")
            try await sb.waitFor("dead again") { sb.log.lines("dead").count == 2 }

            let dropped = try await sb.spoolbus(["drop", "--all", "--spool", sb.spool])
            #expect(dropped.status == .exited(0), "\(dropped)")
            #expect(!dropped.stdout.contains(0x1B) && dropped.out.nonEmptyLines.count == 1, "\(dropped.stdout)")
            #expect(dropped.out.hasPrefix("dropped \"evil\\x1b]0;owned\\x07\\x1b[2J\\ndropped"), "\(dropped.out)")
        }
    }

    /// A producer's folder name holds an escape sequence; once its message is a dead letter the
    /// producer puts a symlink at the folder's name, so putting it back fails with an error that
    /// names the path: `retry` printed that error raw on the admin's terminal.
    @Test func failuresOfRetryPrintNoControlBytes() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 3\n")
            try sb.writeRules("** file retries=0 ./h/fail.sh\n")
            try await sb.startDaemon()
            let folder = "d\u{1b}[2J\u{1b}]0;owned\u{07}"
            #expect(try Attacker.run(["/bin/sh", "-c", "mkdir \"$1/$2\" && echo x > \"$1/$2/x\"", "-", sb.spool, folder]).status == 0)
            try await sb.waitFor("a dead letter") { sb.log.lines("dead").count == 1 }
            #expect(try Attacker.run(["/bin/sh", "-c", "mv \"$1/$2\" \"$1/gone\" && ln -s /tmp \"$1/$2\"", "-", sb.spool, folder]).status == 0)

            let retried = try await sb.spoolbus(["retry", "--all", "--spool", sb.spool])
            #expect(retried.status == .exited(1), "\(retried)")
            #expect(retried.err.contains("cannot put back"), "\(retried)")
            #expect(!retried.stderr.contains(0x1B) && !retried.stderr.contains(0x07), "\(retried.stderr)")
        }
    }

    /// The spool was never served: a producer makes `.spoolbus/lock`, writes the pid of a
    /// process of root's into it and holds its flock. The init script took that for the
    /// daemon: `start` said "already running" (and started nothing) and `stop`, run as root,
    /// sent SIGTERM to the producer's chosen process.
    @Test func theInitScriptTrustsOnlyALockOfItsOwnUser() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let victim = try Spawner.spawn(
                ["/bin/sleep", "300"].map { Bytes(text: $0) }, environment: [:], directory: "/", stdin: "/dev/null",
                stdout: "/dev/null", stderr: "/dev/null", label: "root's victim")
            defer { victim.killAndReap() }
            let plant = "set -e; mkdir \"$1/.spoolbus\"; echo \"$2\" > \"$1/.spoolbus/lock\""
            #expect(try Attacker.run(["/bin/sh", "-c", plant, "-", sb.spool, String(victim.pid)]).status == 0)
            let hold = "import fcntl, sys, time\nf = open(sys.argv[1])\nfcntl.flock(f, fcntl.LOCK_EX)\ntime.sleep(120)\n"
            let holder = try Spawner.spawn(
                ["/usr/bin/setpriv", "--reuid=\(Attacker.uid)", "--regid=\(getpwnam(Attacker.user)!.pointee.pw_gid)", "--clear-groups", "--",
                 "/usr/bin/python3", "-c", hold, sb.state("lock")].map { Bytes(text: $0) },
                environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null", label: "the producer's lock holder")
            defer { holder.killAndReap() }
            try await sb.waitFor("the producer to hold the lock") {
                let fd = open(sb.state("lock"), O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { return false }
                defer { close(fd) }
                return flock(fd, LOCK_EX | LOCK_NB) != 0
            }

            let defaults = sb.root + "/spoolbus.defaults"
            try Files.write(defaults, """
                SPOOLBUS=\(spoolbusBinary)
                SPOOLBUS_RULES=\(sb.rulesPath)
                SPOOLBUS_SPOOL=\(sb.spool)
                SPOOLBUS_STDERR=\(sb.root)/init.stderr
                SPOOLBUS_STOP_WAIT=1

                """)
            let script = OperationsFilesTests.folder + "/spoolbus.init"
            let variables = ["SPOOLBUS_DEFAULTS": defaults]
            let status = try await sb.runProgram(["/bin/sh", script, "status"], extra: variables)
            #expect(status.status == .exited(3), "a lock the producer holds is no daemon: \(status)")
            let stop = try await sb.runProgram(["/bin/sh", script, "stop"], extra: variables)
            #expect(stop.out.contains("not running"), "\(stop)")
            #expect(victim.poll() == nil, "root's init script signalled the process the producer named")
        }
    }

    /// `dead --names` printed `=ls` bare: zsh (where the completion inserts it as printed)
    /// expands a word starting with `=` to a command's path, `/usr/bin/ls`.
    @Test func aNameStartingWithEqualsIsQuotedForZsh() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try await failingSpool(sb)
            #expect(try Attacker.run(["/bin/sh", "-c", "echo x > \"$1/=ls\"", "-", sb.spool]).status == 0)
            try await sb.waitFor("a dead letter") { sb.log.lines("dead").count == 1 }
            let names = try await sb.spoolbus(["dead", "--names", "--spool", sb.spool])
            let word = try #require(names.out.nonEmptyLines.first, "\(names)")
            for shell in ["/usr/bin/zsh", "/bin/bash"] where Files.exists(Bytes(text: shell)) {
                let echoed = try await sb.runProgram([shell, "-c", "printf %s " + word])
                #expect(echoed.stdout == Bytes(text: "=ls"), "\(shell) read \(word) as \(echoed.stdout.lossy)")
            }
        }
    }

    /// No daemon has served the shared spool yet, and a producer made `.spoolbus/` with FIFOs
    /// for a long name's `ID+name` and a letter's `ID+reason`: root's `spoolbus dead` (which
    /// the completion runs at every TAB) blocked in open(2) for good.
    @Test func fifoSidecarsInAProducersStateFolderDoNotHangDead() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let failed = sb.spool + "/.spoolbus/failed"
            let script = """
                set -e
                for f in tmp work done failed; do mkdir -p "$1/.spoolbus/$f"; done
                touch "$2/0193b1f0c2a1-000001" "$2/0193b1f0c2a1-000002.a"
                mkfifo "$2/0193b1f0c2a1-000001+name" "$2/0193b1f0c2a1-000002+reason"
                """
            #expect(try Attacker.run(["/bin/sh", "-c", script, "-", sb.spool, failed]).status == 0)
            let listed = try await sb.spoolbus(["dead", "--spool", sb.spool], timeout: .seconds(20))
            #expect(listed.status == .exited(0), "\(listed)")
            #expect(listed.out.hasPrefix("a id=0193b1f0c2a1-000002"), "\(listed)")
        }
    }

    /// Runs as `nobody` a fake daemon at `folder/.spoolbus/control.sock` that answers the
    /// connections in turn with `answers` (the last one then stays open), until killed.
    private func fakeDaemon(in folder: String, answers: [String], _ sb: Sandbox) async throws -> Child {
        let serve = """
            import os, socket, sys, time
            os.makedirs(sys.argv[1] + "/.spoolbus", 0o755, exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Listening before the name appears: the test waits for the name, then connects.
            s.bind(sys.argv[1] + "/.spoolbus/control.sock.new"); os.chmod(sys.argv[1] + "/.spoolbus/control.sock.new", 0o777); s.listen(8)
            os.rename(sys.argv[1] + "/.spoolbus/control.sock.new", sys.argv[1] + "/.spoolbus/control.sock")
            for i, answer in enumerate(sys.argv[2:]):
                c, _ = s.accept()
                try:
                    c.recv(4096); c.sendall(answer.encode("latin-1").replace(b"BIG", b"x" * (3 << 20)))
                except OSError:
                    pass
                if i < len(sys.argv) - 3: c.close()
            time.sleep(60)
            """
        let fake = try Spawner.spawn(
            ["/usr/bin/setpriv", "--reuid=\(Attacker.uid)", "--regid=\(getpwnam(Attacker.user)!.pointee.pw_gid)", "--clear-groups", "--",
             "/usr/bin/python3", "-c", serve, folder].map { Bytes(text: $0) } + answers.map { Bytes(text: $0) },
            environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null", label: "a fake daemon")
        try await sb.waitFor("the fake control socket") { Files.exists(folder + "/.spoolbus/control.sock") }
        return fake
    }

    /// No daemon has served the shared spool yet; a producer makes `.spoolbus/control.sock`.
    /// Root's commands talked to it and printed its escape sequences on root's terminal. Now
    /// every one refuses a server that neither is root nor owns the spool and `.spoolbus/`.
    @Test func aProducersControlSocketInAnotherUsersSpoolIsRefused() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let evil = "pid=1\nspool=\u{1b}]0;owned\u{07}\u{1b}[2J\nletter 1 x 0 \u{1b}[2J y\n"
            let fake = try await fakeDaemon(in: sb.spool, answers: Array(repeating: evil, count: 6), sb)
            defer { fake.killAndReap() }
            for command in [["status"], ["watch"], ["dead"], ["drop", "--all"], ["retry", "--all"]] {
                let result = try await sb.spoolbus(command + ["--spool", sb.spool], timeout: .seconds(20))
                #expect(result.status == .exited(1), "\(command): \(result)")
                #expect(result.err.contains("refusing the control socket") && result.err.contains("uid \(Attacker.uid)"), "\(command): \(result)")
                #expect(!result.stdout.contains(0x1B) && !result.stderr.contains(0x1B), "\(command): \(result)")
            }
        }
    }

    /// A daemon of a user's own spool is trusted (root may ask it), but what it says reaches
    /// root's terminal escaped, and a line without end is an error, not memory without end.
    @Test func anOwnersDaemonIsHeardEscapedAndBounded() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let own = sb.spool + "/own"
            try Files.makeDirectories(own)
            #expect(chown(own, Attacker.uid, 0) == 0)
            let fake = try await fakeDaemon(in: own, answers: [
                "pid=1\nspool=\u{1b}[2Jx\n",
                "ok\n2026-12-04T20:00:00.000Z recv    name=\u{1b}[2Jx\n",
                "pid=1\nBIG",
            ], sb)
            defer { fake.killAndReap() }
            let status = try await sb.spoolbus(["status", "--raw", "--spool", own], timeout: .seconds(20))
            #expect(status.status == .exited(0), "\(status)")
            #expect(!status.stdout.contains(0x1B) && status.out.contains("spool=\\x1b[2Jx"), "\(status)")
            let watch = try await sb.spoolbus(["watch", "--spool", own], timeout: .seconds(20))
            #expect(!watch.stdout.contains(0x1B) && watch.out.contains("name=\\x1b[2Jx"), "\(watch)")
            let flood = try await sb.spoolbus(["status", "--spool", own], timeout: .seconds(20))
            #expect(flood.status == .exited(1), "\(flood)")
            #expect(flood.err.contains("a line longer than"), "\(flood)")
        }
    }
}
