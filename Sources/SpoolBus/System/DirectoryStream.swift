import Glibc

/// An open directory read one entry at a time, so a scan of a huge folder can pause and go on
/// later without holding every name in memory.
final class DirectoryStream {
    private let handle: OpaquePointer
    let path: Bytes

    init(_ path: Bytes) throws {
        guard let handle = path.withCPath({ opendir($0) }) else {
            throw SystemError(errno: errno, operation: "opendir", path: path)
        }
        self.handle = handle
        self.path = path
    }

    /// Lists `directory` through a duplicate of its descriptor (closedir closes the duplicate).
    init(_ directory: Directory) throws {
        let copy = try syscall("fcntl(F_DUPFD_CLOEXEC)", path: directory.path) {
            fcntl(directory.descriptor.rawValue, F_DUPFD_CLOEXEC, 3)
        }
        guard let handle = fdopendir(copy) else {
            let error = SystemError(errno: errno, operation: "fdopendir", path: directory.path)
            Glibc.close(copy)
            throw error
        }
        rewinddir(handle)
        self.handle = handle
        self.path = directory.path
    }

    deinit { closedir(handle) }

    /// The next entry other than `.` and `..`, or nil at the end.
    func next() -> FileSystem.Entry? {
        while let entry = readdir(handle) {
            let name: Bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Bytes(raw.prefix(while: { $0 != 0 }))
            }
            if name == [46] || name == [46, 46] { continue }
            return FileSystem.Entry(name: name, type: NodeType(directoryEntryType: entry.pointee.d_type))
        }
        return nil
    }
}
