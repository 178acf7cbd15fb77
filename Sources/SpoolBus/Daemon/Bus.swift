/// The running bus: it wires the watcher, the scanner, the claim store, the dispatcher and the
/// log to one event loop, and decides what each change in the spool means.
final class Bus {
    struct StartupError: Error {
        let message: String
        let status: Int32
    }

    /// Messages admitted (claimed and not finished) at most; past it, file events are dropped
    /// and a later scan finds the files again, so a backlog costs disk, not memory.
    static let admissionLimit = 1024
    /// Entries a scan reads before letting other events in.
    static let scanSlice = 256

    private let options: DaemonOptions
    private let handlers: HandlerRegistry
    private let rulesFile: RulesFile
    /// The rules file's name in the spool, when it sits in it (`--spool .`): never a message.
    private let rulesFileName: Bytes?
    private var rulesText: Bytes
    private var rules: RuleSet
    private let layout: SpoolLayout
    private let lock: SpoolLock
    private let log: DispatchLog
    private let loop: EventLoop
    private let watcher: SpoolWatcher
    private let scanner: SpoolScanner
    private let claims: ClaimStore
    private let dispatcher: Dispatcher
    /// Handler runs a killed daemon left: their messages wait for them.
    private let leftovers: LeftoverRuns
    /// FIFOs, sockets and the control socket.
    private let channels: ChannelSet
    private var ids: MessageIDGenerator
    private var signals: FileDescriptor?
    /// Why the spool must be scanned again (`overflow`, `backlog`), nil when it need not.
    private var rescanReason: String?
    /// What each state file was like when last dispatched: a rescan passes over it unchanged.
    private var stateFileVersions: [Bytes: FileVersion] = [:]
    /// Names already logged `nomatch`, so a rescan does not log them again (bounded; cleared by
    /// a reload, which may change what matches).
    private var reportedNoMatch: Set<Bytes> = []
    private static let reportedNoMatchLimit = 4096
    private var scanScheduled = false
    /// State files (`then=keep`) being dispatched, and whether a rewrite asked for one more run.
    private var stateFileRuns: [Bytes: Bool] = [:]
    private var stopping = false
    private var stopSignal: Int32?
    /// Why the daemon stops on its own (the spool went away): `run` throws it, the exit is 1.
    private var failure: SpoolBusError?
    private let presence: SpoolPresence
    /// The spool folder, to look beneath it for spools of other daemons.
    private let settleRetry: SettleRetry
    private let watchRetry: FolderWatchRetry

    init(options: DaemonOptions, handlers: HandlerRegistry) throws {
        self.options = options
        self.handlers = handlers
        rulesFile = RulesFile(options.rulesFile)
        do {
            (rulesText, rules) = try rulesFile.load(handlers: handlers)
        } catch let error as RulesFile.Refused {
            throw StartupError(message: error.description, status: 2)
        }
        let spool = options.spool.map(FileSystem.absolute) ?? rulesFile.directory.appendingPathComponent("spool".bytes)
        let absolute = (try? FileSystem.realPath(spool)) ?? FileSystem.absolute(spool)
        if let served = SpoolNesting.servedAncestor(of: absolute) {
            throw StartupError(message: "spool \(text(absolute)) is inside the spool \(text(served.folder)), served by pid \(served.pid); "
                               + "two daemons would split its files (use a spool outside it)", status: 1)
        }
        do {
            layout = try SpoolLayout.prepare(spool)
            lock = try SpoolLock.acquire(layout)
            switch options.log {
            case .spoolDefault: log = try DispatchLog(in: layout.state, name: SpoolLayout.logName)
            case .file(let path): log = try DispatchLog(path: FileSystem.absolute(path))
            case .standardOutput: log = try DispatchLog(path: nil)
            }
        } catch let error as SpoolBusError {
            throw StartupError(message: error.description, status: 1)
        }
        rulesFileName = Self.name(of: rulesFile.path, in: layout)
        loop = try EventLoop()
        watcher = try SpoolWatcher(spool: layout.spool)
        presence = try SpoolPresence(root: layout.root)
        settleRetry = SettleRetry(loop: loop, log: log)
        watchRetry = FolderWatchRetry(loop: loop, log: log)
        scanner = SpoolScanner(spool: layout.spool)
        claims = ClaimStore(layout: layout)
        ids = MessageIDGenerator(now: WallClock.milliseconds(), notBefore: claims.largestIDPrefix())
        let runRecords = try RunRecords(state: layout.state)
        leftovers = LeftoverRuns(records: runRecords, loop: loop, log: log)
        let context = RunContext(loop: loop, log: log, layout: layout, workingDirectory: rulesFile.directory,
                                 environment: HandlerEnvironment(daemon: SystemInfo.environment, extra: options.environment),
                                 runRecords: runRecords)
        dispatcher = Dispatcher(context: context, jobLimit: options.jobs) { job, completion in
            switch job.rule.handler {
            case .program(let program, let arguments):
                let run = ProgramRun(job: job, context: context, completion: completion)
                run.start(program: program, arguments: arguments)
                return run
            case .swift(let name, let arguments):
                guard let entry = handlers.entry(named: name) else {
                    completion(RunOutcome(result: .couldNotStart("no Swift handler named '\(name)' in this binary"), milliseconds: 0))
                    return nil
                }
                let run = SwiftHandlerRun(job: job, context: context, completion: completion)
                run.start(entry, name: name, arguments: arguments)
                return run
            }
        }
        channels = ChannelSet(loop: loop, log: log, layout: layout, settleRetry: settleRetry, dispatcher: dispatcher,
                              rules: rules, maxLine: options.maxLine, rulesPath: rulesFile.path)
        dispatcher.onJobEnded = { [unowned self] in
            self.scheduleScan()
            self.channels.jobEnded()
        }
        channels.nextID = { [unowned self] in self.ids.next() }
        channels.busFacts = { [unowned self] in
            [("log_lost", self.log.lostLines), ("unwatched", self.watchRetry.count), ("unsettled", self.settleRetry.count)]
        }
        watchRetry.rescan = { [unowned self] folders in
            for folder in folders { self.scanner.enqueue(folder, isNew: false) }
            self.scheduleScan()
        }
        channels.expectOwnCreation = { [unowned self] in self.watcher.expectOwnCreation(of: $0) }
    }

    func run() throws {
        let signals = try KernelNotifiers.signalDescriptor(for: [ProcessSignal.hangUp, ProcessSignal.terminate, ProcessSignal.interrupt])
        self.signals = signals
        loop.beforeWaiting = { [unowned self] in self.log.flush() }
        try loop.register(signals, for: .readable) { [unowned self] _ in self.signalsArrived() }
        try loop.register(watcher.inotify.descriptor, for: .readable) { [unowned self] _ in self.spoolChanged() }
        try loop.register(presence.inotify.descriptor, for: .readable) { [unowned self] _ in self.spoolLost() }
        do {
            try watcher.watchFolder([], layout.spool)
            try watcher.watchRulesFile(rulesFile.path)
        } catch let error as SystemError where error.isInotifyWatchLimit {
            throw SpoolBusError(FolderWatchRetry.limitMessage(error.path ?? layout.root))
        }
        channels.start(controlMode: options.controlMode)
        applyDirectives()
        log.record("start", [
            ("pid", SystemInfo.processID), ("spool", layout.root), ("rules", rulesFile.path), ("version", spoolBusVersion),
        ])
        recoverClaimedMessages()
        scanner.enqueue([], isNew: false)
        scheduleScan()
        try loop.run()
        channels.close()
        var fields: [(String, any LogValue)] = [("pid", SystemInfo.processID)]
        if let stopSignal { fields.append(("signal", ProcessSignal.name(stopSignal))) }
        log.record("stop", fields)
        log.flush()
        lock.release()
        if let failure { throw failure }
    }

    // MARK: - Changes in the spool

    private func spoolChanged() {
        let changes: [SpoolWatcher.Change]
        do {
            changes = try watcher.readChanges()
        } catch {
            log.record("error", [("err", "\(error)")])
            return
        }
        for change in changes where !stopping {
            switch change {
            case .fileReady(let name):
                // A writer closing a FIFO looks like a file written and closed.
                if channels.isFifoEvent(name) { continue }
                if dispatcher.load >= Self.admissionLimit {
                    rescanReason = rescanReason ?? "backlog"
                } else {
                    admitFile(name, foundByScan: false)
                }
            case .nodeAppeared(let name, let type):
                if type == .dir {
                    scanner.enqueue(name, isNew: true)
                    scheduleScan()
                }
                if type == .fifo { channels.fifoAppeared(name) }
                deliverNodeEvent(name, type: type, event: .node)
            case .gone(let name, let isDirectory):
                if channels.nodeGone(name) { continue }
                stateFileVersions[name] = nil
                deliverNodeEvent(name, type: isDirectory ? .dir : .file, event: .gone)
            case .overflow:
                log.record("overflow", [("err", "inotify queue overflowed; events were lost")])
                rescanReason = "overflow"
                scheduleScan()
            case .rulesFileChanged:
                reload(always: false)
            case .folderNeedsScan(let folder):
                scanner.enqueue(folder, isNew: false)
                scheduleScan()
            }
        }
    }

    /// Reads the spool a slice at a time while the dispatcher has room.
    private func scheduleScan() {
        guard !scanScheduled, !stopping, scanner.isActive || rescanReason != nil else { return }
        scanScheduled = true
        loop.schedule(after: .zero) { [unowned self] in
            self.scanScheduled = false
            self.scanSlice()
        }
    }

    private func scanSlice() {
        var budget = Self.scanSlice
        while budget > 0 && !stopping && dispatcher.load < Self.admissionLimit {
            budget -= 1
            guard let found = scanner.next(watch: watchFolder, failure: scanFailed) else {
                guard let reason = rescanReason else { return }
                rescanReason = nil
                log.record("rescan", [("reason", reason)])
                scanner.enqueue([], isNew: false)
                continue
            }
            switch found.type {
            case .file: admitFile(found.name, foundByScan: true)
            case .fifo:
                channels.fifoAppeared(found.name)
                if found.isNew { deliverNodeEvent(found.name, type: .fifo, event: .node) }
            default: if found.isNew { deliverNodeEvent(found.name, type: found.type, event: .node) }
            }
        }
        if budget == 0 { scheduleScan() }
    }

    /// Watches a folder the scan is about to list, unless it is another daemon's spool.
    private func watchFolder(_ folder: Bytes, _ directory: Directory) throws {
        if !folder.isEmpty, let pid = SpoolNesting.servingDaemon(of: folder, in: layout.spool) {
            throw SpoolBusError("folder \(text(folder)) is a spool served by pid \(pid); it is left to that daemon")
        }
        try watcher.watchFolder(folder, directory)
        if watchRetry.watched(folder) { log.record("rescan", name: folder, [("reason", "watch"), ("name", folder)]) }
    }

    private func scanFailed(_ folder: Bytes, _ error: Error) {
        if let error = error as? SystemError, error.isInotifyWatchLimit {
            watchRetry.failed(folder, path: layout.path(of: folder))
            return
        }
        watchRetry.forget(folder)
        // A folder removed while it was being walked is not news.
        if let error = error as? SystemError, error.errno == SystemError.noEntry { return }
        log.record("error", name: folder, [("name", folder), ("err", "\(error)")])
    }

    // MARK: - File messages

    /// `foundByScan`: seen by a scan rather than announced by an event, so possibly seen before.
    private func admitFile(_ name: Bytes, foundByScan: Bool) {
        guard SpoolLayout.isDispatchable(name), name != rulesFileName else { return }
        let matching = rules.rules(for: name, event: .file)
        guard !matching.isEmpty else {
            dispatcher.countNoMatch()
            if !(foundByScan && reportedNoMatch.contains(name)) {
                log.record("nomatch", name: name, [("name", name), ("event", "file")])
                if reportedNoMatch.count < Self.reportedNoMatchLimit { reportedNoMatch.insert(name) }
            }
            return
        }
        if matching.contains(where: { $0.then == .keep }) {
            dispatchStateFile(name, to: matching, foundByScan: foundByScan)
            return
        }
        let id = ids.next()
        watcher.expectOwnMove(of: name)
        do {
            guard case .claimed(let file) = try claims.claim(name, id: id) else {
                watcher.cancelOwnMove(of: name)
                return
            }
            deliver(file, to: matching, recovered: false)
        } catch {
            watcher.cancelOwnMove(of: name)
            log.record("error", name: name, [("name", name), ("err", "\(error)")])
        }
    }

    private func deliver(_ file: ClaimedFile, to matching: [Rule], recovered: Bool) {
        let message = Message(id: file.id, name: file.name, event: .file, type: .file, body: .claimedFile(file),
                              peer: Peer(pid: nil, uid: file.owner, gid: file.group))
        var fields: [(String, any LogValue)] = [("id", file.id), ("name", file.name), ("event", "file"), ("size", file.size)]
        if recovered { fields.append(("recovered", 1)) }
        dispatcher.countReceived()
        log.record("recv", name: file.name, fields)
        let archive = matching.contains { $0.then == .archive }
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: claims.deadLetterName(of: file)) { [unowned self] delivery in
            if delivery.failures.isEmpty {
                self.settleRetry.perform(id: file.id, name: file.name) { [claims] in try claims.complete(file, archive: archive) }
            } else {
                let reason = delivery.deadLetterReason
                self.settleRetry.perform(id: file.id, name: file.name) { [claims] in try claims.bury(file, reason: reason) }
            }
        }
        dispatcher.deliver(delivery, to: matching)
    }

    /// Messages a previous run claimed and did not finish: dispatched again, oldest first.
    private func recoverClaimedMessages() {
        let files: [ClaimedFile]
        do {
            files = try claims.claimedMessages()
        } catch {
            log.record("error", [("err", "\(error)")])
            return
        }
        for file in files {
            if let origin = claims.lineOrigin(of: file) {
                channels.recover(file, from: origin)
                continue
            }
            // Delivered to whatever file rules match it now; if none does any more, it becomes
            // a dead letter rather than being dropped.
            let matching = rules.rules(for: file.name, event: .file)
            if matching.isEmpty {
                dispatcher.countNoMatch()
                log.record("nomatch", name: file.name, [("id", file.id), ("name", file.name), ("event", "file")])
                let reason = "no rule matches \(text(file.name)) any more\n".bytes
                settleRetry.perform(id: file.id, name: file.name) { [claims] in try claims.bury(file, reason: reason) }
                continue
            }
            // A run of it that a killed daemon left may still be going: never two at once.
            leftovers.afterLeftovers(of: file.id) { [unowned self] in self.deliver(file, to: matching, recovered: true) }
        }
    }

    /// A state file is dispatched where it is, never claimed; a rewrite while its handlers run
    /// queues one more run, however many rewrites there were. A scan dispatches it only when it
    /// changed since its last dispatch (or was never dispatched by this daemon).
    private func dispatchStateFile(_ name: Bytes, to matching: [Rule], foundByScan: Bool) {
        if stateFileRuns[name] != nil {
            stateFileRuns[name] = true
            return
        }
        let path = layout.path(of: name)
        guard let status = try? layout.spool.status(name), status.type == .file else { return }
        let version = FileVersion(status)
        if foundByScan && stateFileVersions[name] == version { return }
        stateFileVersions[name] = version
        stateFileRuns[name] = false
        let id = ids.next()
        let body = MessageBody.stateFile(StateFile(path: path, spool: layout.spool, name: name))
        let message = Message(id: id, name: name, event: .file, type: .file, body: body,
                              peer: Peer(pid: nil, uid: status.owner, gid: status.group))
        dispatcher.countReceived()
        log.record("recv", name: name, [("id", id), ("name", name), ("event", "file"), ("size", status.size), ("then", "keep")])
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { [unowned self] _ in
            if self.stateFileRuns.removeValue(forKey: name) == true { self.admitFile(name, foundByScan: false) }
        }
        dispatcher.deliver(delivery, to: matching)
    }

    /// The name the file `path` has in the spool, if it is in it: its folder resolved as the
    /// spool's path was (the file itself may be a symlink).
    private static func name(of path: Bytes, in layout: SpoolLayout) -> Bytes? {
        guard let folder = try? FileSystem.realPath(path.deletingLastPathComponent) else { return nil }
        let real = folder.appendingPathComponent(path.lastPathComponent)
        let prefix = layout.root + [UInt8(ascii: "/")]
        return real.starts(with: prefix) ? Bytes(real.dropFirst(prefix.count)) : nil
    }

    // MARK: - Node and gone events

    private func deliverNodeEvent(_ name: Bytes, type: NodeType, event: EventKind) {
        guard SpoolLayout.isDispatchable(name) else { return }
        let matching = rules.rules(for: name, event: event)
        guard !matching.isEmpty else { return }
        let id = ids.next()
        let message = Message(id: id, name: name, event: event, type: type, body: .none, peer: nil)
        dispatcher.countReceived()
        log.record("recv", name: name, [("id", id), ("name", name), ("event", event.rawValue), ("type", type.rawValue)])
        dispatcher.deliver(Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { _ in }, to: matching)
    }

    // MARK: - Rules

    private func reload(always: Bool) {
        do {
            let (text, newRules) = try rulesFile.load(handlers: handlers)
            if !always && text == rulesText { return }
            rulesText = text
            rules = newRules
            reportedNoMatch.removeAll()
            applyDirectives()
            log.record("reload", [("rules", rulesFile.path), ("count", newRules.rules.count)])
        } catch let error as RulesError {
            for diagnostic in error.diagnostics {
                log.record("error", [
                    ("rules", rulesFile.path), ("line", diagnostic.line), ("col", diagnostic.column),
                    ("err", diagnostic.message), ("kept", "previous rules"),
                ])
            }
        } catch {
            log.record("error", [("rules", rulesFile.path), ("err", "\(error)"), ("kept", "previous rules")])
        }
    }

    /// Has the channels follow the rules: `mkfifo` FIFOs made, `listen` sockets opened or closed.
    private func applyDirectives() {
        channels.apply(rules)
    }

    // MARK: - Signals and stopping

    private func signalsArrived() {
        guard let signals, let received = try? KernelNotifiers.readSignals(signals) else { return }
        for signal in received {
            if signal == ProcessSignal.hangUp {
                reload(always: true)
            } else {
                stop(signal)
            }
        }
    }

    /// The spool was moved, deleted or unmounted: stop as after SIGTERM, then exit 1.
    private func spoolLost() {
        guard let what = presence.readLoss(), failure == nil else { return }
        let failure = SpoolBusError("the spool \(text(layout.root)) \(what) while the daemon served it; stopping (exit 1) so that a supervisor starts it again")
        self.failure = failure
        log.record("error", [("spool", layout.root), ("err", failure.description)])
        loop.unregister(presence.inotify.descriptor)
        stop(nil)
    }

    private func stop(_ signal: Int32?) {
        guard !stopping else { return }
        stopping = true
        stopSignal = signal
        loop.unregister(watcher.inotify.descriptor)
        channels.stop()
        dispatcher.shutdown(grace: options.grace) { [unowned self] in self.loop.stop() }
    }
}

/// Enough of a file's status to tell that it was rewritten or replaced.
private struct FileVersion: Equatable {
    let inode: UInt64
    let size: Int
    let modified: Int64

    init(_ status: FileStatus) {
        inode = status.inode
        size = status.size
        modified = status.modified
    }
}
