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
    /// What `watch` asked for; nil for every line, or before `watch`.
    private(set) var watchPattern: Glob?
    /// The last name matched against `watchPattern` and the verdict: a message's lines come
    /// together, and each match costs up to (pattern length × name length) steps.
    private var lastMatch: (name: Bytes, matches: Bool)?
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
        watchPattern = pattern
        send(ControlWords.line(["watching".bytes, pattern?.source ?? "**".bytes]))
        subscription = server.channels.log.subscribe { [weak self] record, line in
            guard let self, !self.closed else { return }
            if let pattern, !Self.alwaysWatched.contains(record.verb) {
                guard let name = record.name, self.matches(name, pattern) else { return }
            }
            self.send(line)
        }
    }

    private func matches(_ name: Bytes, _ pattern: Glob) -> Bool {
        if let lastMatch, lastMatch.name == name { return lastMatch.matches }
        let verdict = pattern.matches(name)
        lastMatch = (name, verdict)
        return verdict
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
