import Glibc

/// File names as Linux has them: bytes, not necessarily UTF-8.
typealias Bytes = [UInt8]

extension Array where Element == UInt8 {
    /// The UTF-8 bytes of `text`.
    init(text: String) { self = Array(text.utf8) }

    /// A readable rendering for failure messages (invalid UTF-8 shown with U+FFFD).
    var lossy: String { String(decoding: self, as: UTF8.self) }

    /// Splits at `separator`, dropping the one empty piece a trailing separator leaves.
    func pieces(separatedBy separator: UInt8) -> [Bytes] {
        var pieces = split(separator: separator, omittingEmptySubsequences: false).map { Array($0) }
        if last == separator || isEmpty { pieces.removeLast() }
        return pieces
    }

    func hasPrefix(_ prefix: Bytes) -> Bool { count >= prefix.count && Array(self[0..<prefix.count]) == prefix }

    func hasSuffix(_ suffix: Bytes) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }

    func contains(_ needle: Bytes) -> Bool {
        guard !needle.isEmpty else { return true }
        guard count >= needle.count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if Array(self[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}

/// A failed system call, with the call and the errno text.
struct SystemCallFailed: Error, CustomStringConvertible {
    let call: String
    let path: String
    let code: Int32

    init(_ call: String, _ path: Bytes = [], code: Int32 = errno) {
        self.call = call
        self.path = path.lossy
        self.code = code
    }

    var description: String { "\(call)(\(path)): \(String(cString: strerror(code))) (errno \(code))" }
}

/// Byte-exact file system helpers: Foundation's FileManager cannot be trusted with names that are
/// not UTF-8, and several tests are about exactly those names.
enum Files {
    static func withCPath<R>(_ path: Bytes, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var terminated = path
        terminated.append(0)
        return try terminated.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// Creates or truncates `path`, writes `contents` in one go, sets `mode`, closes.
    static func write(_ path: Bytes, _ contents: Bytes, mode: mode_t = 0o644) throws {
        let fd = try openForWriting(path, mode: mode)
        defer { close(fd) }
        try writeAll(fd, contents)
        guard fchmod(fd, mode) == 0 else { throw SystemCallFailed("fchmod", path) }
    }

    static func write(_ path: String, _ contents: String, mode: mode_t = 0o644) throws {
        try write(Bytes(text: path), Bytes(text: contents), mode: mode)
    }

    /// Opens `path` for writing (created, truncated) and hands back the descriptor.
    static func openForWriting(_ path: Bytes, mode: mode_t = 0o644) throws -> Int32 {
        let fd = withCPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw SystemCallFailed("open", path) }
        return fd
    }

    static func writeAll(_ fd: Int32, _ contents: Bytes) throws {
        var done = 0
        while done < contents.count {
            let n = contents.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + done, contents.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallFailed("write")
            }
            done += n
        }
    }

    /// The whole content of `path`, or nil when it cannot be opened.
    static func read(_ path: Bytes) -> Bytes? {
        let fd = withCPath(path) { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: Bytes = []
        var chunk = Bytes(repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    static func read(_ path: String) -> Bytes? { read(Bytes(text: path)) }

    static func readText(_ path: String) -> String? { read(path).map { $0.lossy } }

    /// The names in a folder, without `.` and `..`; empty when the folder does not exist.
    static func list(_ directory: Bytes) -> [Bytes] {
        guard let dir = withCPath(directory, { opendir($0) }) else {
            let code = errno
            if code != ENOENT && code != ENOTDIR {
                print("warning: \(SystemCallFailed("opendir", directory, code: code)); listed as empty")
            }
            return []
        }
        defer { closedir(dir) }
        var names: [Bytes] = []
        while let entry = readdir(dir) {
            var raw = entry.pointee.d_name
            let name = withUnsafeBytes(of: &raw) { bytes -> Bytes in
                Array(bytes[..<(bytes.firstIndex(of: 0) ?? bytes.count)])
            }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        return names
    }

    static func list(_ directory: String) -> [Bytes] { list(Bytes(text: directory)) }

    /// The handler pids a daemon of `spool` has recorded as running: the slots of
    /// `.spoolbus/runs/table` in use (64 bytes each, the pid first; 0 marks a free slot).
    static func recordedRuns(spool: String) -> [Int32] {
        let table = read(spool + "/.spoolbus/runs/table") ?? []
        return stride(from: 0, to: table.count - 63, by: 64).compactMap { offset in
            let pid = table[offset..<offset + 4].reversed().reduce(Int32(0)) { $0 << 8 | Int32($1) }
            return pid == 0 ? nil : pid
        }
    }

    enum Kind { case file, directory, symlink, other }

    /// What is at `path`, without following a symbolic link; nil when nothing is.
    static func kind(_ path: Bytes) -> Kind? {
        var info = stat()
        guard withCPath(path, { lstat($0, &info) }) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    static func exists(_ path: Bytes) -> Bool { kind(path) != nil }
    static func exists(_ path: String) -> Bool { exists(Bytes(text: path)) }

    /// Every non-directory entry under `directory`, as paths relative to it.
    static func walk(_ directory: Bytes) -> [Bytes] {
        var found: [Bytes] = []
        for name in list(directory) {
            let path = directory + [47] + name
            if kind(path) == .directory {
                found += walk(path).map { name + [47] + $0 }
            } else {
                found.append(name)
            }
        }
        return found
    }

    static func walk(_ directory: String) -> [Bytes] { walk(Bytes(text: directory)) }

    /// `mkdir -p`.
    static func makeDirectories(_ path: Bytes, mode: mode_t = 0o755) throws {
        var prefix: Bytes = []
        for (index, byte) in path.enumerated() {
            let atEnd = index == path.count - 1
            if byte == 47 && !prefix.isEmpty || atEnd {
                let dir = byte == 47 ? prefix : prefix + [byte]
                if withCPath(dir, { mkdir($0, mode) }) != 0 && errno != EEXIST {
                    throw SystemCallFailed("mkdir", dir)
                }
            }
            prefix.append(byte)
        }
    }

    static func makeDirectories(_ path: String) throws { try makeDirectories(Bytes(text: path)) }

    static func rename(_ from: Bytes, _ to: Bytes) throws {
        let rc = withCPath(from) { f in withCPath(to) { t in Glibc.rename(f, t) } }
        guard rc == 0 else { throw SystemCallFailed("rename", from) }
    }

    static func rename(_ from: String, _ to: String) throws { try rename(Bytes(text: from), Bytes(text: to)) }

    static func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw SystemCallFailed("unlink", Bytes(text: path)) }
    }

    static func chmod(_ path: String, _ mode: mode_t) throws {
        guard Glibc.chmod(path, mode) == 0 else { throw SystemCallFailed("chmod", Bytes(text: path)) }
    }

    static func size(_ path: String) -> Int? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
