/// State files: files matched by a `then=keep` rule. They are dispatched where they are, never
/// claimed, so a handler reads the file's current content and the file stays for the next write.
///
/// A rewrite while its handlers run queues one more run, however many rewrites there were. A
/// scan dispatches a state file only when it changed since its last dispatch (or was never
/// dispatched by this daemon), so a rescan does not run every state file again.
final class StateFiles {
    private let layout: SpoolLayout
    private let dispatcher: Dispatcher
    private let log: DispatchLog
    private let nextID: () -> Bytes
    /// What each state file was like when last dispatched.
    private var versions: [Bytes: FileVersion] = [:]
    /// State files being dispatched, and whether a rewrite asked for one more run.
    private var runs: [Bytes: Bool] = [:]
    /// Called with the name of a state file rewritten while it ran, once its run is done.
    var rewritten: (Bytes) -> Void = { _ in }

    init(layout: SpoolLayout, dispatcher: Dispatcher, log: DispatchLog, nextID: @escaping () -> Bytes) {
        self.layout = layout
        self.dispatcher = dispatcher
        self.log = log
        self.nextID = nextID
    }

    /// Dispatches the state file `name` to `matching`, or queues one more run if it is running.
    func dispatch(_ name: Bytes, to matching: [Rule], foundByScan: Bool) {
        if runs[name] != nil {
            runs[name] = true
            return
        }
        let path = layout.path(of: name)
        guard let status = try? layout.spool.status(name), status.type == .file else { return }
        let version = FileVersion(status)
        if foundByScan && versions[name] == version { return }
        versions[name] = version
        runs[name] = false
        let id = nextID()
        let body = MessageBody.stateFile(StateFile(path: path, spool: layout.spool, name: name))
        let message = Message(id: id, name: name, event: .file, type: .file, body: body,
                              peer: Peer(pid: nil, uid: status.owner, gid: status.group))
        dispatcher.countReceived()
        log.record("recv", name: name, [("id", id), ("name", name), ("event", "file"), ("size", status.size), ("then", "keep")])
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { [unowned self] _ in
            if self.runs.removeValue(forKey: name) == true { self.rewritten(name) }
        }
        dispatcher.deliver(delivery, to: matching)
    }

    /// The name is gone: a file that appears there again is new, whatever its status.
    func forget(_ name: Bytes) {
        versions[name] = nil
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
