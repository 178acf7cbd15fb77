/// Notices the spool folder itself being moved, deleted or unmounted while the daemon serves it.
///
/// After that, new messages arrive at a path the daemon no longer watches: it would keep
/// running, deaf. The bus logs an error and exits 1 instead, so a supervisor restarts it on the
/// spool's path. This uses an inotify instance of its own, watching only the spool folder for
/// IN_MOVE_SELF and IN_DELETE_SELF (IN_UNMOUNT and IN_IGNORED come unasked), so every event it
/// reads means the spool is gone from where it was.
final class SpoolPresence {
    let inotify: Inotify
    private var buffer = Bytes(repeating: 0, count: 4096)

    init(root: Bytes) throws {
        inotify = try Inotify()
        do {
            _ = try inotify.addWatch(root, mask: [.moveSelf, .deleteSelf, .onlyDirectory, .dontFollow])
        } catch let error as SystemError where error.isInotifyWatchLimit {
            throw SpoolBusError(FolderWatchRetry.limitMessage(root))
        }
    }

    /// What happened to the spool, in a few words, when its watch reported something.
    func readLoss() -> String? {
        guard let events = try? inotify.readEvents(into: &buffer), let first = events.first else { return nil }
        if first.mask.contains(.moveSelf) { return "was moved or renamed" }
        if first.mask.contains(.deleteSelf) { return "was deleted" }
        return "was unmounted"
    }
}
