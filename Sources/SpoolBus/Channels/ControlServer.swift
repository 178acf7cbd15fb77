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
    /// Control clients at once; more are told `error` and closed.
    static let clientLimit = 256

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
            guard clients.count < Self.clientLimit else {
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

    private func statusLines() -> [Bytes] {
        let dispatcher = channels.dispatcher
        let counters = dispatcher.counters
        let uptime = MonotonicInstant.now().duration(since: channels.started)
        let facts: [(String, any LogValue)] = [
            ("pid", SystemInfo.processID),
            ("version", spoolBusVersion),
            ("spool", channels.layout.root),
            ("rules", channels.rulesPath),
            ("rules_loaded", channels.ruleCount),
            ("uptime", formatDuration(.seconds(uptime.nanoseconds / 1_000_000_000))),
            ("uptime_seconds", Int(uptime.nanoseconds / 1_000_000_000)),
            ("received", counters.received),
            ("ok", counters.ok),
            ("failed", counters.failed),
            ("dead", counters.dead),
            ("nomatch", counters.nomatch),
            ("running", dispatcher.running),
            ("queued", dispatcher.queued),
            ("retrying", dispatcher.waitingForRetry),
            ("fifos", channels.fifoCount),
            ("sockets", channels.listenerCount),
            ("clients", channels.clientCount),
            ("watchers", watcherCount),
            ("paused", channels.isPaused ? "yes" : "no"),
            ("pauses", channels.counters.pauses),
            ("throttles", channels.counters.throttles),
            ("too_long", channels.counters.linesTooLong),
            ("clients_refused", channels.counters.clientsRefused),
            ("replies_dropped", channels.counters.repliesDropped),
            ("watchers_dropped", channels.counters.watchersDropped),
            ("descriptors_refused", channels.counters.descriptorsRefused),
            ("queues", channels.queueCount),
            ("signals", channels.signals.receivedTotal),
            ("signals_by_name", channels.signals.receivedByName),
            ("signals_ignored", channels.signals.ignored),
            ("signals_dropped", channels.signals.dropped),
        ] + channels.busFacts()
        return facts.map { key, value in
            var line = key.bytes + [UInt8(ascii: "=")]
            LogEscaping.append(value.logBytes, to: &line)
            return line + [UInt8(ascii: "\n")]
        }
    }

    private func deadLetterLines() -> [Bytes] {
        do {
            return try ClaimStore(layout: channels.layout).deadLetterReports(now: WallClock.nanoseconds()).map { letter in
                ControlWords.line(["letter".bytes, letter.id, letter.name, "\(letter.ageSeconds)".bytes, letter.reason, letter.details])
            }
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
    }

    /// The dead letters a `retry` or `drop` request names: `-- NAME…` (every word after `--` a
    /// name, so a letter named `--all` is only that letter), `--all` (nil: every letter), or, as
    /// older clients wrote it, bare `NAME…` without `--all` among them; `.none` when it is none
    /// of these.
    static func deadLetterNames(_ words: [Bytes]) -> [Bytes]?? {
        if words.first == "--".bytes { return words.count > 1 ? .some(Array(words.dropFirst())) : .none }
        if words == ["--all".bytes] { return .some(nil) }
        if words.isEmpty || words.contains("--all".bytes) { return .none }
        return .some(words)
    }

    /// Removes dead letters for good; each removal is a `drop` line in the log.
    private func drop(_ words: [Bytes]) -> [Bytes] {
        guard let names = Self.deadLetterNames(words) else { return [ChannelReply.refused("drop takes -- NAME… or --all")] }
        let outcomes: [DropOutcome]
        do {
            outcomes = try ClaimStore(layout: channels.layout).dropDeadLetters(named: names)
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
        return outcomes.map { outcome in
            switch outcome {
            case .dropped(let id, let name):
                channels.log.record("drop", name: name, [("id", id), ("name", name)])
                return ControlWords.line(["dropped".bytes, id, name])
            case .missing(let name):
                return ControlWords.line(["missing".bytes, name])
            case .failed(let id, let name, let reason):
                return ControlWords.line(["failed".bytes, id, name, reason.bytes])
            }
        }
    }

    /// Puts dead letters back into the spool; the watcher sees them arrive like any message.
    private func retry(_ words: [Bytes]) -> [Bytes] {
        let store = ClaimStore(layout: channels.layout)
        guard let selected = Self.deadLetterNames(words) else { return [ChannelReply.refused("retry takes -- NAME… or --all")] }
        let all = selected == nil
        let names = selected ?? []
        let letters: [ClaimStore.DeadLetter]
        do {
            letters = try store.deadLetters()
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
        var lines: [Bytes] = []
        if !all {
            for name in names where !letters.contains(where: { $0.name == name }) {
                lines.append(ControlWords.line(["missing".bytes, name]))
            }
        }
        for letter in letters where all || names.contains(letter.name) {
            do {
                if let origin = store.lineOrigin(of: letter) {
                    channels.lines.recover(try store.requeueLine(letter), from: origin)
                } else {
                    try store.resurrect(letter)
                }
                lines.append(ControlWords.line(["retried".bytes, letter.id, letter.name]))
            } catch let error as SystemError where error.errno == SystemError.exists {
                lines.append(ControlWords.line(["failed".bytes, letter.id, letter.name, "a file of that name is in the spool already".bytes]))
            } catch {
                lines.append(ControlWords.line(["failed".bytes, letter.id, letter.name, "\(error)".bytes]))
            }
        }
        return lines
    }
}

/// One client of the control socket.
final class ControlConnection {
    /// Bytes a `watch` client may lag behind before it is dropped.
    static let watchLagLimit = 1024 * 1024

    private unowned let server: ControlServer
    private var io: LoopInterest!
    private var framer = LineFramer(maxLine: 65536)
    private var outbox = Bytes()
    private var outboxOffset = 0
    private var subscription: Int?
    private var answered = false
    private var closing = false
    private var closed = false

    init(descriptor: FileDescriptor, server: ControlServer) {
        self.server = server
        io = LoopInterest(loop: server.channels.loop, descriptor: descriptor) { [unowned self] readiness in self.ready(readiness) }
    }

    var isWatching: Bool { subscription != nil }

    /// Who connected (SO_PEERCRED); nil when the kernel cannot say.
    var peerUserID: UInt32? { try? UnixSocket.peerCredentials(io.descriptor).uid }

    func start() {
        try? io.set(.readable)
    }

    func close() {
        guard !closed else { return }
        closed = true
        if let subscription { server.channels.log.unsubscribe(subscription) }
        subscription = nil
        io.close()
        server.clientClosed(self)
    }

    /// Answers and ends the conversation once the answer is sent.
    func finish(with lines: [Bytes]) {
        answered = true
        closing = true
        send(lines.flatMap { $0 })
    }

    /// Lines every watcher gets, whatever its pattern: why the stream is about to end.
    static let alwaysWatched: Set<String> = ["stopping", "stop"]

    /// Streams the log lines of messages matching `pattern` (all lines when nil).
    func watch(_ pattern: Glob?) {
        answered = true
        send(ControlWords.line(["watching".bytes, pattern?.source ?? "**".bytes]))
        subscription = server.channels.log.subscribe { [weak self] record, line in
            guard let self, !self.closed else { return }
            if let pattern, !Self.alwaysWatched.contains(record.verb) {
                guard let name = record.name, pattern.matches(name) else { return }
            }
            self.send(line)
        }
    }

    private func ready(_ readiness: EventLoop.Readiness) {
        if readiness.contains(.writable) { flush() }
        guard !closed, readiness.contains(.readable) || readiness.contains(.hangUp) || readiness.contains(.error) else { return }
        let count: Int?
        do {
            count = try io.descriptor.read(into: server.channels.scratch)
        } catch {
            return close()
        }
        guard let count else { return }
        if count == 0 {
            // The client went, or half-closed: an answer still being sent goes out first.
            if closing && !outbox.isEmpty {
                try? io.set(.writable)
                return
            }
            return close()
        }
        guard !answered else { return }  // one request per connection; the rest is ignored
        framer.append(UnsafeRawBufferPointer(rebasing: server.channels.scratch[..<count]))
        switch framer.nextLine() {
        case .line(let line)?:
            guard let words = ControlWords.split(line) else {
                return finish(with: [ChannelReply.refused("unterminated quote or bad escape in request")])
            }
            server.handle(words, from: self)
        case .tooLong?:
            finish(with: [ChannelReply.refused("request too long")])
        case nil:
            break
        }
    }

    private func send(_ bytes: Bytes) {
        guard !closed else { return }
        if outbox.count - outboxOffset + bytes.count > Self.watchLagLimit && isWatching {
            // Dropped rather than let one slow reader hold memory or slow the bus; logged
            // after the current log line is done with.
            server.channels.counters.watchersDropped += 1
            let channels = server.channels
            close()
            channels.loop.schedule(after: .zero) {
                channels.log.record("error", [("err", "dropped a watch client that did not keep up")])
            }
            return
        }
        outbox += bytes
        flush()
    }

    private func flush() {
        while outboxOffset < outbox.count {
            let sent: Int?
            do {
                sent = try outbox.withUnsafeBytes { raw in
                    try UnixSocket.send(io.descriptor, UnsafeRawBufferPointer(rebasing: raw[outboxOffset...]))
                }
            } catch {
                return close()
            }
            guard let sent else {
                try? io.set(isWatching || !closing ? [.readable, .writable] : .writable)
                return
            }
            outboxOffset += sent
        }
        outbox.removeAll(keepingCapacity: outbox.capacity <= 65536)
        outboxOffset = 0
        if closing {
            UnixSocket.shutdownWriting(io.descriptor)
            close()
            return
        }
        try? io.set(.readable)
    }
}
