/// The running bus: it builds the parts a message flows through and wires them to one event
/// loop. The flow of a file message: `SpoolChanges` (what a change in the spool means) →
/// `FileAdmission` (match and claim) → `Dispatcher` (run) → `Settlement` (finish or bury) →
/// `DispatchLog`. Lines of FIFOs and sockets enter through `ChannelSet` and settle in the same
/// `Settlement`. `ClaimRecovery` picks up what an earlier daemon left; `CurrentRules` reloads
/// the rules; `Shutdown` turns signals and the spool's loss into a stop.
final class Bus {
    /// How long after start the start-up code's pages are handed back (`releaseStartupPages`).
    static let startupPagesReleaseDelay: Duration = .seconds(2)

    struct StartupError: Error {
        let message: String
        let status: Int32
    }

    private let options: DaemonOptions
    private let rulesFile: RulesFile
    private let layout: SpoolLayout
    private let lock: SpoolLock
    private let log: DispatchLog
    private let loop: EventLoop
    private let watcher: SpoolWatcher
    private let rules: CurrentRules
    private let admission: FileAdmission
    private let changes: SpoolChanges
    private let recovery: ClaimRecovery
    /// FIFOs, sockets and the control socket.
    private let channels: ChannelSet
    private let shutdown: Shutdown
    /// `--keep-done` and `--keep-failed`.
    private let retention: [KeptFolder: Retention]
    /// The service manager's `NOTIFY_SOCKET`, when there is one.
    private let notifier: ServiceNotifier?
    /// `broker` connections and what they receive.
    private let brokers: MQTTBrokers

    init(options: DaemonOptions, handlers: HandlerRegistry) throws {
        self.options = options
        rulesFile = RulesFile(options.rulesFile)
        let rulesText: Bytes, ruleSet: RuleSet
        do {
            (rulesText, ruleSet) = try rulesFile.load(handlers: handlers)
        } catch let error as RulesFile.Refused {
            throw StartupError(message: error.description, status: 2)
        }
        let spool = SpoolLocation.resolve(explicit: options.spool)
        let absolute = (try? FileSystem.realPath(spool)) ?? FileSystem.absolute(spool)
        if let served = SpoolNesting.servedAncestor(of: absolute) {
            throw StartupError(message: "spool \(text(absolute)) is inside the spool \(text(served.folder)), served by pid \(served.pid); "
                               + "two daemons would split its files (use a spool outside it)", status: 1)
        }
        do {
            layout = try SpoolLayout.prepare(spool)
            lock = try SpoolLock.acquire(layout)
            switch options.log {
            case .spoolDefault: log = try DispatchLog(in: layout.state, name: SpoolLayout.logName, maxSize: options.logMaxSize)
            case .file(let path): log = try DispatchLog(path: FileSystem.absolute(path), maxSize: options.logMaxSize)
            case .standardOutput: log = try DispatchLog(path: nil)
            }
        } catch let error as SpoolBusError {
            throw StartupError(message: error.description, status: 1)
        }
        loop = try EventLoop()
        watcher = try SpoolWatcher(spool: layout.spool)
        let presence = try SpoolPresence(spool: layout.spool)
        let watchRetry = FolderWatchRetry(loop: loop, log: log)
        let claims = ClaimStore(layout: layout)
        let settlement = Settlement(claims: claims, retry: SettleRetry(loop: loop, log: log), log: log)
        let ids = MessageIDs(MessageIDGenerator(now: WallClock.milliseconds(), notBefore: claims.largestIDPrefix()))
        let runRecords = try RunRecords(state: layout.state)
        let context = RunContext(loop: loop, log: log, layout: layout, workingDirectory: rulesFile.directory,
                                 environment: HandlerEnvironment(daemon: SystemInfo.environment, extra: options.environment),
                                 runRecords: runRecords)
        brokers = MQTTBrokers(loop: loop, log: log, layout: layout, nextID: ids.next)
        let runs = HandlerRuns(context: context, handlers: handlers, brokers: brokers)
        let dispatcher = Dispatcher(context: context, jobLimit: options.jobs, runs: runs)
        notifier = try ServiceNotifier(environment: SystemInfo.environment, loop: loop, log: log) { [unowned dispatcher] in
            Self.statusText(dispatcher)
        }
        rules = CurrentRules(file: rulesFile, text: rulesText, rules: ruleSet, handlers: handlers, log: log)
        rules.notifier = notifier
        channels = ChannelSet(loop: loop, log: log, layout: layout, settlement: settlement, dispatcher: dispatcher,
                              rules: ruleSet, maxLine: options.maxLine, rulesPath: rulesFile.path)
        let nextID = ids.next
        admission = FileAdmission(rules: rules, claims: claims, watcher: watcher, dispatcher: dispatcher, settlement: settlement,
                                  log: log, layout: layout, rulesFileName: Self.name(of: rulesFile.path, in: layout), nextID: nextID)
        shutdown = Shutdown(loop: loop, log: log, root: layout.root, watcher: watcher, presence: presence, channels: channels,
                            dispatcher: dispatcher, settlement: settlement, workers: runs.workers, rules: rules, grace: options.grace,
                            notifier: notifier)
        changes = SpoolChanges(loop: loop, log: log, layout: layout, watcher: watcher, watchRetry: watchRetry, rules: rules,
                               admission: admission, channels: channels, dispatcher: dispatcher, nextID: nextID,
                               isStopping: { [unowned shutdown] in shutdown.isStopping })
        recovery = ClaimRecovery(claims: claims, rules: rules, admission: admission, lines: channels.lines, settlement: settlement,
                                 dispatcher: dispatcher, leftovers: LeftoverRuns(records: runRecords, loop: loop, log: log), log: log)
        rules.changed = { [unowned admission, unowned channels, unowned brokers] rules in
            admission.rulesChanged()
            channels.apply(rules)
            brokers.apply(rules)
            runs.workers.rulesChanged(rules)
        }
        dispatcher.onJobEnded = { [unowned changes, unowned channels] in
            changes.scheduleScan()
            changes.nodeEvents.jobEnded()
            channels.jobEnded()
        }
        channels.lines.nextID = nextID
        shutdown.otherSignal = { [unowned channels] in channels.signals.arrived($0) }
        settlement.isStopping = { [unowned channels] in channels.isStopping }
        var retention: [KeptFolder: Retention] = [:]
        for (folder, keep) in [(KeptFolder.done, options.keepDone), (.failed, options.keepFailed)] {
            if let keep { retention[folder] = Retention(folder, keep: keep, claims: claims, loop: loop, log: log) }
        }
        self.retention = retention
        settlement.onKept = { folder in retention[folder]?.added() }
        channels.busFacts = { [log, unowned changes, unowned brokers] in
            [("node_events_dropped", changes.nodeEvents.dropped),
             ("log_lost", log.lostLines), ("unwatched", watchRetry.count), ("unsettled", settlement.retry.count),
             ("ok_unlogged", context.unloggedSuccesses)] + brokers.statusFacts + runs.workers.statusFacts
        }
        watchRetry.rescan = { [unowned changes] folders in changes.rescan(folders, isNew: false) }
        channels.nodes.expectOwnCreation = { [unowned watcher] in watcher.expectOwnCreation(of: $0) }
        if let notifier {
            changes.scanFinished = { [unowned notifier] in notifier.ready() }
            _ = log.subscribe { [unowned notifier] _, _ in notifier.statusChanged() }
        }
    }

    /// `STATUS=` for the service manager: the counters `spoolbus status` shows first.
    private static func statusText(_ dispatcher: Dispatcher) -> String {
        let counters = dispatcher.counters
        return "received \(counters.received), ok \(counters.ok), failed \(counters.failed), dead \(counters.dead); "
            + "running \(dispatcher.running), queued \(dispatcher.queued), retrying \(dispatcher.waitingForRetry)"
    }

    /// Serves the spool until the daemon is stopped; throws why it stopped on its own.
    func run() throws {
        loop.beforeWaiting = { [unowned self] in self.log.flush() }
        try shutdown.start()
        try loop.register(watcher.inotify.descriptor, for: .readable) { [unowned changes] _ in changes.spoolChanged() }
        do {
            try watcher.watchFolder([], layout.spool)
            try watcher.watchRulesFile(rulesFile.path)
        } catch let error as SystemError where error.isInotifyWatchLimit {
            throw SpoolBusError(FolderWatchRetry.limitMessage(error.path ?? layout.root))
        }
        let staleTemporaries = layout.clearTemporary()
        channels.start(controlMode: options.controlMode)
        // Has the channels follow the rules: `mkfifo` FIFOs made, `listen` sockets opened.
        channels.apply(rules.rules)
        brokers.apply(rules.rules)
        var startFields: [(String, any LogValue)] = [
            ("pid", SystemInfo.processID), ("spool", layout.root), ("rules", rulesFile.path), ("version", spoolBusVersion),
        ]
        if staleTemporaries > 0 { startFields.append(("tmp_removed", staleTemporaries)) }
        log.record("start", startFields)
        recovery.recoverClaimedMessages()
        for folder in retention.values { folder.start() }
        changes.rescan([[]], isNew: false)
        // Once, a little after start: the code that loaded and checked everything is cold now.
        _ = loop.schedule(after: Self.startupPagesReleaseDelay) { SystemInfo.releaseStartupPages() }
        try loop.run()
        brokers.close()
        var fields: [(String, any LogValue)] = [("pid", SystemInfo.processID)]
        if let stopSignal = shutdown.stopSignal { fields.append(("signal", ProcessSignal.name(stopSignal))) }
        // Before the control socket closes, so that `watch` clients get the `stop` line too.
        log.record("stop", fields)
        channels.close()
        log.flush()
        lock.release()
        if let failure = shutdown.failure { throw failure }
    }

    /// The name the file `path` has in the spool, if it is in it: its folder resolved as the
    /// spool's path was (the file itself may be a symlink).
    private static func name(of path: Bytes, in layout: SpoolLayout) -> Bytes? {
        guard let folder = try? FileSystem.realPath(path.deletingLastPathComponent) else { return nil }
        let real = folder.appendingPathComponent(path.lastPathComponent)
        let prefix = layout.root + [UInt8(ascii: "/")]
        return real.starts(with: prefix) ? Bytes(real.dropFirst(prefix.count)) : nil
    }
}

/// The one source of message ids, shared by every part of the bus that makes messages, so ids
/// stay unique and ordered whichever way a message came in.
private final class MessageIDs {
    private var generator: MessageIDGenerator

    init(_ generator: MessageIDGenerator) {
        self.generator = generator
    }

    func next() -> Bytes { generator.next() }
}
