/// Spools inside spools. Two daemons whose spools nest would both see the inner spool's files
/// and split them between their rules; so a daemon refuses to start inside a served spool, and
/// leaves alone (with an error line) a served spool it finds inside its own: whichever daemon
/// served first keeps its files.
enum SpoolNesting {
    private static let lockName = ".spoolbus/lock".bytes

    /// The pid of the live daemon serving the spool at `folder` (relative, not empty) inside
    /// `spool`, or nil when none does. Resolved beneath `spool`: a symlink on the way is no spool.
    static func servingDaemon(of folder: Bytes, in spool: Directory) -> String? {
        guard let fd = try? spool.open(folder.appendingPathComponent(lockName), [.readOnly, .nonBlocking]) else { return nil }
        defer { fd.close() }
        return holder(of: fd)
    }

    /// The nearest folder above `spool` (absolute) that a live daemon serves, and its pid.
    static func servedAncestor(of spool: Bytes) -> (folder: Bytes, pid: String)? {
        var folder = spool
        while folder.count > 1 {
            folder = folder.deletingLastPathComponent
            guard let fd = try? FileDescriptor.open(folder.appendingPathComponent(lockName), [.readOnly, .nonBlocking, .noFollow])
            else { continue }
            defer { fd.close() }
            if let pid = holder(of: fd) { return (folder, pid) }
        }
        return nil
    }

    /// A daemon holds the flock on its lock file while it runs, whatever the file says; the
    /// file holds its pid.
    private static func holder(of lock: FileDescriptor) -> String? {
        guard (try? lock.status())?.type == .file, let free = try? lock.tryLockExclusive(), !free else { return nil }
        let digits = (try? lock.readAll(limit: 32)).map { text($0).filter(\.isNumber) } ?? ""
        return digits.isEmpty ? "?" : digits
    }
}
