import Foundation
import Glibc
import Testing

/// The sending side's rules: files of `outbox/` and lines of the FIFO `events` go to the broker.
private func senderRules(_ broker: Mosquitto, clientID: String = "t-sender", extra: String = "") -> String {
    """
    broker hub \(broker.url) client-id=\(clientID) keepalive=5s
    mkfifo events
    listen ask.sock
    outbox/** file retries=1 backoff=200ms mqtt:hub jobs/{name}
    events fifo mqtt:hub lines/{name}
    ask.sock socket mqtt:hub lines/{name}
    \(extra)
    """
}

/// The receiving side's rules: what arrives in `in/` is recorded by the standard handler.
private func receiverRules(_ broker: Mosquitto, _ sandbox: Sandbox, clientID: String = "t-receiver", filter: String = "jobs/#",
                           handler: String? = nil) -> String {
    """
    broker hub \(broker.url) client-id=\(clientID)
    subscribe hub \(filter) into in
    subscribe hub lines/# into in
    in/** file \(handler ?? sandbox.handlers + "/record.sh")
    """
}

/// The runs the receiver `peer` recorded, by origin id.
private func receivedRuns(_ sandbox: Sandbox, _ peer: PeerSpool) -> [HandlerRun] {
    sandbox.runs.filter { $0.variable("SPOOL_DIR") == peer.spool }
}

@Suite struct MQTTExchangeTests {
    @Test func filesFifoAndSocketLinesCrossFromOneSpoolToAnother() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let receiver = try PeerSpool(in: sandbox, name: "b", rules: receiverRules(broker, sandbox))
            try await receiver.start(in: sandbox)
            try await sandbox.waitFor("the receiver's connect line") { !receiver.log.connects("hub").isEmpty }
            try sandbox.writeRules(senderRules(broker))
            try await sandbox.startDaemon()
            try await sandbox.waitForLine("the sender's connect line") { $0.verb == "connect" && $0["broker"] == "hub" }
            try sandbox.drop("outbox/a.msg", "alpha\n")
            try sandbox.drop("outbox/sub/b c.txt", "beta\n")
            let fifo = try #require(chanOpenFifoWriter(sandbox.spoolPath("events")))
            chanWrite(fifo, "one\ntwo\n")
            close(fifo)
            let client = try ChanSocket(connectingTo: sandbox.spoolPath("ask.sock"))
            client.send("three\n")
            let runs = try await sandbox.waitForRuns(5, "runs on the receiver") { $0.variable("SPOOL_DIR") == receiver.spool }
            #expect(runs.count == 5)
            let byOrigin = Dictionary(grouping: runs) { $0.variable("SPOOL_ORIGIN_NAME") ?? "?" }
            #expect(byOrigin["outbox/a.msg"]?.first?.stdin == Bytes(text: "alpha\n"))
            #expect(byOrigin["outbox/sub/b c.txt"]?.first?.stdin == Bytes(text: "beta\n"))
            #expect(byOrigin["events"]?.map(\.stdin).sorted { $0.lexicographicallyPrecedes($1) } == [Bytes(text: "one"), Bytes(text: "two")])
            #expect(byOrigin["ask.sock"]?.first?.stdin == Bytes(text: "three"))
            let fileRun = try #require(byOrigin["outbox/a.msg"]?.first)
            // The topic's levels are folders below `in/`, and the name ends in a unique suffix.
            #expect(fileRun.name?.lossy.hasPrefix("in/jobs/outbox/a.msg.") == true)
            #expect(fileRun.variable("SPOOL_MQTT_TOPIC") == "jobs/outbox/a.msg")
            #expect(fileRun.variable("SPOOL_MQTT_BROKER") == "hub")
            #expect(fileRun.variable("SPOOL_ORIGIN_HOST")?.isEmpty == false)
            let senderID = try #require(sandbox.log.ids(of: "outbox/a.msg").first)
            #expect(fileRun.variable("SPOOL_ORIGIN_ID") == senderID)
            // Settled on the sending side only once the broker acknowledged: removed, `ok` logged.
            try await sandbox.waitFor("the sent files to be settled") {
                !sandbox.existsInSpool("outbox/a.msg") && sandbox.claimed.isEmpty
            }
            // The lines' PUBACKs may come a turn after the files' (a line is in no folder to wait on).
            try await sandbox.waitFor("an ok line for each of the five") { sandbox.log.lines("ok").count >= 5 }
            #expect(sandbox.log.lines("ok").count == 5)
            let status = try await sandbox.spoolbus(["status", "--spool", sandbox.spool])
            #expect(status.out.contains("broker     hub \"connected 127.0.0.1:\(broker.port) "), "\(status)")
        }
    }

    @Test func theBrokerDownAtStartAndRestartedMidStreamLosesNothing() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let receiver = try PeerSpool(in: sandbox, name: "b", rules: receiverRules(broker, sandbox))
            try await receiver.start(in: sandbox)
            try await sandbox.waitFor("the receiver's connect line") { !receiver.log.connects("hub").isEmpty }
            // The receiver's session is on the broker now; the broker goes down before the sender starts.
            try await broker.stop()
            try sandbox.writeRules(senderRules(broker))
            try await sandbox.startDaemon()
            for index in 0..<10 { try sandbox.drop("outbox/early-\(index)", "early \(index)\n") }
            let refused = try await sandbox.waitForLine("a disconnect line with the errno") { $0.verb == "disconnect" }
            #expect(refused["err"]?.contains("Connection refused (errno 111)") == true, "\(refused)")
            try await sandbox.waitFor("the early files to wait, claimed") { sandbox.claimed.count == 10 }
            #expect(sandbox.log.lines("dead").isEmpty)
            try await broker.start()
            try await sandbox.waitForRuns(10, "the early files on the receiver") { $0.variable("SPOOL_DIR") == receiver.spool }
            // Mid-stream: the broker is stopped while files keep coming, and started again.
            for index in 0..<30 { try sandbox.drop("outbox/late-\(index)", "late \(index)\n") }
            try await sandbox.waitFor("some late files published") { sandbox.log.lines("ok").count >= 12 }
            try await broker.stop()
            for index in 30..<40 { try sandbox.drop("outbox/late-\(index)", "late \(index)\n") }
            try await broker.start()
            let runs = try await sandbox.waitForRuns(50, "every file on the receiver") { $0.variable("SPOOL_DIR") == receiver.spool }
            let origins = Set(runs.compactMap { $0.variable("SPOOL_ORIGIN_NAME") })
            #expect(origins.count == 50)
            #expect(runs.count == 50, "a duplicate was written: \(runs.count) runs for \(origins.count) messages")
            #expect(sandbox.log.lines("dead").isEmpty)
            #expect(sandbox.log.lines("connect").count >= 2)
        }
    }

    @Test(arguments: ["sender", "receiver"])
    func killingADaemonMidStreamLosesNothing(_ victim: String) async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let receiver = try PeerSpool(in: sandbox, name: "b", rules: receiverRules(broker, sandbox))
            var receiverDaemon = try await receiver.start(in: sandbox)
            try await sandbox.waitFor("the receiver's connect line") { !receiver.log.connects("hub").isEmpty }
            try sandbox.writeRules(senderRules(broker))
            var senderDaemon = try await sandbox.startDaemon()
            let total = 60
            for index in 0..<total { try sandbox.drop("outbox/m-\(index)", "message \(index)\n") }
            try await sandbox.waitFor("a third of the messages received") { receivedRuns(sandbox, receiver).count >= total / 3 }
            if victim == "sender" {
                senderDaemon.signal(SIGKILL)
                _ = try await senderDaemon.waitForExit()
                senderDaemon = try await sandbox.startDaemon()
            } else {
                receiverDaemon.signal(SIGKILL)
                _ = try await receiverDaemon.waitForExit()
                receiverDaemon = try await receiver.start(in: sandbox)
            }
            // A handler the killed receiver ran but had not settled runs again: count messages, not runs.
            try await sandbox.waitFor("every message on the receiver") {
                Set(receivedRuns(sandbox, receiver).compactMap { $0.variable("SPOOL_ORIGIN_NAME") }).count >= total
            }
            try await sandbox.waitFor("the sender to settle everything") { sandbox.claimed.isEmpty }
            let runs = receivedRuns(sandbox, receiver)
            let origins = Set(runs.compactMap { $0.variable("SPOOL_ORIGIN_NAME") })
            #expect(origins.count == total)
            // The receiver's handler may run twice for a message only if the receiver was killed
            // between its run and its settling (the usual at-least-once of a killed daemon), never
            // because the broker delivered it twice.
            let written = Set(runs.compactMap { $0.name })
            #expect(written.count == total, "\(written.count) files written for \(total) messages")
        }
    }

    @Test func aSharedSubscriptionSplitsAThousandJobsBetweenTwoReceivers() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let workers = try ["w1", "w2"].map { name in
                try PeerSpool(in: sandbox, name: name, rules: """
                    broker hub \(broker.url) client-id=t-\(name)
                    subscribe hub $share/workers/jobs/# into in
                    in/** file swift:discard
                    """)
            }
            for worker in workers {
                try await worker.start(in: sandbox)
                try await sandbox.waitFor("\(worker.root)'s connect line") { !worker.log.connects("hub").isEmpty }
            }
            try sandbox.writeRules(senderRules(broker))
            try await sandbox.startDaemon()
            let total = 1000
            for index in 0..<total { try sandbox.drop("outbox/job-\(index)", "\(index)\n") }
            func received(_ worker: PeerSpool) -> Set<String> {
                Set(worker.log.lines("recv").compactMap { $0["name"] })
            }
            try await sandbox.waitFor("all jobs received by the workers", timeout: .seconds(120)) {
                workers.map { received($0).count }.reduce(0, +) >= total
            }
            let first = received(workers[0]), second = received(workers[1])
            #expect(first.isDisjoint(with: second))
            #expect(first.count + second.count == total)
            #expect(first.count > 0 && second.count > 0, "one worker got everything: \(first.count) and \(second.count)")
        }
    }

    @Test func wrongCredentialsAndAnUnreachableHostAreLoggedAndRetried() async throws {
        try await withSandbox { sandbox in
            let passwords = sandbox.root + "/passwords"
            let made = try await runTool(sandbox, "/usr/bin/mosquitto_passwd", ["-c", "-b", passwords, "spool", "right"])
            try #require(made.status == .exited(0), "\(made)")
            let broker = try Mosquitto(in: sandbox, extra: "password_file \(passwords)\n")
            try Files.write(broker.configPath, (Files.readText(broker.configPath) ?? "").replacingOccurrences(of: "allow_anonymous true", with: "allow_anonymous false"))
            try await broker.start()
            let closedPort = try freeLoopbackPort()
            try Files.write(sandbox.root + "/pw", "wrong\n")
            try sandbox.writeRules("""
                broker hub \(broker.url) client-id=t-creds username=spool password-file=pw
                broker nowhere mqtt://127.0.0.1:\(closedPort) client-id=t-nowhere
                outbox/** file mqtt:hub jobs/{name}
                """)
            try await sandbox.startDaemon()
            try sandbox.drop("outbox/waiting", "w\n")
            let refused = try await sandbox.waitForLine("the broker's refusal") { $0.verb == "disconnect" && $0["broker"] == "hub" }
            #expect(refused["err"] == "the broker refused the connection: bad user name or password (0x86)"
                    || refused["err"] == "the broker refused the connection: not authorized (0x87)", "\(refused)")
            let unreachable = try await sandbox.waitForLine("the unreachable broker") { $0.verb == "disconnect" && $0["broker"] == "nowhere" }
            #expect(unreachable["err"]?.contains("errno 111") == true, "\(unreachable)")
            // Both keep trying; once the password is right, the waiting message goes.
            try await sandbox.waitFor("a second attempt at each") {
                sandbox.log.lines("disconnect").filter { $0["broker"] == "hub" }.count >= 2
                    && sandbox.log.lines("disconnect").filter { $0["broker"] == "nowhere" }.count >= 2
            }
            #expect(sandbox.log.lines("ok").isEmpty && sandbox.log.lines("dead").isEmpty)
            try Files.write(sandbox.root + "/pw", "right\n")
            try await sandbox.waitForLine("the connect with the new password", timeout: .seconds(90)) { $0.verb == "connect" && $0["broker"] == "hub" }
            try await sandbox.waitForLine("the waiting message published") { $0.verb == "ok" }
        }
    }

    @Test func hostileTopicsAndNamesStayInsideTheFolder() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            try sandbox.writeRules("""
                broker hub \(broker.url) client-id=t-hostile
                subscribe hub '#' into in
                in/** file \(sandbox.handlers)/record.sh
                out/** file mqtt:hub {name}
                """)
            try await sandbox.startDaemon()
            try await sandbox.waitForLine("connect") { $0.verb == "connect" }
            // A symlink where a topic's folder would go: never followed, and it does not wedge
            // the subscription (the message is stored under its whole topic as one name).
            try Files.makeDirectories(sandbox.spool + "/in")
            let outside = sandbox.root + "/outside"
            try Files.makeDirectories(outside)
            guard symlink(outside, sandbox.spool + "/in/trap") == 0 else { throw SystemCallFailed("symlink") }
            let topics = ["../../escape", "a/../../../b", "./.hidden", "a//b", "%2E%2E/x", "a%2Fb", "lead/.dot", "ok/plain", "trap/x"]
            for topic in topics {
                let sent = try await mosquittoPublish(sandbox, ["-p", "\(broker.port)", "-V", "mqttv5", "-q", "1", "-t", topic, "-m", topic])
                #expect(sent.status == .exited(0), "\(sent)")
            }
            // A name with bytes MQTT forbids or gives a meaning in a topic goes out escaped and
            // comes back as itself.
            let hostileName = Bytes(text: "out/x+y#z %25 ") + [0xFF, 0x0A] + Bytes(text: "-end")
            try sandbox.drop(hostileName, Bytes(text: "hostile"))
            let runs = try await sandbox.waitForRuns(topics.count + 1, "every hostile message recorded")
            for run in runs {
                let name = try #require(run.name)
                #expect(name.starts(with: Bytes(text: "in/")), "\(name.lossy)")
                for component in name.split(separator: 47) {
                    #expect(component.first != 46, "a dot component: \(name.lossy)")
                }
            }
            let names = Set(runs.compactMap { $0.name?.lossy })
            #expect(names.contains { $0.hasPrefix("in/%2E./%2E./escape.") })
            #expect(names.contains { $0.hasPrefix("in/%2E/%2Ehidden.") })
            #expect(names.contains { $0.hasPrefix("in/a/%/b.") })
            #expect(names.contains { $0.hasPrefix("in/a%2Fb.") })
            #expect(names.contains { $0.hasPrefix("in/trap%2Fx.") })
            #expect(Files.walk(outside).isEmpty)
            let echoed = try #require(runs.first { $0.stdin == Bytes(text: "hostile") })
            #expect(echoed.name?.starts(with: Bytes(text: "in/") + hostileName + Bytes(text: ".")) == true, "\(echoed.name?.lossy ?? "")")
            #expect(echoed.environment["SPOOL_ORIGIN_NAME"].map { Bytes($0) } != nil)
            #expect(!Files.exists(Bytes(text: sandbox.root + "/escape")) && !Files.exists(Bytes(text: sandbox.spool + "/escape")))
        }
    }

    /// The example of the README: a local Mosquitto that bridges to a remote one over TLS.
    /// Without a remote broker and certificates here, the test points the bridge at a second
    /// local broker without TLS, and checks that Mosquitto takes the rest of the file as written.
    @Test func theExampleBridgeConfigurationIsAcceptedByMosquitto() async throws {
        try await withSandbox { sandbox in
            let remote = try Mosquitto(in: sandbox, name: "remote")
            try await remote.start()
            let example = try #require(Files.readText(exampleFolder + "/mqtt/mosquitto-bridge.conf"))
            #expect(example.contains("bridge_cafile"))
            let local = try Mosquitto(in: sandbox, name: "local")
            let adapted = example.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
                let word = line.split(separator: " ").first.map(String.init) ?? ""
                if ["listener", "persistence_location", "bridge_cafile", "bridge_certfile", "bridge_keyfile", "bridge_tls_version", "user"].contains(word) {
                    return nil
                }
                if word == "address" { return "address 127.0.0.1:\(remote.port)" }
                return String(line)
            }.joined(separator: "\n")
            try Files.write(local.configPath, (Files.readText(local.configPath) ?? "") + adapted + "\n")
            try await local.start()
            try await waitFor("the bridge to connect", details: { local.stderr }) {
                local.stderr.contains("Connecting bridge") && remote.stderr.contains("New client connected")
            }
            // The rules beside it are valid rules.
            let checked = try await sandbox.spoolbus(["check", exampleFolder + "/mqtt/spoolbus.rules"])
            #expect(checked.status == .exited(0), "\(checked)")
            #expect(checked.out.contains("subscribe hub results/sensorbox-1/# into results qos=1"))
        }
    }
}

/// The spool-example folder of this checkout.
private let exampleFolder: String = {
    var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("spool-example").path) {
        folder.deleteLastPathComponent()
    }
    return folder.appendingPathComponent("spool-example").path
}()

private func runTool(_ sandbox: Sandbox, _ program: String, _ arguments: [String]) async throws -> CommandResult {
    let base = sandbox.root + "/tool-\(UInt32.random(in: 0...UInt32.max))"
    let child = try Spawner.spawn(
        ([program] + arguments).map { Bytes(text: $0) }, environment: sandbox.environment, directory: sandbox.root,
        stdin: "/dev/null", stdout: base + ".stdout", stderr: base + ".stderr", label: program)
    try await waitFor("\(program) to finish") { !child.isRunning }
    return CommandResult(status: child.poll()!, stdout: Files.read(base + ".stdout") ?? [], stderr: Files.read(base + ".stderr") ?? [])
}

/// A "broker" that answers CONNECT with `reply`, to see what the daemon makes of bad input.
private final class FakeBroker {
    let port: Int
    private let listener: Int32

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var on: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int32 in
                guard bind(listener, raw, length) == 0, listen(listener, 8) == 0 else { return -1 }
                return getsockname(listener, raw, &length)
            }
        }
        guard bound == 0 else { throw SystemCallFailed("bind") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(listener) }

    /// Accepts one client (waiting at most `timeout`), reads its first packet, sends `reply`, and
    /// returns what it read then (until the client closes or `readSeconds` pass without a byte).
    func serveOnce(reply: [UInt8], timeout: Int32 = 30_000, readSeconds: Int = 5) -> [UInt8]? {
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeout) == 1 else { return nil }
        let client = accept(listener, nil, nil)
        guard client >= 0 else { return nil }
        defer { close(client) }
        var timeoutValue = timeval(tv_sec: readSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        guard read(client, &buffer, buffer.count) > 0 else { return nil }
        _ = reply.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
        var after: [UInt8] = []
        while true {
            let count = read(client, &buffer, buffer.count)
            if count <= 0 { break }
            after += buffer[..<count]
        }
        return after
    }
}

@Suite struct MQTTMalformedBrokerTests {
    @Test func garbageFromTheBrokerIsLoggedAndTheDaemonReconnects() async throws {
        try await withSandbox { sandbox in
            let fake = try FakeBroker()
            try sandbox.writeRules("""
                broker fake mqtt://127.0.0.1:\(fake.port) client-id=t-fake
                outbox/** file mqtt:fake jobs/{name}
                """)
            try await sandbox.startDaemon()
            // A CONNACK announcing a remaining length of five bytes' worth: never a valid packet.
            // The daemon closes the connection once it answered: a generous read time costs nothing.
            let answer = await Task.detached { fake.serveOnce(reply: [0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], readSeconds: 30) }.value
            // The daemon hangs up with DISCONNECT "malformed packet" (0x81).
            #expect(answer == [0xE0, 0x01, 0x81], "\(answer ?? [])")
            let lost = try await sandbox.waitForLine("the disconnect") { $0.verb == "disconnect" && $0["broker"] == "fake" }
            #expect(lost["err"] == "malformed MQTT packet: remaining length longer than four bytes", "\(lost)")
            // A truncated CONNACK, then the connection closed: an error too, and another try.
            let second = await Task.detached { fake.serveOnce(reply: [0x20, 0x03, 0x00]) }.value
            #expect(second != nil, "the daemon did not come back")
            try await sandbox.waitFor("a second disconnect") {
                sandbox.log.lines("disconnect").filter { $0["broker"] == "fake" }.count >= 2
            }
            let third = await Task.detached { fake.serveOnce(reply: [0x20, 0x03, 0x00, 0x00, 0x00]) }.value
            #expect(third != nil)
            try await sandbox.waitForLine("a connect") { $0.verb == "connect" && $0["broker"] == "fake" }
        }
    }
}

@Suite struct MQTTOrderTests {
    @Test func withConcurrencyOneMessagesArriveInOrderAcrossABrokerRestart() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let receiver = try PeerSpool(in: sandbox, name: "b", rules: receiverRules(broker, sandbox, handler: "swift:discard"))
            try await receiver.start(in: sandbox)
            try await sandbox.waitFor("the receiver's connect line") { !receiver.log.connects("hub").isEmpty }
            try sandbox.writeRules("""
                broker hub \(broker.url) client-id=t-order
                mkfifo events
                events fifo concurrency=1 mqtt:hub jobs/{name}/{id}
                """)
            try await sandbox.startDaemon()
            let fifo = try #require(chanOpenFifoWriter(sandbox.spoolPath("events")))
            chanWrite(fifo, (0..<20).map { "line \($0)\n" }.joined())
            try await sandbox.waitFor("some lines published") { sandbox.log.lines("ok").count >= 5 }
            try await broker.stop()
            chanWrite(fifo, (20..<30).map { "line \($0)\n" }.joined())
            try await broker.start()
            close(fifo)
            try await sandbox.waitFor("every line received") { receiver.log.lines("recv").count >= 30 }
            // Each file is `in/jobs/events/<sender's id>.<receiver's id>`, the receiver's ids
            // given in the order the messages came off the wire (the dispatch of a folder that
            // is new follows the scan that finds it, not this order).
            let pairs = receiver.log.lines("recv").compactMap { line -> (String, String)? in
                guard let last = line["name"]?.split(separator: "/").last else { return nil }
                let parts = last.split(separator: ".")
                return parts.count == 2 ? (String(parts[1]), String(parts[0])) : nil
            }
            let senderIDs = pairs.sorted { $0.0 < $1.0 }.map(\.1)
            #expect(senderIDs.count == 30)
            #expect(senderIDs == senderIDs.sorted(), "out of order: \(senderIDs)")
        }
    }
}

@Suite struct MQTTReloadTests {
    @Test func aSubscribeLineAddedByAReloadTakesEffect() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let first = """
                broker hub \(broker.url) client-id=t-reload
                in/** file \(sandbox.handlers)/record.sh

                """
            try sandbox.writeRules(first)
            let daemon = try await sandbox.startDaemon()
            try await sandbox.waitForLine("connect") { $0.verb == "connect" }
            try sandbox.replaceRules(first + "subscribe hub \"news/#\" into in\n")
            daemon.signal(SIGHUP)
            // The broker's line did not change, its subscriptions did: it is connected again with them.
            try await sandbox.waitFor("a second connect") { sandbox.log.lines("connect").count >= 2 }
            let sent = try await mosquittoPublish(sandbox, ["-p", "\(broker.port)", "-V", "mqttv5", "-q", "1", "-t", "news/today", "-m", "hello"])
            #expect(sent.status == .exited(0), "\(sent)")
            let run = try await sandbox.waitForRun("the news handled")
            #expect(run.stdin == Bytes(text: "hello"))
            #expect(run.variable("SPOOL_MQTT_TOPIC") == "news/today")
            // Published by another client: no origin of a spoolbus.
            #expect(run.variable("SPOOL_ORIGIN_ID") == nil)
        }
    }

    @Test func aReloadWhileMessagesWaitForTheBrokerCostsThemNoAttempt() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            let rules = { (keepalive: String) in
                """
                broker hub \(broker.url) client-id=t-handover keepalive=\(keepalive)
                subscribe hub "jobs/#" into in
                outbox/** file retries=0 mqtt:hub jobs/{name}
                in/** file \(sandbox.handlers)/record.sh

                """
            }
            try sandbox.writeRules(rules("30s"))
            let daemon = try await sandbox.startDaemon()
            for index in 0..<3 { try sandbox.drop("outbox/w\(index)", "w\(index)") }
            try await sandbox.waitFor("the files claimed, waiting") { sandbox.claimed.count == 3 }
            try sandbox.replaceRules(rules("20s"))
            daemon.signal(SIGHUP)
            try await sandbox.waitForLine("reload") { $0.verb == "reload" }
            try await broker.start()
            let runs = try await sandbox.waitForRuns(3, "the waiting files, published and received")
            #expect(Set(runs.compactMap { $0.variable("SPOOL_ORIGIN_NAME") }) == ["outbox/w0", "outbox/w1", "outbox/w2"])
            // retries=0: one failed attempt would have made a dead letter.
            #expect(sandbox.log.lines("fail").isEmpty && sandbox.log.lines("dead").isEmpty)
        }
    }
}

@Suite struct MQTTDuplicateTests {
    @Test func aMessageSentTwiceWithTheSameOriginIsWrittenOnce() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            try sandbox.writeRules("""
                broker hub \(broker.url) client-id=t-dup
                subscribe hub "jobs/#" into in
                in/** file \(sandbox.handlers)/record.sh
                """)
            let daemon = try await sandbox.startDaemon()
            try await sandbox.waitForLine("connect") { $0.verb == "connect" }
            func publish(_ id: String, _ body: String) async throws {
                let sent = try await mosquittoPublish(sandbox, [
                    "-p", "\(broker.port)", "-V", "mqttv5", "-q", "1", "-t", "jobs/x", "-m", body,
                    "-D", "publish", "user-property", "origin-host", "box", "-D", "publish", "user-property", "spool-id", id,
                ])
                #expect(sent.status == .exited(0), "\(sent)")
            }
            try await publish("id-1", "first")
            try await publish("id-1", "again")
            try await sandbox.waitForLine("the duplicate dropped") { $0.verb == "duplicate" && $0["origin_id"] == "id-1" }
            // Across a restart too: the window is on disk.
            daemon.signal(SIGTERM)
            _ = try await daemon.waitForExit()
            try await sandbox.startDaemon()
            try await publish("id-1", "after the restart")
            try await publish("id-2", "second")
            try await sandbox.waitFor("two duplicates") { sandbox.log.lines("duplicate").count >= 2 }
            let runs = try await sandbox.waitForRuns(2, "the two distinct messages")
            #expect(Set(runs.map { $0.stdin }) == [Bytes(text: "first"), Bytes(text: "second")])
            #expect(runs.first { $0.stdin == Bytes(text: "first") }?.variable("SPOOL_ORIGIN_HOST") == "box")
            try await sandbox.waitFor("nothing else written") { sandbox.claimed.isEmpty }
            #expect(sandbox.runs.count == 2)
        }
    }
}

@Suite struct MQTTCrashBeforeAcknowledgeTests {
    /// The receiver ends as `kill -9` would with its first batch written and synced and none of
    /// its PUBACKs sent: the broker sends the batch again to the restarted receiver, which drops
    /// it as duplicates (the window was saved with the batch), so every message is written once.
    @Test func aBatchWrittenButNotAcknowledgedIsSentAgainAndWrittenOnce() async throws {
        try await withSandbox { sandbox in
            let broker = try Mosquitto(in: sandbox)
            try await broker.start()
            let receiver = try PeerSpool(in: sandbox, name: "b", rules: receiverRules(broker, sandbox))
            let faulty = try await sandbox.startDaemon(
                arguments: ["run", receiver.rulesPath, "--spool", receiver.spool, "--log", receiver.log.path], log: receiver.log,
                variables: ["SPOOLBUS_FAULT": "acknowledge:1"])
            try await sandbox.waitFor("the receiver's connect line") { !receiver.log.connects("hub").isEmpty }
            try sandbox.writeRules(senderRules(broker))
            try await sandbox.startDaemon()
            try await sandbox.waitForLine("the sender's connect line") { $0.verb == "connect" && $0["broker"] == "hub" }
            let total = 20
            for index in 0..<total { try sandbox.drop("outbox/m-\(index)", "message \(index)\n") }
            #expect(try await faulty.waitForExit() == .exited(86), "\(faulty.stderr)")
            #expect(faulty.stderr.contains("fault injected at acknowledge #1"), "\(faulty.stderr)")
            let stored = Files.walk(receiver.spool + "/in").count
            #expect(stored >= 1, "the crashed batch is on disk")
            try await receiver.start(in: sandbox)
            try await sandbox.waitFor("every message on the receiver") {
                Set(receivedRuns(sandbox, receiver).compactMap { $0.variable("SPOOL_ORIGIN_NAME") }).count >= total
            }
            try await sandbox.waitFor("the crashed batch dropped as duplicates when sent again") {
                receiver.log.lines("duplicate").count >= 1
            }
            let runs = receivedRuns(sandbox, receiver)
            #expect(Set(runs.compactMap { $0.name }).count == total, "\(runs.count) runs")
            #expect(runs.count == total, "a message written twice: \(runs.count) runs for \(total) messages")
        }
    }
}
