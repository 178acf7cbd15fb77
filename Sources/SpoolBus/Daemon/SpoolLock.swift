/// The flock on `.spoolbus/lock` that makes one daemon the only one serving a spool. The file
/// holds the owner's pid, so a second daemon can say who serves the spool.
struct SpoolLock {
    private let descriptor: FileDescriptor

    /// Takes the lock, or throws naming the pid that holds it.
    static func acquire(_ layout: SpoolLayout) throws -> SpoolLock {
        let fd = try FileDescriptor.open(layout.lock, [.readWrite, .create], mode: 0o644)
        guard try fd.tryLockExclusive() else {
            let digits = (try? fd.readAll(limit: 32)).map { text($0).filter(\.isNumber) } ?? ""
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
