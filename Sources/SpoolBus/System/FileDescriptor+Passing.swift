import CSpoolBusLinux
import Glibc

/// What a descriptor passed from another process needs: a copy for a child's stdin, its offset,
/// whether it may be read at all.
extension FileDescriptor {
    /// A new close-on-exec descriptor for the same open file (F_DUPFD_CLOEXEC).
    public func duplicate() throws -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("fcntl(F_DUPFD_CLOEXEC)") { fcntl(rawValue, F_DUPFD_CLOEXEC, 0) })
    }

    /// A new open file description of the same file, read-only (through `/proc/self/fd/N`): its
    /// own offset, which no other reader moves. For a regular file this descriptor can already
    /// read, so it grants nothing the holder did not have.
    ///
    /// The open does not block: the holder may own a write lease (F_SETLEASE) on the file, and
    /// an open that breaks a lease waits up to `/proc/sys/fs/lease-break-time` (45 s) for the
    /// holder to give it up. It fails with EAGAIN instead; the new descriptor blocks as usual.
    public func reopenForReading() throws -> FileDescriptor {
        let own = try FileDescriptor.open("/proc/self/fd/\(rawValue)".bytes, [.readOnly, .nonBlocking])
        do {
            try own.clearNonBlocking()
        } catch {
            own.close()
            throw error
        }
        return own
    }

    /// The offset, or nil when the file has none (a pipe, a socket, a terminal: ESPIPE).
    public func currentOffset() -> Int64? {
        let offset = lseek(rawValue, 0, SEEK_CUR)
        return offset < 0 ? nil : Int64(offset)
    }

    public func seek(to offset: Int64) throws {
        _ = try syscall("lseek") { lseek(rawValue, off_t(offset), SEEK_SET) }
    }

    /// Whether the descriptor was opened for reading: not O_WRONLY, not O_PATH.
    public var isOpenForReading: Bool {
        let flags = fcntl(rawValue, F_GETFL)
        guard flags >= 0 else { return false }
        return flags & O_ACCMODE != O_WRONLY && flags & csb_o_path() == 0
    }
}
