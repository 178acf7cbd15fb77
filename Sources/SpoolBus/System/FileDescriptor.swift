import CSpoolBusLinux
import Glibc

/// An open file descriptor, owned: `close()` gives its number up, so a second close (or a use
/// after close) can never reach a descriptor that the kernel has since handed to someone else.
/// After `close()`, `rawValue` is -1 and every call on it fails with EBADF.
public final class FileDescriptor: Hashable, @unchecked Sendable {
    private var number: Int32
    /// The descriptor's number, or -1 once closed.
    public var rawValue: Int32 { number }
    /// Takes ownership of `rawValue`.
    public init(rawValue: Int32) { number = rawValue }

    public static func == (lhs: FileDescriptor, rhs: FileDescriptor) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Flags for `open`, each named after its C constant.
    public struct OpenOptions: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenOptions([])
        /// O_WRONLY
        public static let writeOnly = OpenOptions(rawValue: O_WRONLY)
        /// O_RDWR
        public static let readWrite = OpenOptions(rawValue: O_RDWR)
        /// O_CREAT
        public static let create = OpenOptions(rawValue: O_CREAT)
        /// O_EXCL
        public static let exclusive = OpenOptions(rawValue: O_EXCL)
        /// O_TRUNC
        public static let truncate = OpenOptions(rawValue: O_TRUNC)
        /// O_APPEND
        public static let append = OpenOptions(rawValue: O_APPEND)
        /// O_NONBLOCK
        public static let nonBlocking = OpenOptions(rawValue: O_NONBLOCK)
        /// O_NOFOLLOW
        public static let noFollow = OpenOptions(rawValue: O_NOFOLLOW)
        /// O_DIRECTORY
        public static let directory = OpenOptions(rawValue: O_DIRECTORY)
    }

    /// Opens `path` with O_CLOEXEC always set: no descriptor of the daemon leaks into a handler.
    public static func open(_ path: Bytes, _ options: OpenOptions, mode: UInt32 = 0o644) throws -> FileDescriptor {
        let fd = try syscall("open", path: path) {
            path.withCPath { Glibc.open($0, options.rawValue | O_CLOEXEC, mode) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file, nil when it would block.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try nonBlockingSyscall("read") { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Writes some of `bytes`; returns how many, or nil when it would block.
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> Int? {
        try nonBlockingSyscall("write") { Glibc.write(rawValue, bytes.baseAddress, bytes.count) }
    }

    /// Writes all of `bytes`, looping over short writes (for blocking descriptors).
    public func writeAll(_ bytes: Bytes) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                guard let n = try write(UnsafeRawBufferPointer(rebasing: buffer[offset...])) else {
                    throw SystemError(errno: EAGAIN, operation: "write")
                }
                offset += n
            }
        }
    }

    /// Reads until end of file (for blocking descriptors), at most `limit` bytes.
    public func readAll(limit: Int = .max) throws -> Bytes {
        var result = Bytes()
        var chunk = Bytes(repeating: 0, count: 65536)
        while result.count < limit {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) } ?? 0
            if n == 0 { break }
            result += chunk[..<min(n, limit - result.count)]
        }
        return result
    }

    /// Whether `close()` has not been called yet.
    public var isOpen: Bool { number >= 0 }

    /// Closes the descriptor, once. Not retried on EINTR: on Linux the descriptor is gone either
    /// way. A second close, or EBADF from the kernel, is a programming error: it stops debug
    /// builds, and release builds never pass the old number to the kernel again.
    public func close() {
        let old = number
        guard old >= 0 else {
            assertionFailure("descriptor closed twice")
            return
        }
        number = -1
        if Glibc.close(old) != 0 && errno == EBADF { assertionFailure("close(\(old)): EBADF") }
    }

    public func synchronize() throws {
        _ = try syscall("fsync") { Glibc.fsync(rawValue) }
    }

    /// syncfs: everything written to this descriptor's filesystem reaches the disk, in one call
    /// (what many small files written together need, instead of an fsync each).
    public func synchronizeFileSystem() throws {
        _ = try syscall("syncfs") { csb_syncfs(rawValue) }
    }

    public func status() throws -> FileStatus {
        var st = stat()
        _ = try syscall("fstat") { fstat(rawValue, &st) }
        return FileStatus(st)
    }

    public func setNonBlocking() throws {
        let flags = try syscall("fcntl") { fcntl(rawValue, F_GETFL) }
        _ = try syscall("fcntl") { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    public func clearNonBlocking() throws {
        let flags = try syscall("fcntl") { fcntl(rawValue, F_GETFL) }
        _ = try syscall("fcntl") { fcntl(rawValue, F_SETFL, flags & ~O_NONBLOCK) }
    }

    /// Empties the file and moves the offset to its start.
    public func truncate() throws {
        _ = try syscall("ftruncate") { ftruncate(rawValue, 0) }
        try rewind()
    }

    /// Moves the read/write offset to the start (a handler's stdin is read from the beginning).
    public func rewind() throws {
        _ = try syscall("lseek") { lseek(rawValue, 0, SEEK_SET) }
    }

    /// Takes an exclusive flock without waiting; false when another process holds it.
    public func tryLockExclusive() throws -> Bool {
        try nonBlockingSyscall("flock") { flock(rawValue, LOCK_EX | LOCK_NB) } != nil
    }

    /// Takes a read lease, which the kernel refuses (EAGAIN) while anyone has the file open for
    /// writing: how a scan tells a complete file from one still being written.
    /// Returns false while a writer holds it open.
    public func tryReadLease() throws -> Bool {
        try nonBlockingSyscall("fcntl(F_SETLEASE)") { csb_set_read_lease(rawValue) } != nil
    }

    /// A pipe whose ends are close-on-exec, and non-blocking when asked.
    public static func pipe(nonBlocking: Bool) throws -> (readEnd: FileDescriptor, writeEnd: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { csb_pipe2(&fds, 1, nonBlocking ? 1 : 0) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// An anonymous in-memory file holding `content`, positioned at its start: a handler's
    /// stdin for a line message, which never blocks the daemon however long the line.
    public static func memoryFile(holding content: Bytes) throws -> FileDescriptor {
        let fd = FileDescriptor(rawValue: try syscall("memfd_create") { csb_memfd_create("spoolbus-body") })
        do {
            try fd.writeAll(content)
            try fd.rewind()
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// Whether this descriptor is a terminal (the log mirrors to stderr only then).
    public var isTerminal: Bool { isatty(rawValue) == 1 }
}
