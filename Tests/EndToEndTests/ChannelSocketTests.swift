import Foundation
import Glibc
import Testing

extension ChannelTests {
    @Suite struct Sockets {
        @Test func socketMessageCarriesTheSendersCredentials() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock mode=0666
                    ask.sock  socket  ./h/record.sh sock
                    """)
                var info = stat()
                #expect(stat(box.spool + "/ask.sock", &info) == 0)
                #expect(info.st_mode & 0o7777 == 0o666)
                #expect(info.st_mode & S_IFMT == S_IFSOCK)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("hello socket\n")
                let reply = try #require(client.readLine())
                #expect(reply.hasPrefix("ok "))
                let id = String(reply.dropFirst(3))
                try await chanWait("the socket message", details: box.report()) { !box.records().isEmpty }
                let record = try #require(box.records().first)
                #expect(record.id == id)
                #expect(record.body == "hello socket")
                #expect(record["SPOOL_MESSAGE"] == "hello socket")
                #expect(record["SPOOL_EVENT"] == "socket")
                #expect(record["SPOOL_TYPE"] == "socket")
                #expect(record["SPOOL_NAME"] == "ask.sock")
                #expect(record["SPOOL_PEER_PID"] == String(getpid()))
                #expect(record["SPOOL_PEER_UID"] == String(getuid()))
                #expect(record["SPOOL_PEER_GID"] == String(getgid()))
            }
        }

        @Test func lastLineWithoutNewlineCountsOnHalfCloseAndGetsItsReply() async throws {
            try await withChanSandbox { box in
                try box.script("answer.sh", #"echo "pong: $SPOOL_MESSAGE""#)
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  reply  ./h/answer.sh
                    """)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("ping")
                client.shutdownWriting()
                let everything = client.readToEnd()  // the daemon closes once the reply is out
                let lines = everything.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count == 3, "\(everything.debugDescription)")
                #expect(lines.first?.hasPrefix("reply ") == true)
                #expect(lines.first?.hasSuffix(" 11") == true)
                #expect(lines.dropFirst().first == "pong: ping")
            }
        }

        @Test func okRepliesAndReplyRepliesComeInOrder() async throws {
            try await withChanSandbox { box in
                try box.script("answer.sh", """
                    case "$SPOOL_MESSAGE" in
                      multi) printf 'one\\ntwo\\n' ;;
                      bare) printf 'no newline' ;;
                      empty) ;;
                      slow) sleep 0.3; echo slow done ;;
                      fail) echo "cannot do that" >&2; exit 3 ;;
                    esac
                    """)
                try await box.start("""
                    listen ask.sock
                    listen fire.sock
                    ask.sock   socket  reply  retries=0  ./h/answer.sh
                    fire.sock  socket                    ./h/record.sh fire
                    """)
                let fire = try ChanSocket(connectingTo: box.spool + "/fire.sock")
                fire.send("a\nb\nc\n")
                let oks = (0..<3).compactMap { _ in fire.readLine() }
                #expect(oks.count == 3)
                #expect(oks.allSatisfy { $0.hasPrefix("ok ") })
                #expect(oks == oks.sorted())  // ids sort by arrival

                let ask = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                // The slow one is asked first: its reply still comes first.
                ask.send("slow\nmulti\nbare\nempty\nfail\n")
                let replies = (0..<5).compactMap { _ in ask.readReply() }
                try #require(replies.count == 5, "\(replies)")
                #expect(replies[0].body == "slow done\n")
                #expect(replies[1].body == "one\ntwo\n")
                #expect(replies[1].status.hasSuffix(" 8"))
                #expect(replies[2].body == "no newline")
                #expect(replies[3].body == "")
                #expect(replies[4].status.hasPrefix("fail "))
                #expect(replies[4].status.hasSuffix("exited with status 3: cannot do that"))
                // And the connection still serves.
                ask.send("multi\n")
                #expect(ask.readReply()?.body == "one\ntwo\n")
            }
        }

        @Test func aFailingReplyRuleAnswersAtOnceUnlessItAsksForRetries() async throws {
            try await withChanSandbox { box in
                try box.script("fail.sh", #"echo "$SPOOL_ATTEMPT" >> "$OUT/attempts.$SPOOL_RULE"; echo "no" >&2; exit 3"#)
                try await box.start("""
                    listen ask.sock
                    listen patient.sock
                    ask.sock      socket  reply             ./h/fail.sh
                    patient.sock  socket  reply  retries=1  backoff=10ms  ./h/fail.sh
                    """)
                let ask = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                ask.send("x\n")
                let reply = try #require(ask.readReply(), "\(box.report())")
                #expect(reply.status.hasPrefix("fail "), "\(reply)")
                let attempts = try String(contentsOfFile: box.out + "/attempts.3", encoding: .utf8)
                #expect(attempts == "1\n", "a reply rule is not retried by default")

                let patient = try ChanSocket(connectingTo: box.spool + "/patient.sock")
                patient.send("x\n")
                let late = try #require(patient.readReply(), "\(box.report())")
                #expect(late.status.hasPrefix("fail "), "\(late)")
                let patientAttempts = try String(contentsOfFile: box.out + "/attempts.4", encoding: .utf8)
                #expect(patientAttempts == "1\n2\n", "retries= written on a reply rule is kept")
            }
        }

        @Test func lineWithoutRuleAndOverLongLineAreRefusedOnTheSameConnection() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock
                    listen orphan.sock
                    ask.sock  socket  ./h/record.sh sock
                    """)
                let orphan = try ChanSocket(connectingTo: box.spool + "/orphan.sock")
                orphan.send("anyone?\n")
                #expect(orphan.readLine()?.hasPrefix("error no rule") == true)

                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send([UInt8](repeating: UInt8(ascii: "y"), count: 1 << 20) + Array("\nsmall\n".utf8))
                let first = try #require(client.readLine())
                #expect(first.hasPrefix("error "), "\(first)")
                #expect(first.contains("1048576"))
                #expect(client.readLine()?.hasPrefix("ok ") == true)
                try await chanWait("the small message", details: box.report()) { !box.records().isEmpty }
                #expect(box.records().map(\.body) == ["small"])
                // The answer goes out before the loop flushes the log, so the error line may come later.
                try await chanWait("the over-long line's error line", details: box.report()) {
                    box.logLines().contains { $0.verb == "error" && $0["size"] == "1048576" }
                }
            }
        }

        @Test func seqpacketAndDatagramMessagesArePackets() async throws {
            try await withChanSandbox { box in
                try box.script("answer.sh", #"printf 'got %s' "$SPOOL_MESSAGE""#)
                try await box.start("""
                    listen packets.sock type=seqpacket
                    listen grams.sock type=dgram mode=0622
                    packets.sock  socket         ./h/record.sh packet
                    grams.sock    socket         ./h/record.sh gram
                    grams.sock    socket  reply  ./h/answer.sh
                    """)
                let packets = try ChanSocket(connectingTo: box.spool + "/packets.sock", .seqpacket)
                packets.send("two\nlines")
                let ack = try #require(packets.receivePacket())
                #expect(ack.hasPrefix("ok ") && ack.hasSuffix("\n") && !ack.dropLast().contains("\n"))

                let grams = try ChanSocket(.datagram, bindTo: box.root + "/client.sock")
                grams.send("a datagram\n", to: box.spool + "/grams.sock")
                let reply = try #require(grams.receivePacket())
                #expect(reply.hasPrefix("reply "))
                #expect(reply.hasSuffix(" 15\ngot a datagram\n"), "\(reply.debugDescription)")

                // An unbound sender is not answered, but its message is handled.
                let anonymous = try ChanSocket(.datagram)
                anonymous.send("from nowhere", to: box.spool + "/grams.sock")

                try await chanWait("three recorded packets", details: box.report()) { box.records().count >= 3 }
                let records = box.records()
                let packet = try #require(records.first { $0.tag == "packet" })
                #expect(packet.body == "two\nlines")
                #expect(packet["SPOOL_PEER_PID"] == String(getpid()))
                let gram = try #require(records.first { $0.tag == "gram" && $0.body == "a datagram\n" })
                #expect(gram["SPOOL_PEER_PID"] == String(getpid()))
                #expect(gram["SPOOL_PEER_UID"] == String(getuid()))
                #expect(records.contains { $0.tag == "gram" && $0.body == "from nowhere" })
            }
        }

        @Test func fiftyClientsThatVanishBeforeTheirReplyDoNotHurtTheDaemon() async throws {
            try await withChanSandbox { box in
                try box.script("slow.sh", "sleep 0.2; echo done")
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  reply  ./h/slow.sh
                    """)
                for index in 0..<50 {
                    let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                    client.send("client \(index)\n")
                    // deinit closes it at once, before any reply.
                }
                try await chanWait("50 handlers to finish", details: box.report()) {
                    box.logLines().filter { $0.verb == "ok" }.count >= 50
                }
                let late = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                late.send("still there?\n")
                #expect(late.readReply()?.body == "done\n")
                #expect(box.daemonIsRunning)
                let status = try ChanSocket(connectingTo: box.control)
                status.send("status\n")
                let facts = status.readToEnd()
                #expect(facts.contains("replies_dropped=50\n"), "\(facts)")
            }
        }

        @Test func clientStalledMidLineHoldsUpNobody() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock
                    ask.sock    socket  ./h/record.sh sock
                    inbox/*     file    ./h/record.sh file
                    """)
                let stalled = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                stalled.send("half a li")
                try await chanWait("the daemon to read the half line") { chanUnreadBytes(stalled.fd, socket: true) == 0 }

                let other = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                other.send("from another client\n")
                #expect(other.readLine()?.hasPrefix("ok ") == true)
                try FileManager.default.createDirectory(atPath: box.spool + "/inbox", withIntermediateDirectories: true)
                try "a file\n".write(toFile: box.spool + "/inbox/note", atomically: true, encoding: .utf8)
                try await chanWait("the other client's and the file's messages", details: box.report()) {
                    Set(box.records().map(\.tag)) == ["sock", "file"]
                }
                stalled.send("ne\n")
                #expect(stalled.readLine()?.hasPrefix("ok ") == true)
                try await chanWait("the stalled line", details: box.report()) { box.records().count == 3 }
                #expect(box.records().contains { $0.body == "half a line" })
            }
        }

        @Test func nodeEventsForASocketAndAFifoMadeByOthers() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen mine.sock
                    mkfifo mine.fifo
                    **  node  ./h/record.sh node
                    """)
                #expect(mkfifo(box.spool + "/theirs.fifo", 0o600) == 0)
                let theirs = try ChanSocket(.stream, bindTo: box.spool + "/theirs.sock")
                #expect(listen(theirs.fd, 8) == 0)
                try await chanWait("two node events", details: box.report()) { box.records().count >= 2 }
                let byName = Dictionary(uniqueKeysWithValues: box.records().map { ($0["SPOOL_NAME"] ?? "", $0) })
                #expect(byName["theirs.fifo"]?["SPOOL_TYPE"] == "fifo")
                #expect(byName["theirs.sock"]?["SPOOL_TYPE"] == "socket")
                #expect(byName["theirs.sock"]?["SPOOL_EVENT"] == "node")
                // The daemon's own socket and FIFO are not news.
                #expect(byName["mine.sock"] == nil && byName["mine.fifo"] == nil)
                // Nobody connected to the socket made by someone else.
                let flags = fcntl(theirs.fd, F_GETFL)
                _ = fcntl(theirs.fd, F_SETFL, flags | O_NONBLOCK)
                #expect(accept(theirs.fd, nil, nil) == -1 && errno == EAGAIN)
            }
        }

        @Test func staleSocketIsReplacedAndSocketsAreRemovedAtStop() async throws {
            try await withChanSandbox { box in
                try FileManager.default.createDirectory(atPath: box.spool, withIntermediateDirectories: true)
                // A socket file nobody listens on, as a crash leaves it.
                do { _ = try ChanSocket(.stream, bindTo: box.spool + "/ask.sock") }
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  ./h/record.sh sock
                    """)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("after the crash\n")
                #expect(client.readLine()?.hasPrefix("ok ") == true)
                try await box.stop()
                #expect(!FileManager.default.fileExists(atPath: box.spool + "/ask.sock"))
                #expect(!FileManager.default.fileExists(atPath: box.control))
            }
        }

        @Test func liveSocketOfSomeoneElseIsNotTaken() async throws {
            try await withChanSandbox { box in
                try FileManager.default.createDirectory(atPath: box.spool, withIntermediateDirectories: true)
                let theirs = try ChanSocket(.stream, bindTo: box.spool + "/ask.sock")
                #expect(listen(theirs.fd, 8) == 0)
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  ./h/record.sh sock
                    """)
                let error = box.logLines().first { $0.verb == "error" && $0["name"] == "ask.sock" }
                #expect(error?["err"]?.contains("live socket") == true, "\(box.report())")
                // Still theirs: a client reaches their socket, not the daemon.
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                _ = client
                #expect(accept(theirs.fd, nil, nil) >= 0)
            }
        }

        @Test func reloadOpensAndClosesSocketsAndFifos() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen old.sock
                    mkfifo events
                    old.sock  socket  ./h/record.sh old
                    **        gone    ./h/record.sh gone
                    """)
                // No fifo rule yet: nobody reads the FIFO.
                #expect(chanOpenFifoWriter(box.spool + "/events") == nil)
                try """
                    listen new.sock type=seqpacket
                    mkfifo events
                    new.sock  socket  ./h/record.sh new
                    events    fifo    ./h/record.sh fifo
                    **        gone    ./h/record.sh gone

                    """.write(toFile: box.root + "/spoolbus.rules", atomically: true, encoding: .utf8)
                try await chanWait("the reload", details: box.report()) { box.logLines().contains { $0.verb == "reload" } }
                #expect(!FileManager.default.fileExists(atPath: box.spool + "/old.sock"))
                let client = try ChanSocket(connectingTo: box.spool + "/new.sock", .seqpacket)
                client.send("to the new socket")
                #expect(client.receivePacket()?.hasPrefix("ok ") == true)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "now read\n")
                close(fd)
                try await chanWait("both messages", details: box.report()) { box.records().count >= 2 }
                #expect(Set(box.records().map(\.tag)) == ["new", "fifo"])  // no `gone` for old.sock
            }
        }

        @Test func fifteenHundredClientsAtOnce() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  swift:discard
                    """)
                let clients = try (0..<1500).map { _ in try ChanSocket(connectingTo: box.spool + "/ask.sock") }
                for (index, client) in clients.enumerated() { client.send("client \(index)\n") }
                var replies = 0
                for client in clients where client.readLine()?.hasPrefix("ok ") == true { replies += 1 }
                #expect(replies == 1500)
                try await chanWait("1500 messages handled", details: box.report()) { box.logCount("ok") >= 1500 }
                #expect(try ChannelTests.Control.status(box)["clients"] == "1500")
            }
        }

        @Test func clientAwaitingAReplyGetsItAfterSigterm() async throws {
            try await withChanSandbox { box in
                try box.script("slow.sh", "sleep 0.5; echo finished")
                try await box.start("""
                    listen ask.sock
                    ask.sock  socket  reply  ./h/slow.sh
                    """)
                let client = try ChanSocket(connectingTo: box.spool + "/ask.sock")
                client.send("take your time\n")
                try await chanWait("the handler to start", details: box.report()) { box.logLines().contains { $0.verb == "run" } }
                kill(box.daemon?.processIdentifier ?? 0, SIGTERM)
                let reply = client.readReply()
                #expect(reply?.body == "finished\n", "\(box.report())")
                try await chanWait("the daemon to exit") { !box.daemonIsRunning }
                #expect(box.daemon?.terminationStatus == 0)
                #expect(!FileManager.default.fileExists(atPath: box.spool + "/ask.sock"))
            }
        }
    }
}
