/// One client of a `listen` socket (stream or seqpacket): its lines or packets become `socket`
/// messages, and its replies go back in the order it sent the messages.
///
/// Nothing a client does can hold up the bus: reads and writes never block; a client that does
/// not read its replies stops being read once it has `outboxLimit` bytes or `awaitingLimit`
/// replies outstanding, so the kernel pushes back on its writes; one that goes away has its
/// replies dropped (EPIPE, never SIGPIPE) while its messages are still handled.
final class ClientConnection: MessageSource {
    enum Framing {
        /// SOCK_STREAM: newline-terminated lines; an unterminated last line counts at end of file.
        case lines
        /// SOCK_SEQPACKET: one message per packet, newlines and all.
        case packets
    }

    /// Reply bytes waiting to be sent, at most, before the client is no longer read.
    static let outboxLimit = 256 * 1024
    /// Messages whose replies are outstanding, at most, before the client is no longer read.
    static let awaitingLimit = 256

    let origin: ChannelOrigin
    private unowned let channels: ChannelSet
    private let framing: Framing
    private var io: LoopInterest!
    private var framer: LineFramer
    /// Tickets give each message its place among the replies.
    private var nextTicket: UInt64 = 0
    private var nextToSend: UInt64 = 0
    private var readyReplies: [UInt64: Bytes] = [:]
    private var outbox = FIFOQueue<Bytes>()
    private var outboxOffset = 0
    private var outboxBytes = 0
    private var writeBlocked = false
    private var batching = false
    let unsettled = UnsettledCount()
    /// Control data (passed descriptors) read with a stream, by the place of the line it goes
    /// with: held until that line is delivered, closed if it never is.
    private var attachments: [Int: ReceivedControl] = [:]
    /// The client closed or half-closed its side; the connection ends once its replies are out.
    private var readEnded = false
    private(set) var closed = false
    var isClosed: Bool { closed }

    init(descriptor: FileDescriptor, listenerName: Bytes, peer: Peer, framing: Framing, channels: ChannelSet) {
        origin = ChannelOrigin(name: listenerName, event: .socket, type: .socket, peer: peer)
        self.framing = framing
        self.channels = channels
        framer = LineFramer(maxLine: channels.maxLine)
        io = LoopInterest(loop: channels.loop, descriptor: descriptor) { [unowned self] readiness in self.ready(readiness) }
    }

    private var awaiting: Int { Int(nextTicket - nextToSend) }

    private var mayRead: Bool {
        !readEnded && hasRoom
    }

    private var hasRoom: Bool {
        !channels.isPaused && unsettled.hasRoom && outboxBytes < Self.outboxLimit && awaiting < Self.awaitingLimit
    }

    func refreshInterest() {
        guard !closed else { return }
        var wanted: EventLoop.Readiness = []
        if mayRead && !framer.hasLine { wanted.insert(.readable) }
        if writeBlocked { wanted.insert(.writable) }
        do {
            try io.set(wanted)
        } catch {
            close()
        }
    }

    func resume() {
        deliverBuffered()
        finishIfDone()
        refreshInterest()
    }

    /// Stops reading (the daemon is stopping): the complete lines read so far are handed to the
    /// bus, paused or not, and replies still owed are sent as they come.
    func stopReading() {
        deliverBuffered(all: true)
        readEnded = true
        finishIfDone()
        refreshInterest()
    }

    func close() {
        guard !closed else { return }
        closed = true
        let dropped = awaiting + outbox.count
        if dropped > 0 { channels.counters.repliesDropped += dropped }
        io.close()
        for control in attachments.values { control.closeAll() }
        attachments.removeAll()
        readyReplies.removeAll()
        outbox = FIFOQueue()
        channels.sockets.connectionClosed(self)
    }

    // MARK: - Reading

    private func ready(_ readiness: EventLoop.Readiness) {
        if readiness.contains(.writable) { flush() }
        guard !closed else { return }
        if !readiness.intersection([.readable, .hangUp, .error, .peerClosed]).isEmpty {
            if io.current.contains(.readable) {
                read()
            } else if !readiness.intersection([.hangUp, .error]).isEmpty {
                // Hung up while we only wait to write: the next send says how it ended.
                flush()
            }
        }
        guard !closed else { return }
        refreshInterest()
    }

    private func read() {
        switch framing {
        case .lines: readStream()
        case .packets: readPacket()
        }
    }

    private func readStream() {
        let received: (count: Int, control: ReceivedControl)?
        do {
            received = try UnixSocket.receiveStream(io.descriptor, into: channels.scratch)
        } catch {
            return close()  // reset by the peer
        }
        guard let (count, control) = received else { return }
        if count == 0 {
            control.closeAll()
            readEnded = true
            framer.finish()
        } else {
            framer.append(UnsafeRawBufferPointer(rebasing: channels.scratch[..<count]))
            if !control.isEmpty { attachments[framer.lastByteOrdinal, default: ReceivedControl()].merge(control) }
        }
        deliverBuffered()
        finishIfDone()
    }

    private func readPacket() {
        let buffer = UnsafeMutableRawBufferPointer(rebasing: channels.scratch[..<min(channels.scratch.count, channels.maxLine + 1)])
        let packet: ReceivedPacket?
        do {
            packet = try UnixSocket.receivePacket(io.descriptor, into: buffer)
        } catch {
            return close()
        }
        guard let packet else { return }
        if packet.length == 0 && packet.control.isEmpty {
            // End of file: a seqpacket socket cannot tell it from an empty packet (one that
            // brings a descriptor is a message).
            readEnded = true
            return finishIfDone()
        }
        let ticket = reserveTicket()
        let body = Bytes(UnsafeRawBufferPointer(rebasing: buffer[..<packet.count]))
        hand(packet.length > channels.maxLine ? .tooLong(length: packet.length) : .line(body), control: packet.control, ticket: ticket)
    }

    /// Hands one line or packet to the bus with what came with it: the passed descriptor, or a
    /// refusal when its control data is not one readable descriptor.
    private func hand(_ framed: LineFramer.Framed, control: ReceivedControl?, ticket: UInt64) {
        var extras = MessageExtras()
        if let control {
            switch control.passedDescriptor() {
            case .success(let passed): extras.descriptor = passed
            case .failure(let refusal): return channels.lines.refuse(from: origin, reason: refusal.reason, reply: replier(ticket))
            }
        }
        switch framed {
        case .line(let line): channels.lines.submit(line, from: origin, by: self, reply: replier(ticket), extras: extras)
        case .tooLong(let length): channels.lines.refuseTooLong(length, from: origin, reply: replier(ticket), extras: extras)
        }
    }

    /// Hands the complete lines read to the bus while there is room, or `all` of them.
    private func deliverBuffered(all: Bool = false) {
        batching = true
        while all ? !closed : mayReadOrFinishing {
            let ordinal = framer.takenCount
            guard let framed = framer.nextLine() else { break }
            hand(framed, control: attachments.removeValue(forKey: ordinal), ticket: reserveTicket())
        }
        batching = false
        flush()
    }

    /// Lines already read are still delivered after end of file, under the same limits.
    private var mayReadOrFinishing: Bool { hasRoom && !channels.isStopping }

    // MARK: - Replies

    private func reserveTicket() -> UInt64 {
        defer { nextTicket += 1 }
        return nextTicket
    }

    private func replier(_ ticket: UInt64) -> (Bytes) -> Void {
        { [weak self] reply in self?.replyReady(ticket, reply) }
    }

    private func replyReady(_ ticket: UInt64, _ reply: Bytes) {
        guard !closed else { return }
        if ticket == nextToSend {
            // The reply due next (an `ok ID` answered at once): straight to the outbox.
            nextToSend += 1
            outbox.append(reply)
            outboxBytes += reply.count
        } else {
            readyReplies[ticket] = reply
        }
        while !readyReplies.isEmpty, let next = readyReplies.removeValue(forKey: nextToSend) {
            nextToSend += 1
            outbox.append(next)
            outboxBytes += next.count
        }
        // An idle connection holds no storage.
        if readyReplies.isEmpty { readyReplies = [:] }
        guard !batching else { return }
        flush()
        guard !closed else { return }
        finishIfDone()
        refreshInterest()
    }

    /// Sends what the outbox holds until it is empty or the socket's buffer is full. On a
    /// stream the replies of one batch go in one `send`: a system call per `ok ID` was most of
    /// what a line cost.
    private func flush() {
        if framing == .lines && outbox.count > 1 { joinOutbox() }
        while !closed, let head = outbox.first {
            let sent: Int?
            do {
                sent = try head.withUnsafeBytes { raw in
                    try UnixSocket.send(io.descriptor, UnsafeRawBufferPointer(rebasing: raw[outboxOffset...]))
                }
            } catch let error as SystemError where error.errno == SystemError.messageTooLong {
                // A reply too big for one packet: the client gets told instead.
                channels.counters.repliesDropped += 1
                _ = outbox.removeFirst()
                outboxBytes -= head.count
                outboxOffset = 0
                outbox.append(ChannelReply.refused("reply of \(head.count) bytes does not fit in one packet"))
                continue
            } catch {
                // The client went away: what it was owed is dropped, its messages still run.
                return close()
            }
            guard let sent else {
                writeBlocked = true
                return
            }
            if framing == .packets || outboxOffset + sent == head.count {
                _ = outbox.removeFirst()
                outboxBytes -= head.count
                outboxOffset = 0
            } else {
                outboxOffset += sent
            }
        }
        if !closed && outbox.isEmpty { outbox = FIFOQueue() }
        writeBlocked = false
    }

    /// Makes the replies waiting on a stream one, from the part of the first not sent yet on.
    private func joinOutbox() {
        var joined = Bytes()
        joined.reserveCapacity(outboxBytes - outboxOffset)
        var first = true
        while let reply = outbox.removeFirst() {
            joined += first ? reply[outboxOffset...] : reply[...]
            first = false
        }
        outboxOffset = 0
        outboxBytes = joined.count
        outbox.append(joined)
    }

    /// A client that closed or half-closed its side, and has every reply, is done with.
    private func finishIfDone() {
        if readEnded && awaiting == 0 && outbox.isEmpty && !closed && !framer.hasLine { close() }
    }
}
