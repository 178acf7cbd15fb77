import Glibc

/// What kind of node a path is; the raw values are `SPOOL_TYPE`'s words.
public enum NodeType: String, Sendable {
    case file, fifo, socket, dir, char, block, symlink
    /// Not in the file system: a POSIX message queue's message, or a signal (`SPOOL_TYPE` of
    /// `mq` and `signal` messages).
    case mq, signal

    init?(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .file
        case UInt32(S_IFDIR): self = .dir
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFLNK): self = .symlink
        case UInt32(S_IFCHR): self = .char
        case UInt32(S_IFBLK): self = .block
        default: return nil
        }
    }

    /// From a directory entry's `d_type`; nil when the filesystem did not say (DT_UNKNOWN).
    init?(directoryEntryType: UInt8) {
        switch Int(directoryEntryType) {
        case Int(DT_REG): self = .file
        case Int(DT_DIR): self = .dir
        case Int(DT_FIFO): self = .fifo
        case Int(DT_SOCK): self = .socket
        case Int(DT_LNK): self = .symlink
        case Int(DT_CHR): self = .char
        case Int(DT_BLK): self = .block
        default: return nil
        }
    }
}

/// The parts of `struct stat` the bus looks at.
public struct FileStatus: Sendable {
    public var type: NodeType?
    public var permissions: UInt32
    public var size: Int
    public var owner: UInt32
    public var group: UInt32
    public var device: UInt64
    public var inode: UInt64
    public var linkCount: Int
    /// Last modification, in nanoseconds since the epoch.
    public var modified: Int64
    /// Last status change (a rename into a folder is one), in nanoseconds since the epoch.
    public var changed: Int64

    init(_ st: stat) {
        type = NodeType(mode: st.st_mode)
        permissions = st.st_mode & 0o7777
        size = Int(st.st_size)
        owner = st.st_uid
        group = st.st_gid
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        linkCount = Int(st.st_nlink)
        modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        changed = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }
}
