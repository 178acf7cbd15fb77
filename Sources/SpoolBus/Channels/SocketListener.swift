/// A socket the daemon made in the spool for a `listen` directive.
protocol ListeningChannel: ChannelReader {
    /// The directive as last applied (a reload may change its `mode=`).
    var directive: ListenDirective { get set }
    var socket: BoundSocket { get }
}

/// A socket file the daemon bound, with an O_PATH descriptor of that very node: a new `mode=`
/// is applied through it, and the name is unlinked only while it still is this node, so neither
/// ever reaches a symlink or a file someone put at the name since.
final class BoundSocket {
    /// The socket itself: listening, or receiving datagrams.
    let descriptor: FileDescriptor
    /// The node in the file system that the socket was bound to.
    let node: FileDescriptor
    /// What the socket is called, for messages.
    let path: Bytes

    init(descriptor: FileDescriptor, node: FileDescriptor, path: Bytes) {
        self.descriptor = descriptor
        self.node = node
        self.path = path
    }

    /// chmod of the bound node, wherever it is now.
    func changeMode(_ mode: UInt32) throws {
        try node.changeModeThroughProc(mode, path: path)
    }

    /// Unlinks `name` in `folder` if it is still the bound node; returns whether it did.
    @discardableResult
    func unlinkIfStillThere(_ name: Bytes, in folder: Directory) -> Bool {
        guard let bound = try? node.status(), let there = try? folder.statusIfPresent(name),
              there.type == .socket, there.inode == bound.inode, there.device == bound.device else { return false }
        return (try? folder.unlink(name)) != nil
    }

    /// Closes the node's descriptor; the socket's own descriptor belongs to its channel.
    func releaseNode() { node.close() }
}

/// Creating the socket file of a `listen` directive (or the control socket).
enum SocketFile {
    /// Binds a new socket of `kind` as `name` beneath `folder` (`path` in messages), with exactly
    /// `mode`. A socket file nobody listens on (left by a crash) is replaced; a live socket, or
    /// anything that is not a socket, is an error. The socket is bound (through
    /// `staging.procPath`), given its mode and set listening as `stagedName` in `staging` (the
    /// daemon's own `tmp/`, where no one else can put anything), then renamed to `name` without
    /// replacing what may have appeared there meanwhile.
    /// `removing` is called before a stale socket is unlinked, `creating` before the rename.
    static func create(
        _ kind: SocketKind, named name: Bytes, in folder: Directory, shown path: Bytes, staging: Directory, as stagedName: Bytes,
        mode: UInt32, removing: () -> Void = {}, creating: () -> Void = {}
    ) throws -> BoundSocket {
        let parentName = name.deletingLastPathComponent
        if !parentName.isEmpty { try folder.makeDirectories(parentName) }
        return try folder.withParent(of: name) { parent, last in
            if let status = try parent.statusIfPresent(last) {
                guard status.type == .socket else {
                    throw SpoolBusError("cannot listen on '\(text(path))': a \(status.type?.rawValue ?? "node") is there")
                }
                if UnixSocket.isLive(at: parent.procPath(last)) {
                    throw SpoolBusError("cannot listen on '\(text(path))': a live socket of uid \(status.owner) is there")
                }
                removing()
                try parent.removeIfPresent(last)
            }
            try staging.removeIfPresent(stagedName)
            let fd = try UnixSocket.open(kind, nonBlocking: true)
            var node: FileDescriptor?
            do {
                try UnixSocket.bind(fd, to: staging.procPath(stagedName))
                let opened = try staging.openPath(stagedName)
                node = opened
                guard try opened.status().type == .socket else {
                    throw SpoolBusError("cannot listen on '\(text(path))': the socket just bound is not there")
                }
                // bind applies the umask; the directive's mode is what the user asked for.
                try opened.changeModeThroughProc(mode, path: path)
                switch kind {
                case .stream, .seqpacket: try UnixSocket.listen(fd, backlog: UnixSocket.maximumBacklog)
                case .datagram: try UnixSocket.enableCredentialPassing(fd)
                }
                creating()
                try staging.rename(stagedName, to: parent, as: last, replacing: false)
            } catch {
                try? staging.removeIfPresent(stagedName)
                node?.close()
                fd.close()
                throw error
            }
            return BoundSocket(descriptor: fd, node: node!, path: path)
        }
    }
}

/// A stream or seqpacket socket of a `listen` directive: accepts clients without limit other
/// than `ChannelSet.clientLimit` and the descriptors the process may open.
final class SocketListener: ListeningChannel {
    var directive: ListenDirective
    let socket: BoundSocket
    private unowned let channels: ChannelSet
    private var accepting: LoopInterest!
    /// Out of descriptors: accepting pauses a moment rather than spin on EMFILE.
    private var coolingDown = false
    private var closed = false

    /// Connections taken per wake-up, so a flood of clients does not starve the rest of the loop.
    static let acceptBatch = 64

    init(directive: ListenDirective, socket: BoundSocket, channels: ChannelSet) {
        self.directive = directive
        self.socket = socket
        self.channels = channels
        accepting = LoopInterest(loop: channels.loop, descriptor: socket.descriptor) { [unowned self] _ in self.acceptClients() }
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
        socket.releaseNode()
    }

    private func acceptClients() {
        for _ in 0..<Self.acceptBatch {
            let client: FileDescriptor?
            do {
                client = try UnixSocket.accept(accepting.descriptor)
            } catch let error as SystemError where error.isTemporaryShortage {
                channels.sockets.refuse(.client, on: directive.name, reason: "\(error)")
                coolDown()
                return
            } catch {
                // ECONNABORTED and the like: that client is gone, others may wait.
                continue
            }
            guard let client else { return }
            channels.sockets.accepted(client, on: self)
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
    var directive: ListenDirective
    let socket: BoundSocket
    private unowned let channels: ChannelSet
    private var receiving: LoopInterest!
    let unsettled = UnsettledCount()
    private var closed = false
    var isClosed: Bool { closed }

    /// Datagrams taken per wake-up.
    static let receiveBatch = 64

    init(directive: ListenDirective, socket: BoundSocket, channels: ChannelSet) {
        self.directive = directive
        self.socket = socket
        self.channels = channels
        receiving = LoopInterest(loop: channels.loop, descriptor: socket.descriptor) { [unowned self] _ in self.receive() }
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
        socket.releaseNode()
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
            let reply = packet.sender.isBound ? replier(to: packet.sender, uid: packet.credentials?.uid) : nil
            var extras = MessageExtras()
            switch packet.control.passedDescriptor() {
            case .success(let passed): extras.descriptor = passed
            case .failure(let refusal):
                channels.lines.refuse(from: origin, reason: refusal.reason, reply: reply)
                continue
            }
            if packet.length > channels.maxLine {
                channels.lines.refuseTooLong(packet.length, from: origin, reply: reply, extras: extras)
            } else {
                let body = Bytes(UnsafeRawBufferPointer(rebasing: buffer[..<packet.count]))
                channels.lines.submit(body, from: origin, by: self, reply: reply, extras: extras)
            }
        }
        refreshInterest()
    }

    /// Replies go back as one datagram each; one that cannot be sent at once (the sender's
    /// queue is full, or it is gone) is dropped and counted, never waited for. One refused
    /// because the sender's address is no longer its own socket is also said in an `error` line.
    private func replier(to sender: SocketAddress, uid: UInt32?) -> (Bytes) -> Void {
        { [weak self] reply in
            guard let self, !self.closed else { return }
            do {
                let sent = try reply.withUnsafeBytes { try self.send($0, to: sender, uid: uid) }
                if sent == nil { self.channels.counters.repliesDropped += 1 }
            } catch {
                self.channels.counters.repliesDropped += 1
                if error is SpoolBusError {
                    self.channels.log.record("error", name: self.directive.name, [("name", self.directive.name), ("err", "\(error)")])
                }
            }
        }
    }

    /// Sends to an abstract address as it is. A path the sender bound is resolved again when
    /// the reply goes, by a daemon that may be root: it could be a symlink by now, or another
    /// socket, and a reply sent by path would reach a socket the sender could never write to,
    /// with the daemon's credentials. So the path is opened without following any symlink,
    /// must be a socket owned by the sender's uid (SCM_CREDENTIALS), and the reply goes to that
    /// very node.
    private func send(_ bytes: UnsafeRawBufferPointer, to sender: SocketAddress, uid: UInt32?) throws -> Int? {
        guard let path = sender.path else { return try UnixSocket.send(receiving.descriptor, bytes, to: sender) }
        let node: FileDescriptor
        do {
            node = try UnixSocket.openNode(path)
        } catch let error as SystemError where error.errno == SystemError.symlinkRefused {
            throw SpoolBusError("reply not sent to '\(text(path))': a symlink is there or on the way")
        }
        defer { node.close() }
        let status = try node.status()
        guard status.type == .socket, let uid, status.owner == uid else {
            throw SpoolBusError("reply not sent to '\(text(path))': not a socket of the sender's uid \(uid.map(String.init) ?? "?")"
                                + " (a \(status.type?.rawValue ?? "node") of uid \(status.owner))")
        }
        return try UnixSocket.send(receiving.descriptor, bytes, toNode: node)
    }
}
