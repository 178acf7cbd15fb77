/// Turns a file in the spool into a message: matches it against the rules, claims it (moves it
/// into `work/` under its id) and hands it to the dispatcher, with its settling attached.
/// State files (`then=keep`) go to `StateFiles` instead.
final class FileAdmission {
    /// Messages admitted (claimed and not finished) at most; past it, file events are dropped
    /// and a later scan finds the files again, so a backlog costs disk, not memory.
    static let limit = 1024

    private let rules: CurrentRules
    private let claims: ClaimStore
    private let watcher: SpoolWatcher
    private let dispatcher: Dispatcher
    private let settlement: Settlement
    private let log: DispatchLog
    private let nextID: () -> Bytes
    private let stateFiles: StateFiles
    /// The rules file's name in the spool, when it sits in it (`--spool .`): never a message.
    private let rulesFileName: Bytes?
    private let spool: Directory
    /// Names already logged `nomatch`, with the file's identity then, so that a rescan, or the
    /// event of a file a scan already found, does not log and count it again: a folder made with
    /// its file in it is scanned once watched, and the file's own event, queued since the watch
    /// was added, arrives after the scan (bounded; forgotten on a reload, which may change what
    /// matches). A file written again is news: its identity changed.
    private var reportedNoMatch: [Bytes: FileIdentity?] = [:]
    private static let reportedNoMatchLimit = 4096

    init(rules: CurrentRules, claims: ClaimStore, watcher: SpoolWatcher, dispatcher: Dispatcher, settlement: Settlement,
         log: DispatchLog, layout: SpoolLayout, rulesFileName: Bytes?, nextID: @escaping () -> Bytes) {
        self.rules = rules
        self.claims = claims
        self.watcher = watcher
        self.dispatcher = dispatcher
        self.settlement = settlement
        self.log = log
        self.rulesFileName = rulesFileName
        spool = layout.spool
        self.nextID = nextID
        stateFiles = StateFiles(layout: layout, dispatcher: dispatcher, log: log, nextID: nextID)
        stateFiles.rewritten = { [unowned self] name in self.admit(name, foundByScan: false) }
    }

    /// Whether the dispatcher can take another message now.
    var hasRoom: Bool { dispatcher.load < Self.limit }

    /// `foundByScan`: seen by a scan rather than announced by an event, so possibly seen before.
    func admit(_ name: Bytes, foundByScan: Bool) {
        guard SpoolLayout.isDispatchable(name), name != rulesFileName else { return }
        let matching = rules.rules.rules(for: name, event: .file)
        guard !matching.isEmpty else {
            let identity = (try? spool.status(name)).map(FileIdentity.init)
            if let reported = reportedNoMatch[name], foundByScan || (identity != nil && reported == identity) { return }
            dispatcher.countNoMatch()
            log.record("nomatch", name: name, [("name", name), ("event", "file")])
            if reportedNoMatch.count < Self.reportedNoMatchLimit || reportedNoMatch[name] != nil { reportedNoMatch[name] = identity }
            return
        }
        if matching.contains(where: { $0.then == .keep }) {
            stateFiles.dispatch(name, to: matching, foundByScan: foundByScan)
            return
        }
        let id = nextID()
        // The claim's own move out of the spool is not news to the watcher.
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

    /// Dispatches a claimed file to `matching`; `recovered`: claimed by an earlier daemon.
    func deliver(_ file: ClaimedFile, to matching: [Rule], recovered: Bool) {
        let message = Message(id: file.id, name: file.name, event: .file, type: .file, body: .claimedFile(file),
                              peer: Peer(pid: nil, uid: file.owner, gid: file.group))
        var fields: [(String, any LogValue)] = [("id", file.id), ("name", file.name), ("event", "file"), ("size", file.size)]
        if recovered { fields.append(("recovered", 1)) }
        dispatcher.countReceived()
        log.record("recv", name: file.name, fields)
        let archive = matching.contains { $0.then == .archive }
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: claims.deadLetterName(of: file)) {
            [settlement] delivery in settlement.settle(delivery, file: file, archive: archive)
        }
        dispatcher.deliver(delivery, to: matching)
    }

    /// A file of the spool is gone (removed or moved away).
    func fileGone(_ name: Bytes) {
        stateFiles.forget(name)
    }

    /// New rules may match names that matched nothing before: they are logged again.
    func rulesChanged() {
        reportedNoMatch.removeAll()
    }
}

/// Which file a name held when it was seen: another file, or the same one written again, differs.
private struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64
    let modified: Int64
    let changed: Int64

    init(_ status: FileStatus) {
        device = status.device
        inode = status.inode
        modified = status.modified
        changed = status.changed
    }
}
