import Foundation
import Glibc
import Testing

/// Attacks by an unprivileged producer on a root daemon serving a shared spool, each reproduced
/// as the producer would run it. Each test fails while the daemon can be turned that way.
@Suite(.serialized) struct AttackTests {
    /// Publishes `x` (a regular file) in FOLDER and swaps it again and again with `.y` (a
    /// symlink to TARGET, or a FIFO) by `renameat2(RENAME_EXCHANGE)`, paced so that the
    /// daemon's inotify queue does not overflow, so that the daemon may
    /// open and check a regular file, then rename whatever stands at the name by then. Ends at
    /// the first claim of the swapped-in node (exit 0: the regular file is left at `.y`), or
    /// after SECONDS (exit 1).
    static let swapper = """
        import ctypes, os, stat, sys, time
        libc = ctypes.CDLL(None, use_errno=True)
        folder, target, kind, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
        d = os.open(folder, os.O_DIRECTORY)
        end = time.time() + seconds
        while time.time() < end:
            try: os.unlink(".y", dir_fd=d)
            except FileNotFoundError: pass
            if kind == "fifo": os.mkfifo(".y", 0o666, dir_fd=d)
            else: os.symlink(target, ".y", dir_fd=d)
            fd = os.open(".x", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=d)
            os.write(fd, b"harmless\\n"); os.close(fd)
            os.rename(".x", "x", src_dir_fd=d, dst_dir_fd=d)
            stop = time.time() + 0.5
            while time.time() < stop:
                if any(libc.renameat2(d, b"x", d, b".y", 2) != 0 for _ in range(20)): break
                time.sleep(0.001)
            try:
                if stat.S_ISREG(os.stat(".y", dir_fd=d, follow_symlinks=False).st_mode): sys.exit(0)
            except FileNotFoundError: pass
            try: os.unlink("x", dir_fd=d)
            except FileNotFoundError: pass
        sys.exit(1)
        """

    /// A shared spool with `in/` made by the attacker, and a handler that copies its stdin and
    /// `SPOOL_PATH` into `out/`.
    private func prepare(_ sb: Sandbox) throws {
        try sb.shareSpoolWithOthers()
        try sb.writeHandler("copy.sh", "#!/bin/sh\ncat >> \"$OUT/stdin\"\ncat \"$SPOOL_PATH\" >> \"$OUT/path\" 2>/dev/null\nexit 0\n")
        try sb.writeHandler("swap.py", Self.swapper)
        try sb.writeRules("in/*  file  ./h/copy.sh\n")
        #expect(try Attacker.run(["mkdir", sb.spool + "/in"]).status == 0)
    }

    /// The claim checks a regular file through a descriptor, then renames the name: a producer
    /// who swaps a symlink in between has the symlink claimed into `work/`, and the handler's
    /// stdin (opened by path) and `SPOOL_PATH` then read a root-only file outside the spool.
    @Test func aSymlinkSwappedInDuringTheClaimIsNeverFollowed() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try prepare(sb)
            let secret = sb.root + "/secret"
            try Files.write(secret, "TOPSECRET\n", mode: 0o600)
            try await sb.startDaemon()

            let swap = try Attacker.run(["/usr/bin/python3", sb.handlers + "/swap.py", sb.spool + "/in", secret, "symlink", "8"])
            try await sb.waitFor("the claimed messages settled") {
                Files.list(sb.state("work")).isEmpty && sb.log.lines("run").count == sb.log.lines("ok").count + sb.log.lines("fail").count
            }
            let leaked = (Files.readText(sb.out + "/stdin") ?? "") + (Files.readText(sb.out + "/path") ?? "")
            #expect(!leaked.contains("TOPSECRET"), "a handler read a root-only file outside the spool (swapper status \(swap.status))")
            #expect(Files.readText(secret) == "TOPSECRET\n")
        }
    }

    /// The same swap with a FIFO: the claimed FIFO is opened (blocking) as the handler's stdin,
    /// and the whole daemon hangs in open(2): nothing is dispatched any more, by anyone.
    @Test func aFifoSwappedInDuringTheClaimDoesNotHangTheDaemon() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try prepare(sb)
            try await sb.startDaemon()

            let swap = try Attacker.run(["/usr/bin/python3", sb.handlers + "/swap.py", sb.spool + "/in", "-", "fifo", "8"])
            try sb.drop("in/after", "still served?\n")
            try await sb.waitFor("in/after handled after the swap (swapper status \(swap.status))", timeout: .seconds(60)) {
                (Files.readText(sb.out + "/stdin") ?? "").contains("still served?")
            }
        }
    }

    /// Every symlink (or folder, FIFO, removal) a producer makes is a `node`/`gone` job held in
    /// the daemon's memory until its handler runs: unlike files (1,024 in flight, the rest wait
    /// on disk) nothing bounds them, so a producer swapping names in a loop grew a root daemon
    /// to 1.8 GB in a minute. What waits in memory must stay within the admission limit: past
    /// it, new events are dropped, counted and logged.
    @Test func nodeEventsFromAProducerAreBoundedInMemory() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("hold.sh", "#!/bin/sh\nwhile [ ! -e \"$OUT/release\" ]; do sleep 0.05; done\n")
            try sb.writeRules("**  node  concurrency=1  ./h/hold.sh\n")
            try await sb.startDaemon()
            let made = try Attacker.run(["/usr/bin/python3", "-c", """
                import os, sys
                os.mkdir(sys.argv[1])
                for i in range(3000): os.symlink("/", "%s/%d" % (sys.argv[1], i))
                """, sb.spool + "/n"])
            #expect(made.status == 0, "\(made.stderr)")
            func count(_ facts: [String: String], _ key: String) -> Int { Int(facts[key] ?? "") ?? 0 }
            let facts = try await sb.waitForStatus("the 3,001 node events read") {
                count($0, "received") + count($0, "node_events_dropped") >= 3001
            }
            defer { try? Files.write(sb.out + "/release", "") }
            #expect(count(facts, "queued") + count(facts, "running") <= 1024, "node jobs held in the daemon's memory: \(facts)")
            // Dropping is said once as it starts, and once with its count when half are done.
            #expect(sb.log.lines("error").filter { $0["limit"] == "1024" }.count == 1, "\(sb.log.tail(5))")
            try Files.write(sb.out + "/release", "")
            try await sb.waitFor("the end of the dropping logged", timeout: .seconds(30)) {
                sb.log.lines("error").contains { $0["dropped"] != nil }
            }
            let dropped = sb.log.lines("error").first { $0["dropped"] != nil }?["dropped"]
            #expect(dropped == (try await sb.statusFacts())["node_events_dropped"])
            #expect(Int(dropped ?? "") ?? 0 >= 3001 - 1024)
        }
    }

    /// Each FIFO a producer makes at a name a `fifo` rule's pattern matches is opened and held
    /// open by the daemon, with no bound: enough of them use up the daemon's descriptors, and
    /// then nothing is claimed and `status` gets no answer. (Here under `ulimit -n 512`, so
    /// 600 FIFOs are enough; the daemon's default limit, 20,000 here, took 21,000.)
    @Test func fifosMadeByAProducerDoNotUseUpTheDaemonsDescriptors() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("copy.sh", "#!/bin/sh\ncat >> \"$OUT/stdin\"\n")
            try sb.writeRules("fifos/*  fifo  ./h/copy.sh\nin/*  file  ./h/copy.sh\n")
            let daemon = try await sb.startDaemonThroughShell("ulimit -n 512")
            do {
                let made = try Attacker.run(["/usr/bin/python3", "-c", """
                    import os, sys
                    os.mkdir(sys.argv[1])
                    for i in range(600): os.mkfifo("%s/f%d" % (sys.argv[1], i))
                    """, sb.spool + "/fifos"])
                #expect(made.status == 0, "\(made.stderr)")
                // The FIFOs' events come before the file's: the file is seen after them.
                try sb.drop("in/after", "still served?\n")
                try await sb.waitFor("in/after handled", timeout: .seconds(60)) {
                    (Files.readText(sb.out + "/stdin") ?? "").contains("still served?")
                }
                let status = try await sb.spoolbus(["status", "--spool", sb.spool], timeout: .seconds(60))
                #expect(status.status == .exited(0), "\(status)")
            } catch {
                try await daemon.stop()
                throw error
            }
            try await daemon.stop()
        }
    }

    /// `send` run by root onto a name where a producer planted a FIFO (not the daemon's: no
    /// `mkfifo` names it, and it belongs to the producer) writes the body into it and says it
    /// was sent: the producer reading the FIFO takes the message, and no daemon ever sees it.
    @Test func sendNeverHandsABodyToAProducersFifo() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("in/*  file  ./h/record.sh\n")
            try await sb.startDaemon()
            #expect(try Attacker.run(["mkdir", sb.spool + "/in"]).status == 0)
            #expect(try Attacker.run(["mkfifo", sb.spool + "/in/report"]).status == 0)
            let stolen = sb.root + "/stolen"
            try Files.write(stolen, "", mode: 0o666)
            let ready = sb.root + "/reader-ready"
            try Files.chmod(sb.root, 0o1777)
            // The producer holds its FIFO open for reading and copies what comes to `stolen`.
            let reader = try Spawner.spawn(
                ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "/usr/bin/python3", "-c", """
                    import os, select, sys, time
                    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
                    open(sys.argv[3], "w").close()
                    end = time.time() + 20
                    while time.time() < end:
                        if select.select([fd], [], [], 0.1)[0]:
                            data = os.read(fd, 65536)
                            if data:
                                with open(sys.argv[2], "ab") as f: f.write(data)
                    """, sb.spool + "/in/report", stolen, ready].map { Bytes(text: $0) },
                environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null",
                label: "the producer's FIFO reader")
            defer { reader.killAndReap() }
            try await sb.waitFor("the producer's reader on its FIFO") { Files.exists(ready) }
            let result = try await sb.spoolbus(["send", "in/report", "quarterly numbers", "--spool", sb.spool])
            if result.status == .exited(0) {
                try await sb.waitFor("the body in the producer's FIFO, where send put it", timeout: .seconds(10)) {
                    (Files.readText(stolen) ?? "").contains("quarterly numbers")
                }
            }
            #expect(!(Files.readText(stolen) ?? "").contains("quarterly numbers"),
                    "root's message went to the producer's FIFO; send said: \(result)")
        }
    }

    /// A dgram sender's reply goes to the address it bound, by path, as root: a producer that
    /// sends and then puts a symlink at its address has the daemon write the reply (here its
    /// own words, echoed by a `reply` handler) into a root-only socket it could never reach,
    /// with root's credentials.
    @Test func aDatagramReplyNeverFollowsASymlinkAtTheSendersAddress() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeHandler("echo.sh", "#!/bin/sh\necho \"you said: $SPOOL_MESSAGE\"\n")
            try sb.writeRules("listen echo.sock mode=0666 type=dgram\necho.sock  socket  reply  ./h/echo.sh\n")
            try await sb.startDaemon()

            // A root-only datagram socket, in a folder only root may enter.
            let privateFolder = sb.root + "/private"
            try Files.makeDirectories(privateFolder)
            try Files.chmod(privateFolder, 0o700)
            let privateSocket = privateFolder + "/root-only.sock"
            let got = privateFolder + "/got"
            let receiver = try Spawner.spawn(
                ["/usr/bin/python3", "-c", """
                    import os, socket, sys
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600)
                    open(sys.argv[2] + ".ready", "w").close()
                    data = s.recv(65536)
                    open(sys.argv[2], "wb").write(data)
                    """, privateSocket, got].map { Bytes(text: $0) },
                environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null",
                label: "a root-only datagram socket")
            defer { receiver.killAndReap() }
            try await sb.waitFor("the root-only socket") { Files.exists(got + ".ready") }

            let attackerFolder = sb.root + "/attacker"
            try Files.makeDirectories(attackerFolder)
            #expect(chown(attackerFolder, Attacker.uid, 0) == 0)
            let sent = try Attacker.run(["/usr/bin/python3", "-c", """
                import os, socket, sys
                me, bus, target = sys.argv[1], sys.argv[2], sys.argv[3]
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(me)
                s.sendto(b"INJECTED", bus)
                os.unlink(me); os.symlink(target, me)
                """, attackerFolder + "/me.sock", sb.spool + "/echo.sock", privateSocket])
            #expect(sent.status == 0, "\(sent.stderr)")
            _ = try await sb.waitForLine("the echo handler done") { $0.verb == "ok" }
            // The reply is sent once the handler is done: give it a moment to arrive, if it goes.
            try? await waitFor("a datagram in the root-only socket", timeout: .seconds(3)) { Files.exists(got) }
            #expect(!Files.exists(got), "the root-only socket got: \(Files.readText(got) ?? "")")
        }
    }

    /// A producer who may write in a shared topic folder makes `.spoolbus/lock` in it and holds
    /// a flock on it: the root daemon then takes the folder for another daemon's spool and
    /// leaves it alone (until it restarts without the lock held), so nobody's files there are
    /// dispatched. A nested spool counts only when it is really served, by the folder's owner
    /// or the daemon's own user.
    @Test func aLockHeldByAProducerDoesNotTakeASharedFolderAway() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            let shared = sb.spool + "/shared"
            try Files.makeDirectories(shared)
            try Files.chmod(shared, 0o1777)
            try sb.writeHandler("copy.sh", "#!/bin/sh\ncat >> \"$OUT/stdin\"\n")
            try sb.writeRules("shared/*  file  ./h/copy.sh\n")
            let ready = shared + "/.locked"
            let holder = try Spawner.spawn(
                ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "/usr/bin/python3", "-c", """
                    import fcntl, os, sys, time
                    os.mkdir(sys.argv[1] + "/.spoolbus", 0o711)
                    fd = os.open(sys.argv[1] + "/.spoolbus/lock", os.O_RDWR | os.O_CREAT, 0o600)
                    os.write(fd, b"1\\n"); fcntl.flock(fd, fcntl.LOCK_EX)
                    open(sys.argv[1] + "/.locked", "w").close()
                    time.sleep(60)
                    """, shared].map { Bytes(text: $0) },
                environment: [:], directory: "/", stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null",
                label: "the producer holding a lock")
            defer { holder.killAndReap() }
            try await sb.waitFor("the producer's lock") { Files.exists(ready) }
            try await sb.startDaemon()
            try sb.drop("shared/report", "for the bus\n")
            try await sb.waitFor("shared/report handled", timeout: .seconds(60)) {
                (Files.readText(sb.out + "/stdin") ?? "").contains("for the bus")
            }
        }
    }

    /// A producer who makes the `mkfifo` name first (its own FIFO, mode 0666, in a folder of
    /// its own) has the root daemon adopt it silently: the FIFO stays the producer's, readable
    /// by all, so the producer can read the lines others write for the bus, and change its mode
    /// at will. The daemon must serve only a FIFO of its own with the mode the rules give,
    /// or say why not.
    @Test func aFifoPlantedAtTheMkfifoNameIsNotAdoptedSilently() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("mkfifo  events/ev\nevents/ev  fifo  ./h/record.sh\n")
            #expect(try Attacker.run(["/bin/sh", "-c", "mkdir \"$0\" && mkfifo -m 0666 \"$0/ev\"", sb.spool + "/events"]).status == 0)
            try await sb.startDaemon()
            let path = sb.spool + "/events/ev"
            var st = stat()
            #expect(lstat(path, &st) == 0)
            let own = st.st_mode & S_IFMT == S_IFIFO && st.st_uid == 0 && st.st_mode & 0o7777 == 0o622
            let said = sb.log.lines("error").contains { $0["name"] == "events/ev" }
            #expect(own || said, "the daemon serves a FIFO of uid \(st.st_uid), mode \(String(st.st_mode & 0o7777, radix: 8)), and says nothing")
        }
    }
}
