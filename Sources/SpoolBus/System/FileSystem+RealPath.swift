import Glibc

extension FileSystem {
    /// realpath: `path` with every symlink and `..` resolved. The spool is resolved once, at
    /// start, from the folder the daemon holds open (`/proc/self/fd/N`), so the path it logs
    /// and hands to handlers is the folder it serves.
    public static func realPath(_ path: Bytes) throws -> Bytes {
        guard let resolved = path.withCPath({ realpath($0, nil) }) else {
            throw SystemError(errno: errno, operation: "realpath", path: path)
        }
        defer { free(resolved) }
        return Bytes(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
    }
}

extension SystemInfo {
    /// geteuid: the user whose files the daemon's state folder must be.
    public static var effectiveUserID: UInt32 { geteuid() }
}
