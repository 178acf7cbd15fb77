import CSpoolBusLinux
import Glibc

/// A folder held open by a descriptor, and the only way the daemon reaches what lies below it.
///
/// Every relative name is resolved beneath the folder with `openat2(RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV)`: no component may be a symlink, `..` cannot climb out,
/// and no mount point is crossed. A producer who swaps a folder of the spool for a symlink to
/// `/etc` makes the operation fail with ELOOP; it never reaches `/etc`. Operations on the last
/// component (rename, unlink, mkdir, mknod) use the `*at` calls on the parent's descriptor, which
/// never follow a final symlink either.
public final class Directory: @unchecked Sendable {
    /// The open folder. Owned: closed by `close()`.
    public let descriptor: FileDescriptor
    /// What the folder was called when it was opened: for messages only, never resolved again.
    public let path: Bytes

    private init(descriptor: FileDescriptor, path: Bytes) {
        self.descriptor = descriptor
        self.path = path
    }

    /// Opens the folder at `path`, a name the user gave (symlinks in it are followed, once).
    public static func open(_ path: Bytes) throws -> Directory {
        let fd = try FileDescriptor.open(path, [.directory])
        return Directory(descriptor: fd, path: path)
    }

    public func close() { descriptor.close() }

    private func display(_ name: Bytes) -> Bytes {
        name.isEmpty ? path : path.appendingPathComponent(name)
    }

    // MARK: - Opening beneath

    /// Opens `name` (relative, any depth) beneath this folder without following any symlink.
    public func open(_ name: Bytes, _ options: FileDescriptor.OpenOptions, mode: UInt32 = 0o600) throws -> FileDescriptor {
        let relative = name.isEmpty ? [UInt8(ascii: ".")] : name
        let fd = try syscall("open", path: display(name)) {
            relative.withCPath { csb_open_beneath(descriptor.rawValue, $0, options.rawValue, mode) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens the folder `name` (relative, any depth; empty for this folder again) beneath this one.
    public func openDirectory(_ name: Bytes) throws -> Directory {
        Directory(descriptor: try open(name, [.directory]), path: display(name))
    }

    /// An O_PATH descriptor of `name` itself, whatever it is (a symlink stays a symlink): what
    /// `fchmod` through /proc and `fstat` act on without opening a FIFO or a device.
    public func openPath(_ name: Bytes) throws -> FileDescriptor {
        try open(name, FileDescriptor.OpenOptions(rawValue: csb_o_path()))
    }

    /// Runs `body` with the folder holding `name` and the last component of `name`.
    public func withParent<R>(of name: Bytes, _ body: (Directory, Bytes) throws -> R) throws -> R {
        let parentName = name.deletingLastPathComponent
        if parentName.isEmpty { return try body(self, name) }
        let parent = try openDirectory(parentName)
        defer { parent.close() }
        return try body(parent, name.lastPathComponent)
    }

    // MARK: - Status

    /// lstat of `name` beneath this folder.
    public func status(_ name: Bytes) throws -> FileStatus {
        try withParent(of: name) { parent, last in
            var st = stat()
            _ = try syscall("lstat", path: display(name)) {
                last.withCPath { fstatat(parent.descriptor.rawValue, $0, &st, AT_SYMLINK_NOFOLLOW) }
            }
            return FileStatus(st)
        }
    }

    /// Like `status`, but nil when nothing is there (or a component is not a folder).
    public func statusIfPresent(_ name: Bytes) throws -> FileStatus? {
        do { return try status(name) } catch let error as SystemError where error.errno == ENOENT || error.errno == ENOTDIR {
            return nil
        }
    }

    /// fstat of the folder itself.
    public func status() throws -> FileStatus { try descriptor.status() }

    // MARK: - Changing entries

    /// Renames `name` here to `newName` in `target` (both relative, any depth). With
    /// `replacing: false` an existing `newName` is an EEXIST error instead of being replaced.
    public func rename(_ name: Bytes, to target: Directory, as newName: Bytes, replacing: Bool = true) throws {
        try withParent(of: name) { from, fromLast in
            try target.withParent(of: newName) { to, toLast in
                _ = try syscall("rename", path: display(name)) {
                    fromLast.withCPath { f in
                        toLast.withCPath { t in
                            csb_renameat2(from.descriptor.rawValue, f, to.descriptor.rawValue, t,
                                          replacing ? 0 : csb_rename_noreplace_flag())
                        }
                    }
                }
            }
        }
    }

    public func unlink(_ name: Bytes) throws {
        try withParent(of: name) { parent, last in
            _ = try syscall("unlink", path: display(name)) {
                last.withCPath { unlinkat(parent.descriptor.rawValue, $0, 0) }
            }
        }
    }

    /// Removes `name` if it is there; a missing file is not an error.
    public func removeIfPresent(_ name: Bytes) throws {
        do { try unlink(name) } catch let error as SystemError where error.errno == ENOENT {}
    }

    /// mkdir of `name`; an existing folder is fine, anything else there is EEXIST.
    public func makeDirectory(_ name: Bytes, mode: UInt32 = 0o755) throws {
        try withParent(of: name) { parent, last in
            do {
                _ = try syscall("mkdir", path: display(name)) {
                    last.withCPath { mkdirat(parent.descriptor.rawValue, $0, mode) }
                }
            } catch let error as SystemError where error.errno == EEXIST {
                guard try parent.status(last).type == .dir else { throw error }
            }
        }
    }

    /// mkdir -p beneath this folder, one component at a time.
    public func makeDirectories(_ name: Bytes, mode: UInt32 = 0o755) throws {
        var made = Bytes()
        for component in name.pathComponents {
            made = made.isEmpty ? component : made.appendingPathComponent(component)
            try makeDirectory(made, mode: mode)
        }
    }

    /// mkfifo of `name` with exactly `mode` (the umask is undone on what was made, not on
    /// whatever stands at the name by then).
    public func makeFifo(_ name: Bytes, mode: UInt32) throws {
        try withParent(of: name) { parent, last in
            _ = try syscall("mkfifo", path: display(name)) {
                last.withCPath { mknodat(parent.descriptor.rawValue, $0, UInt32(S_IFIFO) | mode, 0) }
            }
            try parent.changeMode(last, mode, expecting: .fifo)
        }
    }

    /// chmod of `name`, which must be a node of `type`: a symlink or another node put there by
    /// someone else is an error, never followed.
    public func changeMode(_ name: Bytes, _ mode: UInt32, expecting type: NodeType) throws {
        let node = try openPath(name)
        defer { node.close() }
        let status = try node.status()
        guard status.type == type else {
            throw SystemError(errno: type == .dir ? ENOTDIR : EINVAL, operation: "chmod (not a \(type.rawValue))", path: display(name))
        }
        try node.changeModeThroughProc(mode, path: display(name))
    }

    /// A path naming `name` in this folder through /proc, for the calls that only take a path
    /// (bind, connect, inotify_add_watch): the folder part is this descriptor, resolved by the
    /// kernel without looking at the spool's names again. `name` must be one component.
    public func procPath(_ name: Bytes = []) -> Bytes {
        let base = "/proc/self/fd/\(descriptor.rawValue)".bytes
        return name.isEmpty ? base : base.appendingPathComponent(name)
    }

    /// The whole content of the file `name` beneath this folder (`FileSystem.read`, by descriptor).
    public func read(_ name: Bytes, limit: Int = .max) throws -> Bytes {
        let fd = try open(name, .readOnly)
        defer { fd.close() }
        return try fd.readAll(limit: limit)
    }

    // MARK: - Listing

    /// The entries of this folder, without `.` and `..`, in no particular order.
    public func entries() throws -> [FileSystem.Entry] {
        let stream = try DirectoryStream(self)
        var result: [FileSystem.Entry] = []
        while let entry = stream.next() { result.append(entry) }
        return result
    }
}

extension FileDescriptor {
    /// chmod of what an O_PATH descriptor refers to (fchmod refuses O_PATH descriptors).
    func changeModeThroughProc(_ mode: UInt32, path: Bytes) throws {
        let proc = "/proc/self/fd/\(rawValue)".bytes
        _ = try syscall("chmod", path: path) { proc.withCPath { chmod($0, mode) } }
    }

    /// fchmod of an open file or folder.
    public func changeMode(_ mode: UInt32) throws {
        _ = try syscall("fchmod") { fchmod(rawValue, mode) }
    }
}
