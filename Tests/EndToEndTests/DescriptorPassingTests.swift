import Foundation
import Glibc
import Testing

/// Descriptors passed with socket messages (SCM_RIGHTS): the handler's stdin, closed once the
/// message is settled, refused with an `error` answer when there are too many or they are garbage.
@Suite struct DescriptorPassingTests {
    @Test(arguments: ["stream", "seqpacket"])
    func pythonSendFdsReachesTheHandlerAsStdin(_ kind: String) async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                listen bus.sock type=\(kind)
                bus.sock socket ./h/record.sh passed
                """)
            let daemon = try await sb.startDaemon()
            let before = sb.descriptorCount(of: daemon.pid)
            let file = sb.root + "/payload.bin"
            try Files.write(file, "the file's own bytes\n")
            let client = try await sb.python(IPCClients.descriptorClient, [sb.spoolPath("bus.sock"), kind, file])
            #expect(client.status == .exited(0), "\(client)")
            let answers = client.out.nonEmptyLines
            try #require(answers.count == 6, "\(client)")
            #expect(answers[0].hasPrefix("ok "))
            #expect(answers[1].hasPrefix("ok "))
            #expect(answers[2] == "error 2 descriptors came with one message; one at most is taken")
            #expect(answers[3].hasPrefix("error control data cut short (MSG_CTRUNC)"), "\(answers[3])")
            #expect(answers[4] == "error the descriptor passed is not open for reading (O_WRONLY or O_PATH)")
            #expect(answers[5].hasPrefix("ok "), "a refusal loses no other message: \(answers)")
            let runs = try await sb.waitForRuns(3)
            func run(_ line: String) -> HandlerRun? { runs.first { $0.variable("SPOOL_MESSAGE") == line } }
            #expect(run("file-line")?.stdin == Bytes(text: "the file's own bytes\n"))
            #expect(run("file-line")?.variable("SPOOL_FD_TYPE") == "file")
            #expect(run("pipe-line")?.stdin == Bytes(text: "through a pipe\n"))
            #expect(run("pipe-line")?.variable("SPOOL_FD_TYPE") == "pipe")
            #expect(run("plain")?.stdin == Bytes(text: "plain"))
            #expect(run("plain")?.variable("SPOOL_FD_TYPE") == nil)
            #expect(sb.log.lines("recv").filter { $0["fd_type"] != nil }.count == 2)
            let facts = try await sb.statusFacts()
            #expect(facts["descriptors_refused"] == "3")
            // Every descriptor received was closed: the passed ones once settled, the refused at once.
            try await sb.waitForDescriptorCount(before, of: daemon.pid)
            #expect(!sb.holdsOpen(file, pid: daemon.pid))
        }
    }

    @Test func aRetryReadsTheSameDescriptorFromWhereTheFirstRunStarted() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("flaky.sh", """
                #!/bin/sh
                cat > "$OUT/stdin.$SPOOL_ATTEMPT"
                [ "$SPOOL_ATTEMPT" -ge 2 ]
                """)
            try sb.writeHandler("fail.sh", "#!/bin/sh\ncat >/dev/null\nexit 1\n")
            try sb.writeRules("""
                listen retry.sock
                listen dies.sock
                retry.sock socket retries=1 backoff=0s ./h/flaky.sh
                dies.sock socket retries=0 ./h/fail.sh
                """)
            let daemon = try await sb.startDaemon()
            let before = sb.descriptorCount(of: daemon.pid)
            let content = Bytes(text: String(repeating: "0123456789", count: 5000) + "\n")
            let sent = try await sb.spoolbus(["send", "--via", "retry.sock", "--spool", sb.spool, "big.iso"], stdin: content)
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.out.hasPrefix("ok "), "\(sent)")
            let id = String(sent.out.dropFirst(3).prefix { $0 != "\n" })
            try await sb.waitForLine("ok of \(id)") { $0.verb == "ok" && $0["id"] == id }
            #expect(Files.read(sb.out + "/stdin.1") == content)
            #expect(Files.read(sb.out + "/stdin.2") == content, "the retry got the descriptor, rewound")
            let dies = try await sb.spoolbus(["send", "--via", "dies.sock", "--spool", sb.spool, "doomed"], stdin: content)
            #expect(dies.status == .exited(0), "\(dies)")
            try await sb.waitForLine("dead") { $0.verb == "dead" }
            try await sb.waitForDescriptorCount(before, of: daemon.pid)
        }
    }

    @Test func twoRulesReadThePassedFileWholeAndTheSendersOffsetStays() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                listen s.sock
                s.sock socket ./h/record.sh first
                s.sock socket ./h/record.sh second
                """)
            try await sb.startDaemon()
            let payload = sb.root + "/shared.txt"
            let content = String(repeating: "shared bytes\n", count: 4000)
            try Files.write(payload, content)
            // The sender reads the file itself after the daemon answered: its offset is its own.
            let sent = try await sb.runProgram(["/bin/sh", "-c", "{ \"$0\" send --via \"$1\" both >/dev/null && wc -c; } < \"$2\"",
                                                spoolbusBinary, sb.spoolPath("s.sock"), payload])
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.out.trimmingCharacters(in: .whitespacesAndNewlines) == String(content.utf8.count), "\(sent)")
            let runs = try await sb.waitForRuns(2)
            #expect(runs.map(\.tag).sorted() == ["first", "second"])
            #expect(runs.allSatisfy { $0.stdin == Bytes(text: content) }, "each rule's run read the whole file")
        }
    }

    @Test func aDurableSocketRefusesADescriptorItCouldNotKeep() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                listen keep.sock durable
                keep.sock socket ./h/record.sh
                """)
            let daemon = try await sb.startDaemon()
            let before = sb.descriptorCount(of: daemon.pid)
            let refused = try await sb.spoolbus(["send", "--via", "keep.sock", "--spool", sb.spool, "x"], stdin: Bytes(text: "body\n"))
            #expect(refused.status == .exited(1), "\(refused)")
            #expect(refused.err.contains("is durable: a passed descriptor cannot survive a crash"), "\(refused)")
            // Without a descriptor (stdin closed) the same words are taken.
            let socketPath = sb.spoolPath("keep.sock")
            let plain = try await sb.runProgram(["/bin/sh", "-c", "exec 0<&-; exec \"$0\" send --via \"$1\" x", spoolbusBinary, socketPath])
            #expect(plain.status == .exited(0), "\(plain)")
            let run = try await sb.waitForRun()
            #expect(run.variable("SPOOL_FD_TYPE") == nil)
            #expect(run.stdin == Bytes(text: "x"))
            try await sb.waitForDescriptorCount(before, of: daemon.pid)
        }
    }

    @Test func aDescriptorIsHeldUntilItsMessageIsSettledAndClosedAtAStop() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("hold.sh", "#!/bin/sh\ntouch \"$OUT/started\"\nexec sleep 30\n")
            try sb.writeRules("""
                listen s.sock
                s.sock socket ./h/hold.sh
                """)
            let daemon = try await sb.startDaemon(["--grace", "300ms"])
            let payload = sb.root + "/passed.txt"
            try Files.write(payload, "passed\n")
            func holdsPayload() -> Bool { sb.holdsOpen(payload, pid: daemon.pid) }
            #expect(!holdsPayload())
            let sent = try await sb.runProgram(["/bin/sh", "-c", "exec \"$0\" send --via \"$1\" held < \"$2\"",
                                                spoolbusBinary, sb.spoolPath("s.sock"), payload])
            #expect(sent.status == .exited(0), "\(sent)")
            try await sb.waitFor("the handler to start") { Files.exists(sb.out + "/started") }
            #expect(holdsPayload(), "the daemon keeps the descriptor while its message is unsettled")
            daemon.signal(SIGTERM)
            try await daemon.waitForExit()
            let putBack = try #require(sb.log.lines("putback").first, "\(sb.log.tail(20))")
            let kept = try #require(putBack["kept"])
            #expect(Files.read(sb.spoolPath(kept)) == Bytes(text: "held"), "the line is kept, its descriptor is not")
        }
    }
}
