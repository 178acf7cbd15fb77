import CSpoolBusLinux
import Glibc

/// Path-based system calls, each a thin wrapper whose error names the path.
public enum FileSystem {
    /// The longest file name (one path component), in bytes.
    public static let maxNameLength = Int(NAME_MAX)

    /// lstat: symbolic links are never followed in the spool.
    public static func status(_ path: Bytes) throws -> FileStatus {
        var st = stat()
        _ = try syscall("lstat", path: path) { path.withCPath { lstat($0, &st) } }
        return FileStatus(st)
    }

    /// stat: for files the user names (the rules file may well be a symlink).
    public static func statusFollowingLinks(_ path: Bytes) throws -> FileStatus {
        var st = stat()
        _ = try syscall("stat", path: path) { path.withCPath { stat($0, &st) } }
        return FileStatus(st)
    }

    /// Whether the calling process may execute `path`.
    public static func isExecutable(_ path: Bytes) -> Bool {
        path.withCPath { access($0, X_OK) } == 0
    }

    /// Like `status`, but nil when nothing is there.
    public static func statusIfPresent(_ path: Bytes) throws -> FileStatus? {
        do { return try status(path) } catch let error as SystemError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
    }

    /// mkdir; an existing folder is fine.
    public static func makeDirectory(_ path: Bytes, mode: UInt32 = 0o755) throws {
        do {
            _ = try syscall("mkdir", path: path) { path.withCPath { mkdir($0, mode) } }
        } catch let error as SystemError where error.errno == EEXIST {
            guard try status(path).type == .dir else { throw error }
        }
    }

    /// mkdir -p.
    public static func makeDirectories(_ path: Bytes, mode: UInt32 = 0o755) throws {
        if path.isEmpty || (try? status(path))?.type == .dir { return }
        let parent = path.deletingLastPathComponent
        if !parent.isEmpty && parent != path { try makeDirectories(parent, mode: mode) }
        try makeDirectory(path, mode: mode)
    }

    /// One directory entry: its name and, when the filesystem said, its type.
    public struct Entry: Sendable {
        public var name: Bytes
        public var type: NodeType?
    }

    /// The absolute form of `path`, against the current directory; symlinks are not resolved.
    public static func absolute(_ path: Bytes) -> Bytes {
        if path.first == UInt8(ascii: "/") { return normalized(path) }
        return normalized(currentDirectory().appendingPathComponent(path))
    }

    /// Drops `.` components and empty ones, and folds `..` lexically.
    static func normalized(_ path: Bytes) -> Bytes {
        var parts: [Bytes] = []
        for component in path.pathComponents {
            if component == [46] { continue }
            if component == [46, 46] { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(component)
        }
        return [UInt8(ascii: "/")] + Bytes(parts.joined(separator: [UInt8(ascii: "/")]))
    }

    public static func currentDirectory() -> Bytes {
        var buffer = Bytes(repeating: 0, count: Int(PATH_MAX) + 1)
        let ok = buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { getcwd($0.baseAddress, $0.count) != nil }
        }
        return ok ? Bytes(buffer.prefix(while: { $0 != 0 })) : [UInt8(ascii: "/")]
    }

    /// The whole content of a file.
    public static func read(_ path: Bytes, limit: Int = .max) throws -> Bytes {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { fd.close() }
        return try fd.readAll(limit: limit)
    }

}
