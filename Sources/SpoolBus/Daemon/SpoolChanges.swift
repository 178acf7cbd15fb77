/// What each change in the spool means: a file written is a message to admit, a FIFO a channel
/// to read, a folder one to watch and scan, a node or a removal an event for `node` and `gone`
/// rules, an overflow a reason to scan everything again. Scans run a slice at a time, only while
/// the dispatcher has room, so a large backlog neither starves the loop nor fills memory.
final class SpoolChanges {
    /// Entries a scan reads before letting other events in.
    static let scanSlice = 256

    private let loop: EventLoop
    private let log: DispatchLog
    private let layout: SpoolLayout
    private let watcher: SpoolWatcher
    private let scanner: SpoolScanner
    private let watchRetry: FolderWatchRetry
    private let rules: CurrentRules
    private let admission: FileAdmission
    private let channels: ChannelSet
    /// `node` and `gone` events, within their bound.
    let nodeEvents: NodeEvents
    /// No change means anything once the daemon stops.
    private let isStopping: () -> Bool
    /// Why the spool must be scanned again (`overflow`, `backlog`), nil when it need not.
    private var rescanReason: String?
    private var scanScheduled = false
    /// Called each time a scan has walked everything it was asked to.
    var scanFinished: () -> Void = {}

    init(loop: EventLoop, log: DispatchLog, layout: SpoolLayout, watcher: SpoolWatcher, watchRetry: FolderWatchRetry,
         rules: CurrentRules, admission: FileAdmission, channels: ChannelSet, dispatcher: Dispatcher,
         nextID: @escaping () -> Bytes, isStopping: @escaping () -> Bool) {
        self.loop = loop
        self.log = log
        self.layout = layout
        self.watcher = watcher
        scanner = SpoolScanner(spool: layout.spool)
        self.watchRetry = watchRetry
        self.rules = rules
        self.admission = admission
        self.channels = channels
        nodeEvents = NodeEvents(rules: rules, dispatcher: dispatcher, log: log, nextID: nextID)
        self.isStopping = isStopping
    }

    /// Reads what the watcher saw and acts on each change.
    func spoolChanged() {
        let changes: [SpoolWatcher.Change]
        do {
            changes = try watcher.readChanges()
        } catch {
            log.record("error", [("err", "\(error)")])
            return
        }
        for change in changes where !isStopping() {
            switch change {
            case .fileReady(let name):
                // A writer closing a FIFO looks like a file written and closed.
                if channels.fifos.isFifoEvent(name) { continue }
                if admission.hasRoom {
                    admission.admit(name, foundByScan: false)
                } else {
                    rescanReason = rescanReason ?? "backlog"
                }
            case .nodeAppeared(let name, let type):
                if type == .dir { rescan([name], isNew: true) }
                if type == .fifo { channels.fifos.appeared(name) }
                nodeEvents.deliver(name, type: type, event: .node)
            case .gone(let name, let isDirectory):
                if channels.nodeGone(name) { continue }
                admission.fileGone(name)
                nodeEvents.deliver(name, type: isDirectory ? .dir : .file, event: .gone)
            case .overflow:
                log.record("overflow", [("err", "inotify queue overflowed; events were lost")])
                rescanReason = "overflow"
                scheduleScan()
            case .rulesFileChanged:
                rules.reload(always: false)
            case .folderNeedsScan(let folder):
                rescan([folder], isNew: false)
            }
        }
    }

    /// Queues `folders` (relative to the spool; `[]` is the spool itself) to be walked.
    /// `isNew`: they just appeared, so what is in them is news to `node` rules.
    func rescan(_ folders: [Bytes], isNew: Bool) {
        for folder in folders where !scanner.enqueue(folder, isNew: isNew) {
            // What is in it is found, but not as news: its nodes get no `node` events.
            rescanReason = rescanReason ?? "backlog"
        }
        scheduleScan()
    }

    /// Reads the spool a slice at a time while the dispatcher has room.
    func scheduleScan() {
        guard !scanScheduled, !isStopping(), scanner.isActive || rescanReason != nil else { return }
        scanScheduled = true
        loop.schedule(after: .zero) { [unowned self] in
            self.scanScheduled = false
            self.scanSlice()
        }
    }

    private func scanSlice() {
        var budget = Self.scanSlice
        while budget > 0 && !isStopping() && admission.hasRoom {
            budget -= 1
            guard let found = scanner.next(watch: watchFolder, failure: scanFailed) else {
                guard let reason = rescanReason else {
                    scanFinished()
                    return
                }
                rescanReason = nil
                log.record("rescan", [("reason", reason)])
                scanner.enqueue([], isNew: false)
                continue
            }
            switch found.type {
            case .file: admission.admit(found.name, foundByScan: true)
            case .fifo:
                channels.fifos.appeared(found.name)
                if found.isNew { nodeEvents.deliver(found.name, type: .fifo, event: .node) }
            default: if found.isNew { nodeEvents.deliver(found.name, type: found.type, event: .node) }
            }
        }
        if budget == 0 { scheduleScan() }
    }

    /// Watches a folder the scan is about to list, unless it is another daemon's spool. A lock
    /// that proves nothing (see `SpoolNesting`) is said in an error line, and the folder served.
    private func watchFolder(_ folder: Bytes, _ directory: Directory) throws {
        if !folder.isEmpty, let claim = SpoolNesting.claim(on: directory) {
            switch claim {
            case .served(let pid):
                throw SpoolBusError("folder \(text(folder)) is a spool served by pid \(pid); it is left to that daemon")
            case .unproven(let pid, let reason):
                log.record("error", name: folder, [("name", folder), ("err", "folder \(text(folder)) has a lock held by pid \(pid), "
                    + "but \(reason): a fake spool, ignored; the folder is served here")])
            }
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
}
