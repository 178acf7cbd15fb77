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

    /// Whether the file is on a file system whose files check the opener at open or at read
    /// (procfs: ptrace access, `/proc/PID/stack` wants CAP_SYS_ADMIN of the opener; sysfs,
    /// debugfs and their kin): opened anew by root, such a file grants root's access, not the
    /// holder's. Unknown (fstatfs failed) counts as such.
    public var isOnOpenerCheckedFileSystem: Bool {
        var type: UInt64 = 0
        guard csb_file_system_type(rawValue, &type) == 0 else { return true }
        return Self.openerCheckedFileSystems.contains(type)
    }

    /// procfs, sysfs, debugfs, tracefs, securityfs, cgroup, cgroup2, bpf, configfs, efivarfs,
    /// pstore, selinuxfs, smackfs (`linux/magic.h`).
    private static let openerCheckedFileSystems: Set<UInt64> = [
        0x9fa0, 0x6265_6572, 0x6462_6720, 0x7472_6163, 0x7363_6673, 0x0027_e0eb, 0x6367_7270,
        0xcafe_4a11, 0x6265_6570, 0xde5e_81e4, 0x6165_676c, 0xf97c_ff8c, 0x4341_5d53,
    ]

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
