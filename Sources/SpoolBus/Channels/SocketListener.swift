/// A socket the daemon made in the spool for a `listen` directive.
protocol ListeningChannel: ChannelReader {
    var directive: ListenDirective { get }
}

/// Creating the socket file of a `listen` directive (or the control socket).
enum SocketFile {
    /// Binds a new socket of `kind` at `path` with `mode`. A socket file nobody listens on (left
    /// by a crash) is replaced; a live socket, or anything that is not a socket, is an error.
    /// `removing` is called before a stale file is unlinked, `creating` before the bind.
    static func create(
        _ kind: SocketKind, at path: Bytes, mode: UInt32, removing: () -> Void = {}, creating: () -> Void = {}
    ) throws -> FileDescriptor {
        if let status = try FileSystem.statusIfPresent(path) {
            guard status.type == .socket else {
                throw SpoolBusError("cannot listen on '\(text(path))': a \(status.type?.rawValue ?? "node") is there")
            }
            if UnixSocket.isLive(at: path) {
                throw SpoolBusError("cannot listen on '\(text(path))': a live socket of uid \(status.owner) is there")
            }
            removing()
            try FileSystem.removeIfPresent(path)
        }
        try FileSystem.makeDirectories(path.deletingLastPathComponent)
        let fd = try UnixSocket.open(kind, nonBlocking: true)
        do {
            creating()
            try UnixSocket.bind(fd, to: path)
            // bind applies the umask; the directive's mode is what the user asked for.
            try FileSystem.changeMode(path, mode)
            switch kind {
            case .stream, .seqpacket: try UnixSocket.listen(fd, backlog: UnixSocket.maximumBacklog)
            case .datagram: try UnixSocket.enableCredentialPassing(fd)
            }
        } catch {
            fd.close()
            throw error
        }
        return fd
    }
}

/// A stream or seqpacket socket of a `listen` directive: accepts clients without limit other
/// than `ChannelSet.clientLimit` and the descriptors the process may open.
final class SocketListener: ListeningChannel {
    let directive: ListenDirective
    private unowned let channels: ChannelSet
    private var accepting: LoopInterest!
    /// Out of descriptors: accepting pauses a moment rather than spin on EMFILE.
    private var coolingDown = false
    private var closed = false

    /// Connections taken per wake-up, so a flood of clients does not starve the rest of the loop.
    static let acceptBatch = 64

    init(directive: ListenDirective, descriptor: FileDescriptor, channels: ChannelSet) {
        self.directive = directive
        self.channels = channels
        accepting = LoopInterest(loop: channels.loop, descriptor: descriptor) { [unowned self] _ in self.acceptClients() }
    }

    func refreshInterest() {
        guard !closed else { return }
        try? accepting.set(channels.isPaused || coolingDown ? [] : .readable)
    }

    func resume() { refreshInterest() }

    func close() {
        guard !closed else { return }
        closed = true
        accepting.close()
    }

    private func acceptClients() {
        for _ in 0..<Self.acceptBatch {
            let client: FileDescriptor?
            do {
                client = try UnixSocket.accept(accepting.descriptor)
            } catch let error as SystemError where error.isOutOfResources {
                channels.refuse(.client, on: directive.name, reason: "\(error)")
                coolDown()
                return
            } catch {
                // ECONNABORTED and the like: that client is gone, others may wait.
                continue
            }
            guard let client else { return }
            channels.accepted(client, on: self)
        }
    }

    private func coolDown() {
        coolingDown = true
        refreshInterest()
        channels.loop.schedule(after: .milliseconds(250)) { [weak self] in
            self?.coolingDown = false
            self?.refreshInterest()
        }
    }
}

/// A datagram socket of a `listen` directive: each datagram is a message, with its sender's
/// credentials (SO_PASSCRED); a sender that bound an address gets its reply as a datagram.
final class DatagramChannel: ListeningChannel, MessageSource {
    let directive: ListenDirective
    private unowned let channels: ChannelSet
    private var receiving: LoopInterest!
    let unsettled = UnsettledCount()
    private var closed = false
    var isClosed: Bool { closed }

    /// Datagrams taken per wake-up.
    static let receiveBatch = 64

    init(directive: ListenDirective, descriptor: FileDescriptor, channels: ChannelSet) {
        self.directive = directive
        self.channels = channels
        receiving = LoopInterest(loop: channels.loop, descriptor: descriptor) { [unowned self] _ in self.receive() }
    }

    func refreshInterest() {
        guard !closed else { return }
        try? receiving.set(channels.isPaused || !unsettled.hasRoom ? [] : .readable)
    }

    func resume() { refreshInterest() }

    func close() {
        guard !closed else { return }
        closed = true
        receiving.close()
    }

    private func receive() {
        let buffer = UnsafeMutableRawBufferPointer(rebasing: channels.scratch[..<min(channels.scratch.count, channels.maxLine + 1)])
        for _ in 0..<Self.receiveBatch where !channels.isPaused && unsettled.hasRoom && !closed {
            let packet: ReceivedPacket?
            do {
                packet = try UnixSocket.receivePacket(receiving.descriptor, into: buffer)
            } catch {
                channels.log.record("error", name: directive.name, [("name", directive.name), ("err", "\(error)")])
                return
            }
            guard let packet else { return }
            let peer = packet.credentials.map { Peer(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
            let origin = ChannelOrigin(name: directive.name, event: .socket, type: .socket, peer: peer)
            let reply = packet.sender.isBound ? replier(to: packet.sender) : nil
            if packet.length > channels.maxLine {
                channels.refuseTooLong(packet.length, from: origin, reply: reply)
            } else {
                let body = Bytes(UnsafeRawBufferPointer(rebasing: buffer[..<packet.count]))
                channels.submit(body, from: origin, by: self, reply: reply)
            }
        }
        refreshInterest()
    }

    /// Replies go back as one datagram each; one that cannot be sent at once (the sender's
    /// queue is full, or it is gone) is dropped and counted, never waited for.
    private func replier(to sender: SocketAddress) -> (Bytes) -> Void {
        { [weak self] reply in
            guard let self, !self.closed else { return }
            let sent = try? reply.withUnsafeBytes { try UnixSocket.send(self.receiving.descriptor, $0, to: sender) }
            if sent == nil { self.channels.counters.repliesDropped += 1 }
        }
    }
}
