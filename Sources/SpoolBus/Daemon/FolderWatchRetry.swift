/// Folders of the spool that could not be watched because the inotify watch limit is reached
/// (`fs.inotify.max_user_watches`). Until watched, a folder's messages would go unseen, so each
/// is tried again with backoff and, once watched, walked again like a folder that just appeared.
final class FolderWatchRetry {
    private let loop: EventLoop
    private let log: DispatchLog
    /// Folders waiting for the next try, in the order they failed.
    private var waiting: [Bytes] = []
    /// Folders handed back to the scanner by the last try, not yet watched.
    private var trying: Set<Bytes> = []
    private var timer: EventLoop.TimerID?
    private var backoff = RetryBackoff()
    /// Queues folders for the scanner, which watches each before listing it.
    var rescan: ([Bytes]) -> Void = { _ in }

    init(loop: EventLoop, log: DispatchLog) {
        self.loop = loop
        self.log = log
    }

    /// Folders without a watch (`status`).
    var count: Int { waiting.count + trying.count }

    /// What to tell the user when `error` is the watch limit, in place of "No space left on device".
    static func limitMessage(_ path: Bytes) -> String {
        "cannot watch '\(text(path))': the inotify watch limit is reached; raise it (sysctl fs.inotify.max_user_watches=N, "
            + "or user.max_inotify_watches in a user namespace)"
    }

    /// `folder` (relative to the spool) could not be watched for lack of watches. Logged once,
    /// when it first fails; tried again until it succeeds.
    func failed(_ folder: Bytes, path: Bytes) {
        if trying.remove(folder) == nil {
            log.record("error", name: folder, [("name", folder), ("err", Self.limitMessage(path)), ("retry", "with backoff, then rescan")])
        }
        if !waiting.contains(folder) { waiting.append(folder) }
        guard timer == nil else { return }
        timer = loop.schedule(after: backoff.next()) { [unowned self] in
            self.timer = nil
            self.trying.formUnion(self.waiting)
            let folders = self.waiting
            self.waiting.removeAll()
            self.rescan(folders)
        }
    }

    /// `folder` is watched now; true when it was one waiting for a retry (the scan that watched
    /// it walks it again).
    func watched(_ folder: Bytes) -> Bool {
        guard trying.remove(folder) != nil else { return false }
        if waiting.isEmpty && trying.isEmpty { backoff.reset() }
        return true
    }

    /// `folder` could not be tried for another reason (it is gone): no longer waited for.
    func forget(_ folder: Bytes) {
        trying.remove(folder)
        waiting.removeAll { $0 == folder }
    }
}
