/// The daemon's one connection to one MQTT broker, on the event loop: a non-blocking TCP
/// connect, CONNECT with clean start off and a session that never expires (the broker holds
/// what is sent to the bus while it is away), SUBSCRIBE for its `subscribe` lines, keepalive
/// pings on a timer, and a reconnect with backoff (1 s doubling to 60 s) whenever the
/// connection fails or is lost, however often.
///
/// Publishes wait here while the broker is unreachable, in arrival order; once written, a
/// QoS 1 one is kept until its PUBACK and sent again (marked duplicate) after a reconnect.
final class BrokerConnection {
    enum State: String { case waiting, resolving, connecting, handshaking, connected, closed }

    let directive: BrokerDirective
    private let loop: EventLoop
    private let log: DispatchLog
    let clientID: String
    /// The `subscribe` lines for this broker.
    var subscriptions: [SubscribeDirective]
    /// The PUBLISHes of one read from the socket: true once they are stored for good (then
    /// the QoS 1 ones are acknowledged, all together after one sync); false drops the
    /// connection, so the broker sends them again later.
    var onMessages: ([MQTTPublish]) -> Bool = { _ in true }
    /// Received, not yet stored: what one read brought.
    private var inbound: [MQTTPublish] = []

    private(set) var state = State.waiting
    private var socket: FileDescriptor?
    private var addresses: [TCPAddress] = []
    private var addressIndex = 0
    private var reader = MQTTFrameReader(maximumPacketSize: BrokerConnection.largestIncomingPacket)
    private var output: Bytes = []
    private var outputStart = 0
    /// A flush is asked for at the end of this loop iteration (`flushSoon`).
    private var flushRequested = false
    /// Whether epoll reports the socket writable to us: only while output waits for room.
    private var watchingWritable = false
    /// Bytes ever queued to and ever sent on this connection: a QoS 0 publish is done once the
    /// count sent passes its end.
    private var queuedTotal = 0
    private var sentTotal = 0
    private var writtenQoS0: [(end: Int, publish: OutgoingPublish)] = []
    private var waitingToSend: [OutgoingPublish] = []
    private var waitingStart = 0
    private var inFlight: [UInt16: OutgoingPublish] = [:]
    /// Packet ids of publishes given up (timed out, cancelled) whose PUBACK may still come:
    /// not reused on this connection, so a late PUBACK cannot settle another message.
    private var abandoned: Set<UInt16> = []
    private var nextPacketID: UInt16 = 1
    private var sendQuota = 65_535
    private var brokerMaximumPacketSize = Int.max
    private var keepAlive: Duration
    private var pingOutstanding = false
    private var keepAliveTimer: EventLoop.TimerID?
    private var handshakeTimer: EventLoop.TimerID?
    private var reconnectTimer: EventLoop.TimerID?
    private var backoff = BrokerConnection.firstBackoff
    private var since = MonotonicInstant.now()
    private var lastError: String?
    private(set) var published = 0
    private(set) var received = 0

    static let firstBackoff: Duration = .seconds(1)
    static let longestBackoff: Duration = .seconds(60)
    /// TCP connect and CONNACK together.
    static let handshakeTimeout: Duration = .seconds(10)
    /// The largest packet taken from a broker (and announced to it as Maximum Packet Size).
    static let largestIncomingPacket = 16 << 20
    /// Bytes taken from the socket per readiness, in a buffer freed after the read (an idle
    /// daemon keeps none): a few hundred small messages, all made durable by one sync.
    static let readSize = 65_536
    /// How many QoS 1 messages the broker may send before the bus acknowledged them.
    static let receiveMaximum: UInt16 = 500
    private static let sessionNeverExpires: UInt32 = 0xFFFF_FFFF

    init(directive: BrokerDirective, clientID: String, subscriptions: [SubscribeDirective], loop: EventLoop, log: DispatchLog) {
        self.directive = directive
        self.clientID = clientID
        self.subscriptions = subscriptions
        self.loop = loop
        self.log = log
        keepAlive = directive.keepAlive
    }

    // MARK: Publishing

    /// Sends `publish` as soon as the broker is connected; its completion says how it ended.
    func send(_ publish: OutgoingPublish) {
        guard state != .closed else { return publish.finish(.failure(MQTTPublishFailure("the broker \(directive.name) is gone from the rules"))) }
        waitingToSend.append(publish)
        sendWaiting()
    }

    /// Gives `publish` up: a waiting one is never sent; a written one's PUBACK will be ignored.
    func cancel(_ publish: OutgoingPublish) {
        if let id = publish.packet.packetID, inFlight[id] === publish {
            inFlight[id] = nil
            abandoned.insert(id)
        }
        if let timer = publish.timer { loop.cancel(timer) }
        publish.timer = nil
        publish.finish(.failure(MQTTPublishFailure("cancelled")))
    }

    private func sendWaiting() {
        guard state == .connected else { return }
        while waitingStart < waitingToSend.count && inFlight.count < sendQuota {
            let publish = waitingToSend[waitingStart]
            waitingStart += 1
            guard !publish.isFinished else { continue }
            write(publish)
        }
        if waitingStart > 1024 && waitingStart * 2 > waitingToSend.count {
            waitingToSend.removeFirst(waitingStart)
            waitingStart = 0
        }
        flushSoon()
    }

    private func write(_ publish: OutgoingPublish) {
        if publish.packet.qos == 1 {
            // A resend keeps its packet id (the broker's session knows the message by it).
            if publish.packet.packetID.map({ inFlight[$0] !== publish }) ?? true { publish.packet.packetID = allocatePacketID() }
            inFlight[publish.packet.packetID!] = publish
        }
        publish.packet.duplicate = publish.wasSent && publish.packet.qos == 1
        let bytes = MQTTPacket.publish(publish.packet).encode()
        guard bytes.count <= brokerMaximumPacketSize else {
            if let id = publish.packet.packetID { inFlight[id] = nil }
            publish.finish(.failure(MQTTPublishFailure("\(bytes.count) bytes, more than the broker takes (\(brokerMaximumPacketSize))")))
            return
        }
        publish.wasSent = true
        queue(bytes)
        if publish.packet.qos == 0 {
            writtenQoS0.append((queuedTotal, publish))
        } else {
            publish.timer = loop.schedule(after: publish.acknowledgementTimeout) { [weak self, weak publish] in
                guard let self, let publish, let id = publish.packet.packetID, self.inFlight[id] === publish else { return }
                self.inFlight[id] = nil
                self.abandoned.insert(id)
                publish.timer = nil
                publish.finish(.failure(MQTTPublishFailure("no PUBACK from \(self.directive.name) within \(formatDuration(publish.acknowledgementTimeout))")))
                self.sendWaiting()
            }
        }
    }

    private func allocatePacketID() -> UInt16 {
        while true {
            let id = nextPacketID
            nextPacketID = nextPacketID == .max ? 1 : nextPacketID + 1
            if inFlight[id] == nil && !abandoned.contains(id) { return id }
        }
    }

    // MARK: Connecting

    func start() { connect() }

    private func connect() {
        reconnectTimer = nil
        guard state == .waiting else { return }
        if addresses.isEmpty || addressIndex >= addresses.count {
            guard let numeric = TCPSocket.numericAddresses(host: directive.host, port: directive.port) else { return resolve() }
            addresses = numeric
            addressIndex = 0
        }
        open(addresses[addressIndex])
    }

    /// Looks the broker's host name up on a thread of its own: while DNS does not answer (the
    /// network outage a spool is there to ride out) the loop goes on serving the bus.
    private func resolve() {
        state = .resolving
        let host = directive.host, port = directive.port, loop = loop, me = LoopBound(self)
        let lookUp: @Sendable () -> Void = {
            let found: Result<[TCPAddress], TCPResolveError>
            do throws(TCPResolveError) {
                found = .success(try TCPSocket.resolve(host: host, port: port))
            } catch {
                found = .failure(error)
            }
            loop.post { me.value?.resolved(found) }
        }
        do {
            try DetachedThread.run(lookUp)
        } catch {
            state = .waiting
            lost("cannot look '\(directive.host)' up: \(error)")
        }
    }

    private func resolved(_ found: Result<[TCPAddress], TCPResolveError>) {
        // Closed (a reload, the daemon stopping) while it was looked up.
        guard state == .resolving else { return }
        state = .waiting
        switch found {
        case .success(let list) where !list.isEmpty:
            addresses = list
            addressIndex = 0
            open(list[0])
        case .success:
            lost("\(TCPResolveError(host: directive.host, message: "no address"))")
        case .failure(let error):
            lost("\(error)")
        }
    }

    private func open(_ address: TCPAddress) {
        do {
            let fd = try TCPSocket.open(for: address)
            socket = fd
            state = .connecting
            try loop.register(fd, for: [.readable, .writable]) { [weak self] readiness in self?.ready(readiness) }
            watchingWritable = true
            handshakeTimer = loop.schedule(after: Self.handshakeTimeout) { [weak self] in
                self?.handshakeTimer = nil
                self?.lost("no CONNACK within \(formatDuration(Self.handshakeTimeout))")
            }
            if try TCPSocket.startConnect(fd, to: address) { tcpConnected() }
        } catch {
            addressIndex += 1
            lost("\(error)")
        }
    }

    private func tcpConnected() {
        state = .handshaking
        var properties = MQTTProperties()
        properties.add(MQTTProperties.sessionExpiryInterval, .fourBytes(Self.sessionNeverExpires))
        properties.add(MQTTProperties.receiveMaximum, .twoBytes(Self.receiveMaximum))
        properties.add(MQTTProperties.maximumPacketSize, .fourBytes(UInt32(Self.largestIncomingPacket)))
        var password: Bytes?
        if let file = directive.passwordFile {
            do {
                // Opened without blocking and read only if it is a regular file: a FIFO put at
                // its name would otherwise stall the bus at every connect.
                let fd = try FileDescriptor.open(file, [.readOnly, .nonBlocking])
                defer { fd.close() }
                guard try fd.status().type == .file else { return lost("password-file: '\(text(file))' is not a regular file") }
                var content = try fd.readAll(limit: 65_535)
                while content.last == UInt8(ascii: "\n") || content.last == UInt8(ascii: "\r") { content.removeLast() }
                password = content
            } catch {
                return lost("password-file: \(error)")
            }
        }
        let connect = MQTTConnect(clientID: clientID.bytes, keepAlive: UInt16(min(keepAlive.nanoseconds / 1_000_000_000, 65_535)),
                                  cleanStart: false, username: directive.username?.bytes, password: password, properties: properties)
        queue(MQTTPacket.connect(connect).encode())
        flush()
    }

    private func connected(_ connack: MQTTConnack) {
        if let handshakeTimer { loop.cancel(handshakeTimer) }
        handshakeTimer = nil
        guard !MQTTReasonCode.isFailure(connack.reasonCode) else {
            return lost("the broker refused the connection: \(MQTTReasonCode.describe(connack.reasonCode))")
        }
        state = .connected
        since = .now()
        backoff = Self.firstBackoff
        lastError = nil
        sendQuota = connack.properties.integer(MQTTProperties.receiveMaximum) ?? 65_535
        brokerMaximumPacketSize = connack.properties.integer(MQTTProperties.maximumPacketSize) ?? Int.max
        if let seconds = connack.properties.integer(MQTTProperties.serverKeepAlive) { keepAlive = .seconds(max(seconds, 1)) }
        log.record("connect", [
            ("broker", directive.name), ("address", addresses.indices.contains(addressIndex) ? "\(addresses[addressIndex])" : directive.host),
            ("client_id", clientID), ("session", connack.sessionPresent ? "resumed" : "new"), ("in_flight", inFlight.count),
            ("waiting", waitingToSend.count - waitingStart),
        ])
        subscribe()
        // What was written before the connection went: again, in the order first sent.
        for publish in inFlight.values.sorted(by: { ($0.packet.packetID ?? 0) < ($1.packet.packetID ?? 0) }) {
            write(publish)
        }
        scheduleKeepAlive()
        sendWaiting()
    }

    private func subscribe() {
        guard !subscriptions.isEmpty else { return }
        let filters = subscriptions.map { MQTTSubscribe.Filter(filter: $0.filter, qos: $0.qos) }
        queue(MQTTPacket.subscribe(MQTTSubscribe(packetID: allocatePacketID(), filters: filters)).encode())
    }

    private func scheduleKeepAlive() {
        keepAliveTimer = loop.schedule(after: keepAlive) { [weak self] in
            guard let self else { return }
            self.keepAliveTimer = nil
            guard self.state == .connected else { return }
            guard !self.pingOutstanding else { return self.lost("no PINGRESP within keepalive \(formatDuration(self.keepAlive))") }
            self.pingOutstanding = true
            self.queue(MQTTPacket.pingRequest.encode())
            self.flush()
            self.scheduleKeepAlive()
        }
    }

    /// Closes the connection after a failure or loss, logs why, and tries again after the backoff.
    private func lost(_ reason: String) {
        guard state != .closed, reconnectTimer == nil else { return }
        inbound.removeAll()
        let wasConnected = state == .connected
        closeSocket()
        state = .waiting
        let retryIn = backoff
        backoff = min(backoff * 2, Self.longestBackoff)
        var fields: [(String, any LogValue)] = [("broker", directive.name), ("host", directive.host), ("port", Int(directive.port))]
        if wasConnected { fields.append(("ms", MonotonicInstant.now().duration(since: since).milliseconds)) }
        fields += [("retry_in", formatDuration(retryIn)), ("in_flight", inFlight.count), ("err", reason)]
        log.record("disconnect", fields)
        lastError = reason
        since = .now()
        reconnectTimer = loop.schedule(after: retryIn) { [weak self] in self?.connect() }
    }

    private func closeSocket() {
        for timer in [keepAliveTimer, handshakeTimer] { if let timer { loop.cancel(timer) } }
        keepAliveTimer = nil
        handshakeTimer = nil
        pingOutstanding = false
        if let socket {
            loop.unregister(socket)
            socket.close()
        }
        socket = nil
        watchingWritable = false
        reader = MQTTFrameReader(maximumPacketSize: Self.largestIncomingPacket)
        output.removeAll()
        outputStart = 0
        queuedTotal = 0
        sentTotal = 0
        abandoned.removeAll()
        for publish in inFlight.values {
            if let timer = publish.timer { loop.cancel(timer) }
            publish.timer = nil
        }
        // QoS 0 messages not yet handed to the kernel go out again first.
        let unsent = writtenQoS0.map(\.publish)
        writtenQoS0.removeAll()
        if !unsent.isEmpty {
            waitingToSend = unsent + waitingToSend[waitingStart...]
            waitingStart = 0
        }
    }

    /// Stops for good like `close`, but hands what waits or is in flight to `successor` (the
    /// same broker after a reload changed its line or its subscriptions) instead of failing it:
    /// a reload costs no message an attempt. What was written goes again, marked duplicate.
    func close(handingOverTo successor: BrokerConnection) {
        let inFlightFirst = inFlight.values.sorted { ($0.packet.packetID ?? 0) < ($1.packet.packetID ?? 0) }
        let left = inFlightFirst + waitingToSend[waitingStart...] + writtenQoS0.map(\.publish)
        inFlight.removeAll()
        waitingToSend.removeAll()
        waitingStart = 0
        writtenQoS0.removeAll()
        close()
        for publish in left where !publish.isFinished {
            if let timer = publish.timer { loop.cancel(timer) }
            publish.timer = nil
            publish.packet.packetID = nil
            successor.send(publish)
        }
    }

    /// Sends DISCONNECT (best effort) and stops for good; what waits is failed.
    func close() {
        guard state != .closed else { return }
        if state == .connected {
            queue(MQTTPacket.disconnect(MQTTDisconnect()).encode())
            flush()
        }
        if let reconnectTimer { loop.cancel(reconnectTimer) }
        closeSocket()
        state = .closed
        let left = waitingToSend[waitingStart...] + inFlight.values
        waitingToSend.removeAll()
        waitingStart = 0
        inFlight.removeAll()
        for publish in left { publish.finish(.failure(MQTTPublishFailure("the broker \(directive.name) is gone from the rules"))) }
    }

    // MARK: Input and output

    private func ready(_ readiness: EventLoop.Readiness) {
        if state == .connecting {
            guard readiness.contains(.writable) || readiness.contains(.error) || readiness.contains(.hangUp), let socket else { return }
            let address = addresses[addressIndex]
            if let error = TCPSocket.connectResult(socket, to: address) {
                addressIndex += 1
                return lost("\(error)")
            }
            tcpConnected()
            return
        }
        if readiness.contains(.readable) || readiness.contains(.hangUp) || readiness.contains(.error) { readInput() }
        if socket != nil && readiness.contains(.writable) { flush() }
    }

    /// One read per readiness: a broker sending without pause must not keep the loop from the
    /// spool's own events (the messages it writes are dispatched meanwhile); epoll reports the
    /// socket again at once while bytes wait.
    private func readInput() {
        if let socket {
            let count: Int?
            do {
                // Not zeroed first: most reads bring a few PUBACKs, not 64 KiB.
                count = try withUnsafeTemporaryAllocation(byteCount: Self.readSize, alignment: 1) { buffer in
                    let count = try TCPSocket.receive(socket, into: buffer)
                    if let count, count > 0 { reader.append(UnsafeRawBufferPointer(rebasing: buffer[..<count])) }
                    return count
                }
            } catch {
                return lost("\(error)")
            }
            guard let count else { return }
            guard count > 0 else { return lost("the broker closed the connection") }
            do {
                while self.socket != nil, let packet = try reader.next() { handle(packet) }
            } catch {
                queue(MQTTPacket.disconnect(MQTTDisconnect(reasonCode: 0x81)).encode())
                flush()
                return lost("\(error)")
            }
            storeInbound()
        }
    }

    private func handle(_ packet: MQTTPacket) {
        switch (state, packet) {
        case (.handshaking, .connack(let connack)):
            connected(connack)
        case (.connected, .puback(let puback)):
            abandoned.remove(puback.packetID)
            guard let publish = inFlight.removeValue(forKey: puback.packetID) else { return }
            if let timer = publish.timer { loop.cancel(timer) }
            publish.timer = nil
            if MQTTReasonCode.isFailure(puback.reasonCode) {
                publish.finish(.failure(MQTTPublishFailure("the broker refused it: \(MQTTReasonCode.describe(puback.reasonCode))")))
            } else {
                published += 1
                publish.finish(.success(()))
            }
            sendWaiting()
        case (.connected, .publish(let publish)):
            received += 1
            inbound.append(publish)
        case (.connected, .suback(let suback)):
            abandoned.remove(suback.packetID)
            for (index, code) in suback.reasonCodes.enumerated() where MQTTReasonCode.isFailure(code) && index < subscriptions.count {
                log.record("error", [("broker", directive.name), ("rule", subscriptions[index].line), ("filter", subscriptions[index].filter),
                                     ("err", "the broker refused the subscription: \(MQTTReasonCode.describe(code))")])
            }
        case (.connected, .pingResponse):
            pingOutstanding = false
        case (_, .disconnect(let disconnect)):
            var reason = "the broker disconnected: \(MQTTReasonCode.describe(disconnect.reasonCode))"
            if let text = disconnect.properties.text(MQTTProperties.reasonString) { reason += " (\(String(decoding: text, as: UTF8.self)))" }
            lost(reason)
        default:
            queue(MQTTPacket.disconnect(MQTTDisconnect(reasonCode: 0x82)).encode())
            flush()
            lost("protocol error: unexpected \(packet.kindName) while \(state.rawValue)")
        }
    }

    private func storeInbound() {
        guard socket != nil, !inbound.isEmpty else { return }
        let batch = inbound
        inbound.removeAll()
        guard onMessages(batch) else { return lost("received messages could not be stored; the broker sends them again") }
        FaultInjection.reach(.acknowledge)
        for publish in batch {
            if let id = publish.packetID { queue(MQTTPacket.puback(MQTTPuback(packetID: id)).encode()) }
        }
        flushSoon()
    }

    private func queue(_ bytes: Bytes) {
        output += bytes
        queuedTotal += bytes.count
    }

    /// Sends what is queued once this loop iteration is done: the PUBLISHes of all the runs
    /// started in one iteration, and the PUBACKs of a batch, go out in one write.
    private func flushSoon() {
        guard !flushRequested else { return }
        flushRequested = true
        loop.atEndOfIteration { [weak self] in
            guard let self else { return }
            self.flushRequested = false
            self.flush()
        }
    }

    private func flush() {
        guard let socket, state != .connecting else { return }
        while outputStart < output.count {
            let sent: Int?
            do {
                sent = try output.withUnsafeBytes { try TCPSocket.send(socket, UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }
            } catch {
                return lost("\(error)")
            }
            guard let sent else { break }
            outputStart += sent
            sentTotal += sent
        }
        if outputStart == output.count {
            output.removeAll(keepingCapacity: output.count <= 4096)
            outputStart = 0
        }
        var done = 0
        while done < writtenQoS0.count && writtenQoS0[done].end <= sentTotal { done += 1 }
        let finished = writtenQoS0.prefix(done)
        writtenQoS0.removeFirst(done)
        for item in finished {
            published += 1
            item.publish.finish(.success(()))
        }
        let waiting = outputStart < output.count
        if waiting != watchingWritable {
            watchingWritable = waiting
            try? loop.change(socket, to: waiting ? [.readable, .writable] : .readable)
        }
    }

    // MARK: Status

    /// One `status` value: `connected 127.0.0.1:1883 for=12s in_flight=0 waiting=0 published=5 received=2`.
    var statusText: String {
        let duration = formatDuration(.seconds(MonotonicInstant.now().duration(since: since).milliseconds / 1000))
        var text = state.rawValue + " " + directive.host + ":" + String(directive.port) + " for=" + duration
        text += " in_flight=\(inFlight.count) waiting=\(waitingToSend.count - waitingStart) published=\(published) received=\(received)"
        if let lastError, state != .connected { text += " err=" + lastError }
        return text
    }
}

extension MQTTPacket {
    /// `CONNACK`, `PUBLISH`, …, for errors.
    var kindName: String {
        switch self {
        case .connect: return "CONNECT"
        case .connack: return "CONNACK"
        case .publish: return "PUBLISH"
        case .puback: return "PUBACK"
        case .subscribe: return "SUBSCRIBE"
        case .suback: return "SUBACK"
        case .pingRequest: return "PINGREQ"
        case .pingResponse: return "PINGRESP"
        case .disconnect: return "DISCONNECT"
        }
    }
}
