/// Signals that `signal` directives name, sent to the daemon (`kill`, `sigqueue`), made into
/// messages of event `signal` named after the signal (`USR1`, `RTMIN+3`), with the sender's pid
/// and uid and the `sigqueue` value as the kernel's signalfd reports them.
///
/// A signal cannot be pushed back on: while the bus is saturated, or this source has too many
/// messages unsettled, or the daemon is stopping, a signal is dropped and counted instead of
/// queued without bound. Standard signals coalesce in the kernel before they are read (two
/// `kill -USR1` in a row may arrive as one); real-time ones queue, up to RLIMIT_SIGPENDING.
final class SignalMessages: MessageSource {
    private unowned let channels: ChannelSet
    let unsettled = UnsettledCount()
    var isClosed: Bool { false }
    /// Signals that became messages, by name.
    private(set) var received: [String: Int] = [:]
    /// Signals no `signal` directive names (they are still read: all the takeable ones are).
    private(set) var ignored = 0
    /// Signals a `signal` directive names that arrived while there was no room for them.
    private(set) var dropped = 0
    /// When each kind of refusal was last logged: at most one line a second each, however many
    /// signals a sender fires.
    private var lastLogged: [String: MonotonicInstant] = [:]

    init(channels: ChannelSet) {
        self.channels = channels
    }

    var receivedTotal: Int { received.values.reduce(0, +) }

    /// `USR1:3 RTMIN+1:2`, in signal order, for `status`.
    var receivedByName: String {
        SignalName.takeable.compactMap { signal in received[signal.name].map { "\(signal.name):\($0)" } }.joined(separator: " ")
    }

    func arrived(_ signal: ReceivedSignal) {
        let name = SignalName.name(of: signal.number)
        guard channels.rules.signalNumbers.contains(signal.number) else {
            ignored += 1
            logRefusal("ignored", name, [("peer_pid", signal.senderPID), ("err", "no signal directive names \(name); ignored"),
                              ("ignored_total", ignored)])
            return
        }
        let origin = ChannelOrigin(name: name.bytes, event: .signal, type: .signal,
                                   peer: Peer(pid: signal.senderPID, uid: signal.senderUID, gid: nil))
        guard !channels.isPaused, !channels.isStopping, unsettled.hasRoom else {
            dropped += 1
            logRefusal("dropped", name, [("err", "dropped: the bus is saturated or stopping"), ("dropped_total", dropped)])
            return
        }
        received[name, default: 0] += 1
        channels.lines.submit([], from: origin, by: self, reply: nil, extras: MessageExtras(signalValue: signal.value))
    }

    private func logRefusal(_ kind: String, _ name: String, _ fields: [(String, any LogValue)]) {
        let key = kind + ":" + name
        let now = MonotonicInstant.now()
        if let last = lastLogged[key], now.duration(since: last) < .seconds(1) { return }
        lastLogged[key] = now
        channels.log.record("error", name: name.bytes, [("name", name), ("event", "signal")] + fields)
    }

    func refreshInterest() {}
    func resume() {}
    func close() {}
}
