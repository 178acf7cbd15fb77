/// Spools inside spools. Two daemons whose spools nest would both see the inner spool's files
/// and split them between their rules; so a daemon refuses to start inside a served spool, and
/// leaves alone (with an error line) a served spool it finds inside its own: whichever daemon
/// served first keeps its files.
enum SpoolNesting {
    /// The pid of the live daemon serving the spool at `folder` (absolute), or nil when none
    /// does: a daemon holds the flock on `.spoolbus/lock` while it runs, whatever the file says.
    static func servingDaemon(of folder: Bytes) -> String? {
        let lock = folder.appendingPathComponent(".spoolbus/lock".bytes)
        guard let fd = try? FileDescriptor.open(lock, [.readOnly, .noFollow, .nonBlocking]) else { return nil }
        defer { fd.close() }
        guard let free = try? fd.tryLockExclusive(), !free else { return nil }
        let digits = (try? fd.readAll(limit: 32)).map { text($0).filter(\.isNumber) } ?? ""
        return digits.isEmpty ? "?" : digits
    }

    /// The nearest folder above `spool` (absolute) that a live daemon serves, and its pid.
    static func servedAncestor(of spool: Bytes) -> (folder: Bytes, pid: String)? {
        var folder = spool
        while folder.count > 1 {
            folder = folder.deletingLastPathComponent
            if let pid = servingDaemon(of: folder) { return (folder, pid) }
        }
        return nil
    }
}
