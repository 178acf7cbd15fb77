/// How the daemon comes to stop, and what its signals mean: SIGTERM and SIGINT stop it (a
/// second one ends the grace at once), SIGHUP reopens the dispatch log and reloads the rules
/// (the others it reads go to `otherSignal`: `signal` directives), and losing the spool (moved,
/// deleted, unmounted) stops it as SIGTERM does,
/// then makes it exit 1 so that a supervisor starts it again on the spool's path.
final class Shutdown {
    private let loop: EventLoop
    private let log: DispatchLog
    private let root: Bytes
    private let watcher: SpoolWatcher
    private let presence: SpoolPresence
    private let channels: ChannelSet
    private let dispatcher: Dispatcher
    private let settlement: Settlement
    private let workers: WorkerPools
    private let rules: CurrentRules
    private let grace: Duration
    private let notifier: ServiceNotifier?
    private var signals: FileDescriptor?
    private(set) var isStopping = false
    /// When workers still there get SIGTERM: the grace's end, or a second signal.
    private var workersDeadline = MonotonicInstant.now()
    /// The signal that stopped the daemon, for the `stop` log line.
    private(set) var stopSignal: Int32?
    /// Why the daemon stops on its own (the spool went away): `Bus.run` throws it, the exit is 1.
    private(set) var failure: SpoolBusError?

    init(loop: EventLoop, log: DispatchLog, root: Bytes, watcher: SpoolWatcher, presence: SpoolPresence,
         channels: ChannelSet, dispatcher: Dispatcher, settlement: Settlement, workers: WorkerPools, rules: CurrentRules,
         grace: Duration, notifier: ServiceNotifier?) {
        self.loop = loop
        self.log = log
        self.root = root
        self.watcher = watcher
        self.presence = presence
        self.channels = channels
        self.dispatcher = dispatcher
        self.settlement = settlement
        self.workers = workers
        self.rules = rules
        self.grace = grace
        self.notifier = notifier
    }

    /// Signals other than HUP, TERM and INT: the ones `signal` directives may name.
    var otherSignal: (ReceivedSignal) -> Void = { _ in }

    /// Every signal the daemon reads from its one signalfd: its own, and every one a `signal`
    /// directive may name (see `SignalName.takeable`).
    static var signalsRead: [Int32] {
        [ProcessSignal.hangUp, ProcessSignal.terminate, ProcessSignal.interrupt] + SignalName.takeable.map(\.number)
    }

    /// Listens for the signals (blocked since `Daemon.run`) and for the spool's loss.
    func start() throws {
        let signals = try KernelNotifiers.signalDescriptor(for: Self.signalsRead)
        self.signals = signals
        try loop.register(signals, for: .readable) { [unowned self] _ in self.signalsArrived() }
        try loop.register(presence.inotify.descriptor, for: .readable) { [unowned self] _ in self.spoolLost() }
    }

    private func signalsArrived() {
        guard let signals, let received = try? KernelNotifiers.readSignals(signals) else { return }
        for signal in received {
            switch signal.number {
            case ProcessSignal.hangUp:
                // The logrotate convention: after `mv dispatch.log dispatch.log.1`, SIGHUP
                // makes the daemon write a new `dispatch.log`.
                notifier?.beginReload()
                log.reopen()
                rules.reload(always: true)
                notifier?.endReload()
            case ProcessSignal.terminate, ProcessSignal.interrupt:
                stop(signal.number)
            default:
                otherSignal(signal)
            }
        }
    }

    private func spoolLost() {
        guard let what = presence.readLoss(), failure == nil else { return }
        let failure = SpoolBusError("the spool \(text(root)) \(what) while the daemon served it; stopping (exit 1) so that a supervisor starts it again")
        self.failure = failure
        log.record("error", [("spool", root), ("err", failure.description)])
        loop.unregister(presence.inotify.descriptor)
        stop(nil)
    }

    /// Stops taking messages; the loop ends once running handlers are done or the grace is over,
    /// and the workers, their stdin closed once no request is left, have exited (SIGTERM at the
    /// grace's end). A second SIGTERM or SIGINT ends the grace: running handlers and workers are
    /// stopped now.
    private func stop(_ signal: Int32?) {
        guard !isStopping else {
            guard signal != nil else { return }
            log.record("stopping", stoppingFields(signal, grace: .zero))
            workersDeadline = MonotonicInstant.now()
            dispatcher.endGrace()
            workers.hurry()
            return
        }
        isStopping = true
        stopSignal = signal
        notifier?.stopping()
        log.record("stopping", stoppingFields(signal, grace: grace))
        loop.unregister(watcher.inotify.descriptor)
        channels.stop()
        workersDeadline = MonotonicInstant.now().advanced(by: grace)
        dispatcher.shutdown(grace: grace) { [unowned self] in
            self.settlement.synchronizeKept()
            self.workers.stop(by: self.workersDeadline) { [unowned self] in self.loop.stop() }
        }
    }

    /// What a `stopping` line says: the cause, what is in flight, and the grace it has left.
    private func stoppingFields(_ signal: Int32?, grace: Duration) -> [(String, any LogValue)] {
        var fields: [(String, any LogValue)] = [("pid", SystemInfo.processID)]
        fields.append(signal.map { ("signal", ProcessSignal.name($0)) } ?? ("cause", "spool lost"))
        fields += [("running", dispatcher.running), ("queued", dispatcher.queued), ("retrying", dispatcher.waitingForRetry),
                   ("grace", formatDuration(grace))]
        return fields
    }
}
