/// The sockets of `listen` directives and their clients: opened, changed and closed as the
/// rules change, clients accepted up to `ChannelSet.clientLimit`, refusals counted and logged.
final class SocketChannels {
    private unowned let channels: ChannelSet
    private let nodes: ChannelNodes
    private var listeners: [Bytes: ListeningChannel] = [:]
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private var lastRefusalLog: [String: MonotonicInstant] = [:]

    init(channels: ChannelSet, nodes: ChannelNodes) {
        self.channels = channels
        self.nodes = nodes
    }

    var listenerCount: Int { listeners.count }
    var clientCount: Int { connections.count }
    var readers: [ChannelReader] { Array(listeners.values) as [ChannelReader] + Array(connections.values) }

    /// Whether the socket `name` keeps its messages on disk until they are settled.
    func isDurable(_ name: Bytes) -> Bool {
        listeners[name]?.directive.durable ?? false
    }

    /// Follows new rules: sockets opened or closed, a changed type reopened, a changed
    /// `mode=` applied to the node that was bound.
    func apply(_ rules: RuleSet) {
        var wanted: [Bytes: ListenDirective] = [:]
        for directive in rules.listens { wanted[directive.name] = directive }
        for (name, listener) in listeners {
            guard let directive = wanted[name] else {
                closeListener(name)
                continue
            }
            if directive.type != listener.directive.type {
                closeListener(name)
            } else {
                if directive.mode != listener.directive.mode {
                    // The node that was bound, wherever it is: never what stands at the name now.
                    do {
                        try listener.socket.changeMode(directive.mode)
                    } catch {
                        channels.log.record("error", name: name, [("name", name), ("line", directive.line), ("err", "\(error)")])
                    }
                }
                listener.directive = directive
            }
        }
        for directive in rules.listens where listeners[directive.name] == nil {
            openListener(directive)
        }
    }

    /// Someone removed our socket: clients can no longer reach it. A reload makes it anew.
    func gone(_ name: Bytes) {
        guard let listener = listeners.removeValue(forKey: name) else { return }
        listener.close()
    }

    /// The daemon stops: listening sockets close and are removed, clients are read no more.
    func stop() {
        for name in Array(listeners.keys) { closeListener(name) }
        for connection in Array(connections.values) { connection.stopReading() }
    }

    /// Ends every client, replies owed or not.
    func closeClients() {
        for connection in Array(connections.values) { connection.close() }
    }

    private func openListener(_ directive: ListenDirective) {
        let kind: SocketKind
        switch directive.type {
        case .stream: kind = .stream
        case .seqpacket: kind = .seqpacket
        case .dgram: kind = .datagram
        }
        do {
            let socket = try nodes.bindSocket(directive, kind: kind)
            let listener: ListeningChannel = kind == .datagram
                ? DatagramChannel(directive: directive, socket: socket, channels: channels)
                : SocketListener(directive: directive, socket: socket, channels: channels)
            listeners[directive.name] = listener
            listener.refreshInterest()
        } catch {
            channels.log.record("error", name: directive.name, [("name", directive.name), ("line", directive.line), ("err", "\(error)")])
        }
    }

    private func closeListener(_ name: Bytes) {
        guard let listener = listeners.removeValue(forKey: name) else { return }
        nodes.removeSocket(name, listener.socket)
        listener.close()
    }

    // MARK: - Clients

    /// A client `listener` accepted: read from now on, or told `error` when there are too many.
    func accepted(_ descriptor: FileDescriptor, on listener: SocketListener) {
        guard connections.count < ChannelSet.clientLimit, !channels.isStopping else {
            let refusal = ChannelReply.refused("too many clients")
            _ = try? refusal.withUnsafeBytes { try UnixSocket.send(descriptor, $0) }
            descriptor.close()
            refuse(.client, on: listener.directive.name, reason: "too many clients (\(ChannelSet.clientLimit))")
            return
        }
        guard let credentials = try? UnixSocket.peerCredentials(descriptor) else {
            descriptor.close()
            return
        }
        let peer = Peer(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        let framing: ClientConnection.Framing = listener.directive.type == .stream ? .lines : .packets
        let connection = ClientConnection(descriptor: descriptor, listenerName: listener.directive.name, peer: peer,
                                          framing: framing, channels: channels)
        connections[ObjectIdentifier(connection)] = connection
        connection.refreshInterest()
    }

    func connectionClosed(_ connection: ClientConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    enum Refusal: String {
        case client
    }

    /// Counts a refusal and logs it, at most once a second per kind and channel, so a flood
    /// of refusals does not become a flood of log lines.
    func refuse(_ kind: Refusal, on name: Bytes, reason: String) {
        switch kind {
        case .client: channels.counters.clientsRefused += 1
        }
        let key = kind.rawValue + ":" + text(name)
        let now = MonotonicInstant.now()
        if let last = lastRefusalLog[key], now.duration(since: last) < .seconds(1) { return }
        lastRefusalLog[key] = now
        channels.log.record("error", name: name, [("name", name), ("err", "refused a \(kind.rawValue): \(reason)"),
                                                  ("refused_total", channels.counters.clientsRefused)])
    }
}
