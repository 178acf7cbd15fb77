/// Where a FIFO line or socket message came from: what the rules see and handlers get.
struct ChannelOrigin {
    /// The FIFO's or the listening socket's name in the spool.
    let name: Bytes
    let event: EventKind
    let type: NodeType
    let peer: Peer?
}

/// Something that reads messages for the bus and can be paused when the bus is saturated.
protocol ChannelReader: AnyObject {
    /// Watches its descriptor for what its state allows now (nothing while paused).
    func refreshInterest()
    /// Delivers what it buffered while paused, then reads again.
    func resume()
    func close()
}

/// What the channels refused or dropped, for `status`.
struct ChannelCounters {
    var linesTooLong = 0
    var clientsRefused = 0
    var repliesDropped = 0
    var watchersDropped = 0
    /// Times every channel stopped being read because handlers were saturated.
    var pauses = 0
    /// Times one channel stopped being read because it had too many messages unsettled.
    var throttles = 0
}

/// The FIFOs and sockets of the bus: opens and closes them as the spool and the rules change,
/// turns what they read into messages for the dispatcher, sends replies back, and stops reading
/// all of them while the dispatcher is saturated so that writers feel the back-pressure in the
/// kernel instead of the daemon queueing without bound.
final class ChannelSet {
    /// Dispatcher load (jobs queued, running or waiting to retry) past which channels pause.
    static let loadLimit = FileAdmission.limit
    /// Bytes of channel messages not yet settled past which channels pause.
    static let inFlightByteLimit = 16 * 1024 * 1024
    /// Socket clients at once, all listeners together; more are told `error` and closed.
    static let clientLimit = 4096
    /// Messages of one FIFO, socket or client not yet settled, at most, before that one channel
    /// stops being read: a slow rule backs up its own writers, not every channel of the bus.
    static let unsettledLimitPerReader = 128

    let loop: EventLoop
    let log: DispatchLog
    /// The spool's folders, held by the bus: every FIFO and socket name is resolved beneath
    /// `layout.spool`, never through a symlink; the control socket is in `layout.state`. Sockets
    /// and FIFOs are made and given their mode in `layout.temporary`, where no one else can put
    /// anything, before they are renamed to their names.
    let layout: SpoolLayout
    /// Lines kept on disk: `durable` ones, dead letters, and those put back when the daemon stops.
    let claims: ClaimStore
    /// The bus's settling steps stopped by a shortage (ENOSPC), tried again with backoff: lines
    /// are finished and buried through it as file messages are.
    let settleRetry: SettleRetry
    let dispatcher: Dispatcher
    let maxLine: Int
    let rulesPath: Bytes
    /// One read buffer for every channel: the loop reads one descriptor at a time.
    let scratch: UnsafeMutableRawBufferPointer
    var counters = ChannelCounters()
    private(set) var rules: RuleSet
    private(set) var isPaused = false
    private(set) var isStopping = false
    let started = MonotonicInstant.now()

    /// Gives message ids (the bus's generator).
    var nextID: () -> Bytes = { [] }
    /// Facts of the bus's own for `status`: faults it is riding out (log lines lost, folders
    /// without a watch, messages waiting to be settled).
    var busFacts: () -> [(String, any LogValue)] = { [] }
    /// Tells the watcher that the next creation of a name is the daemon's own.
    var expectOwnCreation: (Bytes) -> Void = { _ in }

    private var fifos: [Bytes: FifoChannel] = [:]
    /// Names where a FIFO was seen, opened or not: their close-after-write events are not files.
    private var fifoNames: Set<Bytes> = []
    private var listeners: [Bytes: ListeningChannel] = [:]
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    private var ownRemovals: Set<Bytes> = []
    private var inFlightBytes = 0
    private var lastRefusalLog: [String: MonotonicInstant] = [:]
    private var control: ControlServer?
    private var stagedCount = 0

    init(loop: EventLoop, log: DispatchLog, layout: SpoolLayout, settleRetry: SettleRetry, dispatcher: Dispatcher,
         rules: RuleSet, maxLine: Int, rulesPath: Bytes) {
        self.loop = loop
        self.log = log
        self.layout = layout
        claims = ClaimStore(layout: layout)
        self.settleRetry = settleRetry
        self.dispatcher = dispatcher
        self.rules = rules
        self.maxLine = max(1, maxLine)
        self.rulesPath = rulesPath
        scratch = .allocate(byteCount: max(65536, self.maxLine + 1), alignment: 16)
    }

    deinit { scratch.deallocate() }

    // MARK: - Lifetime

    /// Opens the control socket; a failure is logged, the bus runs without it.
    func start(controlMode: UInt32) {
        DescriptorLimit.raise(upTo: 65536)
        do {
            control = try ControlServer(channels: self, mode: controlMode)
        } catch {
            log.record("error", [("name", ".spoolbus/control.sock"), ("err", "\(error)")])
        }
    }

    /// Stops taking messages (SIGTERM): the complete lines already read are handed to the bus
    /// (they are dispatched within the grace, or put back), then FIFOs and listening sockets
    /// close and sockets are removed; clients still owed replies get them as their handlers finish.
    func stop() {
        isStopping = true
        for fifo in fifos.values {
            fifo.deliverEverything()
            fifo.close()
        }
        fifos.removeAll()
        for name in Array(listeners.keys) { closeListener(name) }
        for connection in Array(connections.values) { connection.stopReading() }
    }

    /// Ends everything, the control socket last.
    func close() {
        if !isStopping { stop() }
        for connection in Array(connections.values) { connection.close() }
        control?.close()
        control = nil
    }

    /// Takes new rules: opens and closes listening sockets and FIFOs to match.
    func apply(_ newRules: RuleSet) {
        rules = newRules
        guard !isStopping else { return }
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
                        log.record("error", name: name, [("name", name), ("line", directive.line), ("err", "\(error)")])
                    }
                }
                listener.directive = directive
            }
        }
        for directive in rules.listens where listeners[directive.name] == nil {
            openListener(directive)
        }
        for (name, fifo) in fifos where !rules.hasRule(for: name, event: .fifo) {
            fifo.close()
            fifos[name] = nil
        }
        makeFifos()
        for name in fifoNames.union(rules.fifos.map(\.name)) { fifoAppeared(name) }
    }

    /// A name in `layout.temporary` no other node of this daemon has (a leftover of a crashed
    /// one is removed before use).
    func stagingName(_ kind: String) -> Bytes {
        stagedCount += 1
        return "\(kind)-\(SystemInfo.processID)-\(stagedCount)".bytes
    }

    /// Makes the FIFOs of `mkfifo` directives that are missing: each is made and given its mode
    /// in `layout.temporary`, then renamed to its name without replacing anything, so the mode is never
    /// applied to whatever someone put at the name.
    private func makeFifos() {
        for directive in rules.fifos {
            do {
                if let status = try layout.spool.statusIfPresent(directive.name) {
                    if status.type != .fifo {
                        log.record("error", name: directive.name, [("name", directive.name), ("err", "mkfifo: something else is there")])
                    }
                    continue
                }
                try SpoolLayout.makeFolders(of: directive.name, in: layout.spool, shown: layout.root)
                let staged = stagingName("fifo")
                try layout.temporary.removeIfPresent(staged)
                try layout.temporary.makeFifo(staged, mode: directive.mode)
                expectOwnCreation(directive.name)
                do {
                    try layout.temporary.rename(staged, to: layout.spool, as: directive.name, replacing: false)
                } catch {
                    try? layout.temporary.removeIfPresent(staged)
                    throw error
                }
            } catch {
                log.record("error", name: directive.name, [("name", directive.name), ("err", "\(error)")])
            }
        }
    }

    // MARK: - Changes in the spool

    /// A FIFO appeared (made by someone, by a `mkfifo` directive, or found by a scan): it is
    /// read when a `fifo` rule can match its name.
    func fifoAppeared(_ name: Bytes) {
        guard SpoolLayout.isDispatchable(name) else { return }
        fifoNames.insert(name)
        guard !isStopping, fifos[name] == nil, rules.hasRule(for: name, event: .fifo) else { return }
        do {
            guard let fifo = try FifoChannel.open(name: name, in: layout.spool, channels: self) else { return }
            fifos[name] = fifo
            fifo.refreshInterest()
        } catch let error as SystemError where error.errno == SystemError.noEntry || error.errno == SystemError.tooManySymbolicLinks {
            fifoNames.remove(name)
        } catch {
            log.record("error", name: name, [("name", name), ("err", "\(error)")])
        }
    }

    /// Something was removed or moved out of the spool. Returns true when it was the daemon's
    /// own doing (a stale socket replaced), which is not news.
    func nodeGone(_ name: Bytes) -> Bool {
        if ownRemovals.remove(name) != nil { return true }
        let prefix = name + [UInt8(ascii: "/")]
        for (fifoName, fifo) in fifos where fifoName == name || fifoName.starts(with: prefix) {
            fifo.close()
            fifos[fifoName] = nil
        }
        if let listener = listeners[name] {
            // Someone removed our socket: clients can no longer reach it. A reload makes it anew.
            listener.close()
            listeners[name] = nil
        }
        return false
    }

    /// Whether a close-after-write event for `name` is about a FIFO (a writer closed it, or the
    /// daemon closed its own write end) rather than a file to dispatch.
    func isFifoEvent(_ name: Bytes) -> Bool {
        guard fifoNames.contains(name) else { return false }
        guard let status = try? layout.spool.statusIfPresent(name), let type = status.type else {
            fifoNames.remove(name)
            return fifos[name] == nil
        }
        if type == .fifo { return true }
        fifoNames.remove(name)
        if let stale = fifos.removeValue(forKey: name) { stale.close() }
        return false
    }

    func fifoFailed(_ fifo: FifoChannel) {
        fifo.close()
        if fifos[fifo.name] === fifo { fifos[fifo.name] = nil }
    }

    // MARK: - Messages

    /// Hands a line or packet to the rules it matches. `reply` (nil when nobody can be answered)
    /// is called once: at once with `ok ID` or `error …`, or when a `reply` rule's handler ends.
    /// A line of a `durable` channel is on disk before that. A message counts against `source`'s
    /// room for unsettled messages until all its rules are done; the source reads again once it
    /// has room.
    func submit(_ body: Bytes, from origin: ChannelOrigin, by source: MessageSource, reply: ((Bytes) -> Void)?) {
        let matching = rules.rules(for: origin.name, event: origin.event)
        guard !matching.isEmpty else {
            dispatcher.countNoMatch()
            log.record("nomatch", name: origin.name, [("name", origin.name), ("event", origin.event.rawValue), ("size", body.count)])
            reply?(ChannelReply.refused("no rule takes \(origin.event.rawValue) messages from \(text(origin.name))"))
            return
        }
        let id = nextID()
        var kept: ClaimedFile?
        if isDurable(origin) {
            do {
                kept = try claims.keepLine(body, id: id, origin: origin)
            } catch {
                log.record("error", name: origin.name, [("id", id), ("name", origin.name), ("err", "cannot keep the line on disk: \(error)")])
                // A client is told and may send again; a FIFO line, already read, is dispatched anyway.
                if let reply { return reply(ChannelReply.refused("cannot keep the message on disk: \(error)")) }
            }
        }
        dispatch(body, id: id, from: origin, kept: kept, to: matching, by: source, reply: reply)
    }

    /// A line a previous run kept in `work/` (a `durable` channel's, or one put back into the
    /// spool by `retry`): dispatched as a line of its channel again, to the rules that match it
    /// now; a dead letter again when none does.
    func recover(_ file: ClaimedFile, from origin: ChannelOrigin) {
        let body: Bytes
        do {
            body = try claims.lineBody(of: file)
        } catch {
            return log.record("error", name: file.name, [("id", file.id), ("name", file.name), ("err", "\(error)")])
        }
        let matching = rules.rules(for: origin.name, event: origin.event)
        guard !matching.isEmpty else {
            dispatcher.countNoMatch()
            log.record("nomatch", name: file.name, [("id", file.id), ("name", file.name), ("event", origin.event.rawValue)])
            let reason = "no rule takes \(origin.event.rawValue) messages from \(text(file.name)) any more\n".bytes
            settleRetry.perform(id: file.id, name: file.name) { [claims] in try claims.buryLine(file, reason: reason) }
            return
        }
        dispatch(body, id: file.id, from: origin, kept: file, to: matching, by: nil, reply: nil)
    }

    private func isDurable(_ origin: ChannelOrigin) -> Bool {
        switch origin.event {
        case .fifo: return rules.fifos.contains { $0.name == origin.name && $0.durable }
        case .socket: return listeners[origin.name]?.directive.durable ?? false
        default: return false
        }
    }

    private func dispatch(_ body: Bytes, id: Bytes, from origin: ChannelOrigin, kept: ClaimedFile?, to matching: [Rule],
                          by source: MessageSource?, reply: ((Bytes) -> Void)?) {
        let message = Message(id: id, name: origin.name, event: origin.event, type: origin.type, body: .line(body), peer: origin.peer)
        var fields: [(String, any LogValue)] = [("id", id), ("name", origin.name), ("event", origin.event.rawValue), ("size", body.count)]
        if let peer = origin.peer {
            if let pid = peer.pid { fields.append(("peer_pid", pid)) }
            fields.append(("peer_uid", peer.uid))
        }
        if kept != nil { fields.append(("durable", 1)) }
        if source == nil { fields.append(("recovered", 1)) }
        dispatcher.countReceived()
        log.record("recv", name: origin.name, fields)
        let replies = matching.contains { $0.reply }
        let size = body.count
        inFlightBytes += size
        // Counted before it is dispatched: an inline handler settles it inside `deliver`.
        if let source { countThrottle(source.unsettled.add()) }
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { [unowned self, weak source] delivery in
            self.inFlightBytes -= size
            self.settle(delivery, body: body, origin: origin, kept: kept)
            if replies { reply?(Self.reply(to: delivery)) }
            guard let source, source.unsettled.settle() else { return }
            // Room again: read on, on the next turn of the loop, not inside the dispatcher.
            self.loop.schedule(after: .zero) { [weak source] in
                guard let source, !source.isClosed else { return }
                source.resume()
            }
        }
        delivery.putBack = { [unowned self] delivery in
            // A kept line waits in `work/` for the next start; any other becomes a dead letter.
            if let kept { return ".spoolbus/work/".bytes + kept.entry }
            let stopped = delivery.interrupted.map { String($0.line) }.joined(separator: ", ")
            var reason = delivery.deadLetterReason
            reason += (stopped.isEmpty ? "stopped: the daemon stopped before every rule was done with it\n"
                                       : "stopped: the daemon stopped the handler of rule \(stopped)\n").bytes
            return self.keepDead(body, id: id, from: origin, reason: reason)
        }
        if !replies { reply?(ChannelReply.accepted(id)) }
        dispatcher.deliver(delivery, to: matching)
        pauseIfSaturated()
    }

    /// A line whose rules are all done: its copy on disk, if any, removed; kept as a dead letter
    /// in `failed/` when a rule gave up.
    private func settle(_ delivery: Delivery, body: Bytes, origin: ChannelOrigin, kept: ClaimedFile?) {
        let message = delivery.message
        if delivery.failures.isEmpty {
            guard let kept else { return }
            settleRetry.perform(id: message.id, name: message.name) { [claims] in try claims.completeLine(kept) }
            return
        }
        if let kept {
            let reason = delivery.deadLetterReason
            delivery.deadLetterName = claims.deadLetterName(of: kept)
            settleRetry.perform(id: message.id, name: message.name) { [claims] in try claims.buryLine(kept, reason: reason) }
            return
        }
        delivery.deadLetterName = keepDead(body, id: message.id, from: origin, reason: delivery.deadLetterReason)
    }

    /// Writes a line as a dead letter in `failed/`, through `settleRetry` (a shortage of space is
    /// tried again with backoff); returns its name relative to the spool, or nil when it is not
    /// there and will not be. The first time writing it fails, the body goes into the log (up to
    /// 1 KiB), so it is not lost without a trace, even if the daemon stops before space returns.
    private func keepDead(_ body: Bytes, id: Bytes, from origin: ChannelOrigin, reason: Bytes) -> Bytes? {
        var written = false
        var failedForGood = false
        var attempts = 0
        settleRetry.perform(id: id, name: origin.name) { [claims, log] in
            attempts += 1
            do {
                try claims.buryLine(try claims.keepLine(body, id: id, origin: origin), reason: reason)
                written = true
            } catch {
                if attempts == 1 {
                    var fields: [(String, any LogValue)] = [
                        ("id", id), ("name", origin.name), ("err", "cannot keep the dead letter: \(error)"), ("body", Bytes(body.prefix(1024))),
                    ]
                    if body.count > 1024 { fields.append(("size", body.count)) }
                    log.record("error", name: origin.name, fields)
                }
                // A shortage is tried again; any other failure has been logged here already.
                guard let shortage = error as? SystemError, shortage.isTemporaryShortage else {
                    failedForGood = true
                    return
                }
                throw shortage
            }
        }
        // A stopping daemon tries nothing again.
        return written || (!failedForGood && !isStopping) ? claims.deadLetterName(id: id, name: origin.name) : nil
    }

    /// A line or packet longer than `--max-line`: dropped, counted, logged.
    func refuseTooLong(_ length: Int, from origin: ChannelOrigin, reply: ((Bytes) -> Void)?) {
        counters.linesTooLong += 1
        log.record("error", name: origin.name, [
            ("name", origin.name), ("event", origin.event.rawValue), ("size", length),
            ("err", "longer than the \(maxLine)-byte limit (--max-line); dropped"),
        ])
        reply?(ChannelReply.refused("message of \(length) bytes is longer than the \(maxLine)-byte limit"))
    }

    private static func reply(to delivery: Delivery) -> Bytes {
        let id = delivery.message.id
        if let failure = delivery.failures.first(where: { $0.rule.reply }) {
            var reason = failure.outcome.cause
            if let line = failure.outcome.lastErrorLines.last, !line.isEmpty { reason += ": " + text(line) }
            return ChannelReply.failed(id, reason)
        }
        return ChannelReply.output(id, delivery.replies.flatMap { $0 })
    }

    // MARK: - Back-pressure

    /// Counts a channel that used up its room for unsettled messages.
    private func countThrottle(_ usedUp: Bool) {
        if usedUp { counters.throttles += 1 }
    }

    private var isSaturated: Bool {
        dispatcher.load >= Self.loadLimit || inFlightBytes >= Self.inFlightByteLimit
    }

    private var readers: [ChannelReader] {
        Array(fifos.values) as [ChannelReader] + Array(listeners.values) as [ChannelReader] + Array(connections.values)
    }

    private func pauseIfSaturated() {
        guard !isPaused, isSaturated else { return }
        isPaused = true
        counters.pauses += 1
        for reader in readers { reader.refreshInterest() }
    }

    /// A job ended: channels paused for back-pressure read again once there is room.
    func jobEnded() {
        guard isPaused, !isSaturated else { return }
        isPaused = false
        for reader in readers {
            reader.resume()
            if isPaused { break }
        }
    }

    // MARK: - Sockets

    private func openListener(_ directive: ListenDirective) {
        let kind: SocketKind
        switch directive.type {
        case .stream: kind = .stream
        case .seqpacket: kind = .seqpacket
        case .dgram: kind = .datagram
        }
        do {
            let socket = try SocketFile.create(
                kind, named: directive.name, in: layout.spool, shown: layout.path(of: directive.name),
                staging: layout.temporary, as: stagingName("socket"), mode: directive.mode,
                removing: { ownRemovals.insert(directive.name) },
                creating: { expectOwnCreation(directive.name) })
            let listener: ListeningChannel = kind == .datagram
                ? DatagramChannel(directive: directive, socket: socket, channels: self)
                : SocketListener(directive: directive, socket: socket, channels: self)
            listeners[directive.name] = listener
            listener.refreshInterest()
        } catch {
            log.record("error", name: directive.name, [("name", directive.name), ("line", directive.line), ("err", "\(error)")])
        }
    }

    /// Closes a listening socket and removes its file, if the name still is that socket.
    private func closeListener(_ name: Bytes) {
        guard let listener = listeners.removeValue(forKey: name) else { return }
        ownRemovals.insert(name)
        if !listener.socket.unlinkIfStillThere(name, in: layout.spool) { ownRemovals.remove(name) }
        listener.close()
    }

    func accepted(_ descriptor: FileDescriptor, on listener: SocketListener) {
        guard connections.count < Self.clientLimit, !isStopping else {
            let refusal = ChannelReply.refused("too many clients")
            _ = try? refusal.withUnsafeBytes { try UnixSocket.send(descriptor, $0) }
            descriptor.close()
            refuse(.client, on: listener.directive.name, reason: "too many clients (\(Self.clientLimit))")
            return
        }
        guard let credentials = try? UnixSocket.peerCredentials(descriptor) else {
            descriptor.close()
            return
        }
        let peer = Peer(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        let framing: ClientConnection.Framing = listener.directive.type == .stream ? .lines : .packets
        let connection = ClientConnection(descriptor: descriptor, listenerName: listener.directive.name, peer: peer,
                                          framing: framing, channels: self)
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
        case .client: counters.clientsRefused += 1
        }
        let key = kind.rawValue + ":" + text(name)
        let now = MonotonicInstant.now()
        if let last = lastRefusalLog[key], now.duration(since: last) < .seconds(1) { return }
        lastRefusalLog[key] = now
        log.record("error", name: name, [("name", name), ("err", "refused a \(kind.rawValue): \(reason)"),
                                         ("refused_total", counters.clientsRefused)])
    }

    // MARK: - Facts for `status`

    var fifoCount: Int { fifos.count }
    var listenerCount: Int { listeners.count }
    var clientCount: Int { connections.count }
    var ruleCount: Int { rules.rules.count }
}
