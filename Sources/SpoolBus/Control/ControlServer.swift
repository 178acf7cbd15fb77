/// The daemon's control socket, `SPOOL/.spoolbus/control.sock` (mode 0600 unless
/// `--control-mode`): how `spoolbus status`, `watch` and `retry` talk to a running daemon.
///
/// One request per connection, one line of words (see `ControlWords`):
///
///     status              key=value lines, then end of file
///     watch [PATTERN]     `watching PATTERN`, then dispatch-log lines of matching messages as
///                         they happen, until the client goes
///     retry -- NAME… | retry --all
///                         one line per dead letter: `retried ID NAME`, `missing NAME` or
///                         `failed ID NAME REASON`, then end of file
///     dead                one line per dead letter: `letter ID NAME AGE_SECONDS REASON DETAILS`,
///                         then end of file
///     drop -- NAME… | drop --all
///                         one line per dead letter: `dropped ID NAME`, `missing NAME` or
///                         `failed ID NAME REASON`, then end of file; only for the daemon's
///                         user and root
///
/// A request that cannot be served is answered `error MESSAGE`. Control clients are never
/// paused by back-pressure: `status` answers while the bus is saturated.
final class ControlServer {
    /// Control clients at once; more are told `error` and closed, unless root or the daemon's
    /// user asks: with `--control-mode 0666` anyone could otherwise hold every place with idle
    /// connections and lock the administrator out of `status`, `retry` and `drop`.
    static let clientLimit = 256
    /// Bytes of `watch` patterns that clients other than root and the daemon's user may hold
    /// at once, all together. Every log line about a message is matched against every
    /// watcher's pattern, on the event loop, in up to (pattern length × name length) steps: with
    /// `--control-mode 0666`, 256 watchers of 64 KiB patterns held a root daemon for minutes
    /// per message. Root and the daemon's user are trusted with any pattern.
    static let othersWatchPatternBudget = 1024

    unowned let channels: ChannelSet
    private let socket: BoundSocket
    private var accepting: LoopInterest!
    private var clients: [ObjectIdentifier: ControlConnection] = [:]
    private var closed = false

    init(channels: ChannelSet, mode: UInt32) throws {
        self.channels = channels
        // The spool lock is ours, so a control socket already there is a leftover, replaced.
        let layout = channels.layout
        socket = try SocketFile.create(.stream, named: SpoolLayout.controlSocketName, in: layout.state, shown: layout.controlSocket,
                                       staging: layout.temporary, as: channels.nodes.stagingName("socket"), mode: mode)
        accepting = LoopInterest(loop: channels.loop, descriptor: socket.descriptor) { [unowned self] _ in self.acceptClients() }
        try accepting.set(.readable)
    }

    var watcherCount: Int { clients.values.filter(\.isWatching).count }

    func close() {
        guard !closed else { return }
        closed = true
        socket.unlinkIfStillThere(SpoolLayout.controlSocketName, in: channels.layout.state)
        socket.releaseNode()
        accepting.close()
        for client in Array(clients.values) { client.close() }
    }

    func clientClosed(_ client: ControlConnection) {
        clients[ObjectIdentifier(client)] = nil
    }

    private func acceptClients() {
        for _ in 0..<16 {
            guard let fd = (try? UnixSocket.accept(accepting.descriptor)) ?? nil else { return }
            guard clients.count < Self.clientLimit || isTrusted(fd) else {
                _ = try? ChannelReply.refused("too many control clients").withUnsafeBytes { try UnixSocket.send(fd, $0) }
                fd.close()
                continue
            }
            let client = ControlConnection(descriptor: fd, server: self)
            clients[ObjectIdentifier(client)] = client
            client.start()
        }
    }

    // MARK: - Requests

    /// Root, or the daemon's own user (SO_PEERCRED).
    private func isTrusted(_ client: ControlConnection) -> Bool {
        guard let uid = client.peerUserID else { return false }
        return Self.isTrusted(uid)
    }

    private func isTrusted(_ connection: FileDescriptor) -> Bool {
        guard let uid = try? UnixSocket.peerCredentials(connection).uid else { return false }
        return Self.isTrusted(uid)
    }

    private static func isTrusted(_ uid: UInt32) -> Bool { uid == 0 || uid == SystemInfo.effectiveUserID }

    func handle(_ words: [Bytes], from client: ControlConnection) {
        guard let verb = words.first else { return client.finish(with: [ChannelReply.refused("empty request")]) }
        switch text(verb) {
        case "status":
            client.finish(with: statusLines())
        case "watch":
            guard words.count <= 2 else { return client.finish(with: [ChannelReply.refused("watch takes at most one PATTERN")]) }
            let pattern: Glob?
            do {
                pattern = try words.count == 2 ? Glob(words[1]) : nil
            } catch {
                return client.finish(with: [ChannelReply.refused("bad pattern: \(error)")])
            }
            if let pattern, !isTrusted(client) {
                let held = clients.values.filter { $0 !== client && !isTrusted($0) }.reduce(0) { $0 + ($1.watchPattern?.source.count ?? 0) }
                guard held + pattern.source.count <= Self.othersWatchPatternBudget else {
                    return client.finish(with: [ChannelReply.refused(
                        "watch patterns of users other than root and uid \(SystemInfo.effectiveUserID) hold at most "
                            + "\(Self.othersWatchPatternBudget) bytes together; \(held) are held: watch a shorter PATTERN")])
                }
            }
            client.watch(pattern)
        case "retry":
            client.finish(with: retry(Array(words.dropFirst())))
        case "dead":
            client.finish(with: deadLetterLines())
        case "drop":
            // Dropping destroys messages: only for the daemon's own user and root, even when
            // --control-mode lets others ask for status or watch.
            let euid = SystemInfo.effectiveUserID
            guard let uid = client.peerUserID, uid == euid || uid == 0 else {
                return client.finish(with: [ChannelReply.refused("drop is only for the daemon's user (uid \(euid)) and root")])
            }
            client.finish(with: drop(Array(words.dropFirst())))
        default:
            client.finish(with: [ChannelReply.refused("unknown request '\(text(verb))'; try status, watch [PATTERN], retry -- NAME…|--all, dead, drop -- NAME…|--all")])
        }
    }
}
