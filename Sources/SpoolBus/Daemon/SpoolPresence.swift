/// Notices the spool folder being moved, deleted or unmounted while the daemon serves it.
///
/// After that, new messages arrive at a path the daemon no longer watches: it would keep
/// running, deaf. The bus logs an error and exits 1 instead, so a supervisor restarts it on the
/// spool's path. This uses an inotify instance of its own, watching only the spool folder:
///
/// - IN_MOVE_SELF: the spool was renamed or moved;
/// - IN_DELETE_SELF, IN_UNMOUNT (and IN_IGNORED after them): deleted or unmounted; but the kernel
///   sends IN_DELETE_SELF only once nothing holds the folder, and the daemon's own descriptors
///   beneath it (the lock) do, so a deletion (`rm -rf`) is seen by its last step inside the
///   spool instead:
/// - IN_DELETE or IN_MOVED_FROM of `.spoolbus`: the state folder is gone, and with it the lock
///   that keeps a second daemon away.
final class SpoolPresence {
    let inotify: Inotify
    private let spool: Directory
    private var buffer = Bytes(repeating: 0, count: 16 * 1024)
    private static let stateFolder = ".spoolbus".bytes

    /// Watches `spool`, the folder the daemon holds open: through its descriptor
    /// (`/proc/self/fd/N`, a link the kernel must follow), never through its name again.
    init(spool: Directory) throws {
        inotify = try Inotify()
        self.spool = spool
        do {
            _ = try inotify.addWatch(spool.procPath(), mask: [.moveSelf, .deleteSelf, .delete, .movedFrom, .onlyDirectory])
        } catch let error as SystemError where error.isInotifyWatchLimit {
            throw SpoolBusError(FolderWatchRetry.limitMessage(spool.path))
        }
    }

    /// What happened to the spool, in a few words, when something did; nil for the comings and
    /// goings of other names in the spool folder.
    func readLoss() -> String? {
        var loss: String?
        while let events = try? inotify.readEvents(into: &buffer), !events.isEmpty {
            for event in events where loss == nil {
                if event.mask.contains(.overflow) {
                    // Events were lost (a flood of claims in the spool folder): look instead.
                    if stateFolderIsGone {
                        loss = "was deleted (its state folder .spoolbus is gone)"
                    }
                } else if event.mask.contains(.moveSelf) {
                    loss = "was moved or renamed"
                } else if event.mask.contains(.deleteSelf) {
                    loss = "was deleted"
                } else if event.name.isEmpty {
                    loss = "was unmounted"
                } else if event.name == Self.stateFolder {
                    loss = event.mask.contains(.movedFrom) ? "lost its state folder (.spoolbus was moved away)"
                        : "was deleted (its state folder .spoolbus is gone)"
                }
            }
        }
        return loss
    }

    private var stateFolderIsGone: Bool {
        do {
            return try spool.statusIfPresent(Self.stateFolder) == nil
        } catch {
            return false
        }
    }
}
