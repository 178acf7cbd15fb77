import Foundation
import Glibc
import Testing

/// What a root daemon believes of what producers leave in the file system: a datagram sender's
/// address, and a lock that says a folder is another daemon's spool.
@Suite(.serialized) struct TrustedClaimTests {
    /// Runs as `nobody` a producer that makes `.spoolbus/lock` in `folder` and holds a flock on
    /// it until killed; returns once the lock is held.
    private func holdLock(in folder: String, _ sb: Sandbox) async throws -> Child {
        let ready = folder + "/.locked"
        let holder = try Spawner.spawn(
            ["/usr/bin/setpriv", "--reuid=nobody", "--regid=\(getgrnam("nogroup") != nil ? "nogroup" : "65534")", "--clear-groups",
             "--", "/usr/bin/python3", "-c", """
                import fcntl, os, sys, time
                os.mkdir(sys.argv[1] + "/.spoolbus", 0o711)
                fd = os.open(sys.argv[1] + "/.spoolbus/lock", os.O_RDWR | os.O_CREAT, 0o600)
                os.write(fd, b"1\\n"); fcntl.flock(fd, fcntl.LOCK_EX)
                open(sys.argv[1] + "/.locked", "w").close()
                time.sleep(60)
                """, folder].map { Bytes(text: $0) },
            environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null",
            label: "a producer holding a lock")
        try await sb.waitFor("the producer's lock") { Files.exists(ready) }
        return holder
    }

    @Test func aLockInAFolderAnyoneMayWriteIsSaidToBeAFake() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try Files.makeDirectories(sb.spool + "/shared")
            try Files.chmod(sb.spool + "/shared", 0o1777)
            try sb.writeRules("shared/*  file  ./h/record.sh\n")
            let holder = try await holdLock(in: sb.spool + "/shared", sb)
            defer { holder.killAndReap() }
            try await sb.startDaemon()
            let error = try await sb.waitForLine("an error about the fake spool") { $0.verb == "error" && $0["name"] == "shared" }
            #expect(error["err"]?.contains("a fake spool, ignored") == true, "\(error)")
            #expect(error["err"]?.contains("writable by others") == true, "\(error)")
        }
    }

    /// A folder of the producer's own, writable by no one else, is its to serve: the lock counts.
    @Test func aLockInAFolderOfTheLockersOwnCounts() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let own = sb.spool + "/own"
            try Files.makeDirectories(own)
            #expect(chown(own, Attacker.uid, 0) == 0)
            try Files.chmod(own, 0o755)
            try sb.writeRules("own/*  file  ./h/record.sh\n")
            let holder = try await holdLock(in: own, sb)
            defer { holder.killAndReap() }
            try await sb.startDaemon()
            let error = try await sb.waitForLine("an error about the served spool") { $0.verb == "error" && $0["name"] == "own" }
            #expect(error["err"]?.contains("served by pid") == true, "\(error)")
        }
    }

    /// A sender bound in the abstract namespace has no file to check: it is answered as before.
    @Test func anAbstractSenderGetsItsReply() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("echo.sh", "#!/bin/sh\necho \"you said: $SPOOL_MESSAGE\"\n")
            try sb.writeRules("listen echo.sock mode=0666 type=dgram\necho.sock  socket  reply  ./h/echo.sh\n")
            try await sb.startDaemon()
            let sent = try Attacker.run(["/usr/bin/python3", "-c", """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind("\\0spoolbus-test-%d" % os.getpid())
                s.settimeout(20)
                s.sendto(b"hello", sys.argv[1])
                sys.stderr.write(s.recv(65536).decode())
                """, sb.spool + "/echo.sock"])
            #expect(sent.status == 0 && sent.stderr.hasSuffix("you said: hello\n"), "\(sent)")
        }
    }

    /// A sender's address that is, by reply time, a socket of another user (no symlink needed
    /// for root to put one there) gets no reply, and an error line says why.
    @Test func aReplyGoesOnlyToASocketOfTheSender() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let go = sb.root + "/go"
            try sb.writeHandler("late.sh", "#!/bin/sh\nwhile [ ! -e '\(go)' ]; do sleep 0.05; done\necho late\n")
            try sb.writeRules("listen late.sock mode=0666 type=dgram\nlate.sock  socket  reply  ./h/late.sh\n")
            try await sb.startDaemon()

            let folder = sb.root + "/sender"
            try Files.makeDirectories(folder)
            #expect(chown(folder, Attacker.uid, 0) == 0)
            let address = folder + "/me.sock"
            let sent = try Attacker.run(["/usr/bin/python3", "-c", """
                import os, socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(sys.argv[1]); s.sendto(b"hello", sys.argv[2]); os.unlink(sys.argv[1])
                """, address, sb.spool + "/late.sock"])
            #expect(sent.status == 0, "\(sent.stderr)")
            _ = try await sb.waitForLine("the message received") { $0.verb == "recv" }

            let got = sb.root + "/got"
            let receiver = try Spawner.spawn(
                ["/usr/bin/python3", "-c", """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    s.bind(sys.argv[1])
                    open(sys.argv[2] + ".ready", "w").close()
                    data = s.recv(65536)
                    open(sys.argv[2], "wb").write(data)
                    """, address, got].map { Bytes(text: $0) },
                environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null",
                label: "root's socket at the sender's address")
            defer { receiver.killAndReap() }
            try await sb.waitFor("root's socket") { Files.exists(got + ".ready") }
            try Files.write(go, "")

            let error = try await sb.waitForLine("the refused reply") { $0.verb == "error" && $0["name"] == "late.sock" }
            #expect(error["err"]?.contains("not a socket of the sender's uid \(Attacker.uid)") == true, "\(error)")
            #expect(!Files.exists(got), "root's socket got: \(Files.readText(got) ?? "")")
        }
    }
}
