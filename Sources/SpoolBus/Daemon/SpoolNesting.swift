/// Spools inside spools. Two daemons whose spools nest would both see the inner spool's files
/// and split them between their rules; so a daemon refuses to start inside a served spool, and
/// leaves alone (with an error line) a served spool it finds inside its own: whichever daemon
/// served first keeps its files.
///
/// A held lock proves only that someone holds it. In a folder others may write to, a producer
/// can make `.spoolbus/lock` and flock it, and would so take the folder, and every file others
/// drop in it, away from the daemon. So a claim counts only when the folder is its owner's
/// alone (writable by no group or others) and `.spoolbus/` and its lock are that owner's too.
enum SpoolNesting {
    private static let markerName = ".spoolbus".bytes
    private static let lockName = "lock".bytes

    /// A live daemon's lock found in a folder.
    enum Claim {
        /// The folder is served by the daemon of this pid.
        case served(pid: String)
        /// A lock is held there (by this pid), but not in a way only the folder's owner could
        /// have arranged: the folder is not another daemon's.
        case unproven(pid: String, reason: String)
    }

    /// The nearest folder above `spool` (absolute, with no symlinks) that a live daemon serves,
    /// and its pid. Unproven claims are passed over.
    static func servedAncestor(of spool: Bytes) -> (folder: Bytes, pid: String)? {
        var folder = spool
        while folder.count > 1 {
            folder = folder.deletingLastPathComponent
            guard let ancestor = try? Directory.open(folder) else { continue }
            defer { ancestor.close() }
            if case .served(let pid) = claim(on: ancestor) { return (folder, pid) }
        }
        return nil
    }

    /// The claim on `folder`, or nil when no live daemon's lock is there. Each step goes through
    /// the descriptor of the one before, without following symlinks, so the nodes checked are
    /// the ones the lock was found in.
    static func claim(on folder: Directory) -> Claim? {
        guard let marker = try? folder.openDirectory(markerName) else { return nil }
        defer { marker.close() }
        guard let lock = try? marker.open(lockName, [.readOnly, .nonBlocking]) else { return nil }
        defer { lock.close() }
        guard let pid = holder(of: lock) else { return nil }
        guard let folderStatus = try? folder.status(), let markerStatus = try? marker.status(), let lockStatus = try? lock.status()
        else { return nil }
        if folderStatus.permissions & 0o022 != 0 {
            return .unproven(pid: pid, reason: "the folder (mode \(String(folderStatus.permissions, radix: 8))) is writable by others")
        }
        let owner = folderStatus.owner
        if markerStatus.owner != owner || lockStatus.owner != owner {
            return .unproven(pid: pid, reason: "the folder is uid \(owner)'s, but .spoolbus/ uid \(markerStatus.owner)'s"
                             + " and its lock uid \(lockStatus.owner)'s")
        }
        return .served(pid: pid)
    }

    /// A daemon holds the flock on its lock file while it runs, whatever the file says; the
    /// file holds its pid.
    private static func holder(of lock: FileDescriptor) -> String? {
        guard (try? lock.status())?.type == .file, let free = try? lock.tryLockExclusive(), !free else { return nil }
        let digits = (try? lock.readAll(limit: 32)).map { text($0.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) } ?? ""
        return digits.isEmpty ? "?" : digits
    }
}
