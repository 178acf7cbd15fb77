/// The flock on `.spoolbus/lock` that makes one daemon the only one serving a spool. The file
/// holds the owner's pid, so a second daemon can say who serves the spool.
struct SpoolLock {
    private let descriptor: FileDescriptor

    /// Takes the lock, or throws naming the pid that holds it.
    ///
    /// A daemon killed a moment ago may still have its lock held for a few milliseconds by a
    /// handler it was starting (a child holds the parent's descriptors until its exec closes
    /// them), so a busy lock is tried again for up to a second before the spool counts as served.
    static func acquire(_ layout: SpoolLayout) throws -> SpoolLock {
        // Beneath `.spoolbus/`, never through a symlink; checked to be the daemon's own before.
        let fd = try layout.state.open(SpoolLayout.lockName, [.readWrite, .create], mode: SpoolLayout.lockMode)
        do {
            try fd.changeMode(SpoolLayout.lockMode)
        } catch {
            fd.close()
            throw error
        }
        var locked = try fd.tryLockExclusive()
        for _ in 0..<20 where !locked {
            SystemInfo.sleep(.milliseconds(50))
            locked = try fd.tryLockExclusive()
        }
        guard locked else {
            let digits = (try? fd.readAll(limit: 32)).map { text($0.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) } ?? ""
            fd.close()
            throw SpoolBusError("spool \(text(layout.root)) is already served by pid \(digits.isEmpty ? "?" : digits)")
        }
        try fd.truncate()
        try fd.writeAll("\(SystemInfo.processID)\n".bytes)
        return SpoolLock(descriptor: fd)
    }

    /// Releases the lock (also released by the kernel when the process dies).
    func release() {
        try? descriptor.truncate()
        descriptor.close()
    }
}
