/// A file message the daemon owns: moved from the spool into `.spoolbus/work/`.
public struct ClaimedFile: Sendable {
    public let id: Bytes
    public let name: Bytes
    /// Where the content is now (`SPOOL_PATH`).
    public let path: Bytes
    public let size: Int
    public let owner: UInt32
    public let group: UInt32
    /// The folder it is in: `work/`. Its body is opened beneath it, never through `path`.
    let folder: Directory
    /// The `SPOOL_*` variables of its origin (`MessageOrigin`), read from the descriptor that
    /// claimed it; nil when not read then (a message recovered from `work/`): its runs read them.
    var origin: [(String, Bytes)]? = nil

    /// Its file name in `work/` (and later in `failed/` or `done/`).
    var entry: Bytes { path.lastPathComponent }

    /// Opens the body for reading, beneath `work/` and without following a symlink, and without
    /// blocking: the producer owns the file and may still hold a descriptor of it, so it may take
    /// a write lease (F_SETLEASE) once it is claimed, and an open that breaks a lease waits up to
    /// `/proc/sys/fs/lease-break-time` (45 s) with the whole bus. That open fails instead, as
    /// EBUSY: EAGAIN would be taken for a shortage of processes, holding the rule's lane.
    func open() throws -> FileDescriptor {
        do {
            return try folder.open(entry, [.readOnly, .nonBlocking])
        } catch let error as SystemError where error.errno == SystemError.wouldBlock {
            throw SystemError(errno: SystemError.busy, operation: "open (its owner holds a lease on it)", path: path)
        }
    }

    /// The whole body, read the same way.
    func read() throws -> Bytes {
        let fd = try open()
        defer { fd.close() }
        return try fd.readAll()
    }
}

/// Claiming, settling and recovering file messages in the spool's state folders.
///
/// A claim is one `rename` into `work/`, so a crash leaves a message either in the spool or in
/// `work/`, never nowhere; `work/` is dispatched again at the next start. Every step goes
/// through the folders' descriptors (`SpoolLayout`): a message is opened and renamed from the
/// folder it was found in, opened beneath the spool without following any symlink, so a folder
/// swapped for a symlink makes the claim fail instead of reaching outside.
///
/// The entry's file name carries the id and the message name: `ID.ENCODED-NAME` (see
/// `EntryName`). A name too long for one file name is kept in a sidecar `ID+name`, written
/// before the rename. The reason a dead letter failed is kept in `failed/ID+reason`.
struct ClaimStore {
    let layout: SpoolLayout

    enum ClaimOutcome {
        case claimed(ClaimedFile)
        /// Someone still has it open for writing: its close will be seen later.
        case stillBeingWritten
        /// Gone, or not a regular file any more (a symlink is never followed).
        case unavailable
    }

    /// Takes `name` out of the spool if it is a complete regular file. A folder on the way
    /// that is now a symlink is an error (ELOOP), never followed.
    func claim(_ name: Bytes, id: Bytes) throws -> ClaimOutcome {
        do {
            return try layout.spool.withParent(of: name) { folder, last in try claim(last, in: folder, as: name, id: id) }
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            return .unavailable
        } catch let error as SystemError where error.errno == SystemError.notDirectory {
            // O_DIRECTORY | O_NOFOLLOW says ENOTDIR for a symlink: say what it was.
            let folder = name.deletingLastPathComponent
            guard (try? layout.spool.status(folder))?.type == .symlink else { return .unavailable }
            throw SystemError(errno: SystemError.tooManySymbolicLinks, operation: "open (a symlink, not followed)",
                              path: layout.path(of: folder))
        }
    }

    private func claim(_ last: Bytes, in folder: Directory, as name: Bytes, id: Bytes) throws -> ClaimOutcome {
        let fd: FileDescriptor
        do {
            fd = try folder.open(last, [.readOnly, .nonBlocking])
        } catch let error as SystemError where [SystemError.noEntry, SystemError.tooManySymbolicLinks, SystemError.notDirectory, SystemError.noSuchDevice].contains(error.errno) {
            return .unavailable
        }
        defer { fd.close() }
        let status = try fd.status()
        guard status.type == .file else { return .unavailable }
        // The lease lasts until `fd` is closed (the kernel drops it with its file), so it is
        // held over the rename and the check below without an F_UNLCK of its own.
        do {
            if try !fd.tryReadLease() { return .stillBeingWritten }
        } catch let error as SystemError where error.errno == SystemError.permissionDenied || error.errno == SystemError.invalidArgument {
            // A file of another user (without CAP_LEASE) or a filesystem without leases:
            // trust the close/move event that brought it here.
        }
        let entry = try entryName(id: id, name: name)
        FaultInjection.reach(.claim)
        do {
            try folder.rename(last, to: layout.work, as: entry)
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            try? layout.work.removeIfPresent(EntryName.sidecar(id, "name"))
            return .unavailable
        }
        // The rename goes by name: a producer may have put something else there since the open.
        // Only the file that was checked (or another regular file of the spool) is dispatched.
        let moved = try layout.work.status(entry)
        if moved.device == status.device && moved.inode == status.inode {
            var file = claimedFile(id: id, name: name, entry: entry, status: status)
            file.origin = MessageOrigin.environment(of: fd)
            return .claimed(file)
        }
        if moved.type == .file {
            return .claimed(claimedFile(id: id, name: name, entry: entry, status: moved))
        }
        // Anything else goes back where it came from, or, when that name was taken meanwhile, is
        // removed (a symlink or a FIFO holds no message).
        if (try? layout.work.rename(entry, to: folder, as: last, replacing: false)) == nil {
            try? layout.work.removeIfPresent(entry)
        }
        try? layout.work.removeIfPresent(EntryName.sidecar(id, "name"))
        throw SystemError(errno: SystemError.tooManySymbolicLinks,
                          operation: "claim (replaced by a \(moved.type?.rawValue ?? "node") while being claimed; put back, not followed)",
                          path: layout.path(of: name))
    }

    func claimedFile(id: Bytes, name: Bytes, entry: Bytes, status: FileStatus) -> ClaimedFile {
        ClaimedFile(id: id, name: name, path: layout.paths.work.appendingPathComponent(entry),
                    size: status.size, owner: status.owner, group: status.group, folder: layout.work)
    }

    /// The messages left in `work/` by a previous run, oldest first.
    func claimedMessages() throws -> [ClaimedFile] {
        try entries(in: layout.work, at: layout.paths.work).compactMap { entry in
            guard let status = try layout.work.statusIfPresent(entry.file), status.type == .file else { return nil }
            return claimedFile(id: entry.id, name: entry.name, entry: entry.file, status: status)
        }
    }

    /// The largest id prefix in `work/` and `failed/`, so new ids sort after them.
    func largestIDPrefix() -> Int64? {
        var largest: Int64?
        for folder in [layout.work, layout.failed] {
            for entry in (try? folder.entries()) ?? [] {
                if let prefix = MessageIDGenerator.prefix(of: Bytes(entry.name.prefix(19))) {
                    largest = max(largest ?? prefix, prefix)
                }
            }
        }
        return largest
    }

    /// Finishes a claimed message whose handlers all succeeded.
    func complete(_ file: ClaimedFile, archive: Bool) throws {
        FaultInjection.reach(.rename)
        if archive {
            try moveWithNameSidecar(file, to: layout.done) { try layout.work.rename(file.entry, to: layout.done, as: file.entry) }
        } else {
            try layout.work.removeIfPresent(file.entry)
            if hasNameSidecar(file) { try layout.work.removeIfPresent(EntryName.sidecar(file.id, "name")) }
        }
    }

    /// Moves a message whose handlers gave up to `failed/`, with `reason` beside it.
    /// Returns the dead letter's path relative to the spool.
    @discardableResult
    func bury(_ file: ClaimedFile, reason: Bytes) throws -> Bytes {
        try layout.failed.writeAtomically(reason, to: EntryName.sidecar(file.id, "reason"), through: layout.temporary)
        FaultInjection.reach(.bury)
        try moveWithNameSidecar(file, to: layout.failed) { try layout.work.rename(file.entry, to: layout.failed, as: file.entry) }
        return deadLetterName(of: file)
    }

    /// Where a dead letter of `file` is (or will be) kept, relative to the spool.
    func deadLetterName(of file: ClaimedFile) -> Bytes {
        ".spoolbus/failed/".bytes + file.entry
    }

    /// A dead letter in `failed/`.
    struct DeadLetter {
        let id: Bytes
        let name: Bytes
        /// Its file name in `failed/`.
        let entry: Bytes
    }

    func deadLetters() throws -> [DeadLetter] {
        try entries(in: layout.failed, at: layout.paths.failed).map { DeadLetter(id: $0.id, name: $0.name, entry: $0.file) }
    }

    /// Puts a dead letter back into the spool under its name, never over an existing file and
    /// never through a symlink: a folder of the name that became a symlink makes it fail.
    func resurrect(_ letter: DeadLetter) throws {
        try SpoolLayout.makeFolders(of: letter.name, in: layout.spool, shown: layout.root)
        try layout.failed.rename(letter.entry, to: layout.spool, as: letter.name, replacing: false)
        try layout.failed.removeIfPresent(EntryName.sidecar(letter.id, "reason"))
        try layout.failed.removeIfPresent(EntryName.sidecar(letter.id, "name"))
    }

    // MARK: - Entries

    struct Entry {
        let id: Bytes
        let name: Bytes
        let file: Bytes
    }

    /// The messages in `folder` (`work/`, `failed/` or `done/`), oldest id first; sidecars and
    /// entries of no known form are left out.
    func entries(in folder: Directory, at path: Bytes) throws -> [Entry] {
        var result: [Entry] = []
        for item in try folder.entries() {
            switch EntryName.parse(item.name) {
            case .message(let id, let name):
                result.append(Entry(id: id, name: name, file: item.name))
            case .longName(let id):
                if let name = try? readSidecar(id, "name", in: folder) {
                    result.append(Entry(id: id, name: name, file: item.name))
                }
            case .sidecar, .unknown:
                continue
            }
        }
        return result.sorted { $0.id.lexicographicallyPrecedes($1.id) }
    }

    /// Removes the sidecars in `work/` whose message is not there: a daemon killed between
    /// writing a sidecar and its message (a durable line's `ID+line`, a long name's `ID+name`
    /// go first) leaves them, and nothing else would ever take them away. Only for the start,
    /// before anything is claimed or kept. Returns how many it removed.
    func removeOrphanSidecars() -> Int {
        guard let items = try? layout.work.entries() else { return 0 }
        var ids = Set<Bytes>()
        var sidecars: [Bytes] = []
        for item in items {
            switch EntryName.parse(item.name) {
            case .message(let id, _), .longName(let id): ids.insert(id)
            case .sidecar: sidecars.append(item.name)
            case .unknown: continue
            }
        }
        var removed = 0
        for sidecar in sidecars where !ids.contains(Bytes(sidecar.prefix { $0 != UInt8(ascii: "+") })) {
            if (try? layout.work.unlink(sidecar)) != nil { removed += 1 }
        }
        return removed
    }

    func entryName(id: Bytes, name: Bytes) throws -> Bytes {
        if let entry = EntryName.make(id: id, name: name) { return entry }
        try layout.work.writeAtomically(name, to: EntryName.sidecar(id, "name"), through: layout.temporary)
        return id
    }

    /// The most a sidecar is read: a name, a reason with a few stderr lines, a line's origin.
    static let sidecarLimit = 1024 * 1024

    /// A sidecar's content. Opened without blocking and read only when it is a regular file:
    /// `dead`, `drop` and `retry` without a daemon read state folders that may not be the
    /// daemon's (a producer made `.spoolbus/` of a spool never served), where a FIFO would block
    /// the command for good, or a huge sparse file fill its memory.
    func readSidecar(_ id: Bytes, _ kind: String, in folder: Directory) throws -> Bytes {
        let name = EntryName.sidecar(id, kind)
        let fd = try folder.open(name, [.readOnly, .nonBlocking])
        defer { fd.close() }
        guard try fd.status().type == .file else {
            throw SystemError(errno: SystemError.invalidArgument, operation: "open (not a regular file)", path: folder.path.appendingPathComponent(name))
        }
        return try fd.readAll(limit: Self.sidecarLimit)
    }

    /// Moves an entry out of `work/` with `move`, its `ID+name` sidecar (a long name's) first
    /// copied to where it goes and removed from `work/` after: a crash at any moment leaves
    /// the entry beside its name, never a dead letter or an archive no one can name (which
    /// `dead`, `retry` and the retention would never see).
    private func moveWithNameSidecar(_ file: ClaimedFile, to folder: Directory, _ move: () throws -> Void) throws {
        guard hasNameSidecar(file) else { return try move() }
        try copySidecar(file.id, "name", from: layout.work, to: folder)
        try move()
        try layout.work.removeIfPresent(EntryName.sidecar(file.id, "name"))
    }

    /// Whether `file` may have an `ID+name` sidecar: only an entry that is its id alone has one
    /// (`entryName` writes it for no other), so the others skip looking for it (a lookup that
    /// fails on nearly every message).
    private func hasNameSidecar(_ file: ClaimedFile) -> Bool {
        file.entry == file.id
    }
}

/// The file names of `work/`, `failed/` and `done/`: `ID.ENCODED-NAME` for a message, `ID` alone
/// for one whose name is too long (kept in the sidecar `ID+name`), `ID+KIND` for a sidecar.
///
/// The encoding percent-encodes `%`, `/`, `+` (the sidecar separator) and every control byte
/// (so an entry is one line in `ls`), and keeps every other byte as it is, so any name of
/// bytes maps to one file name and back. Decoding is strict: only the encoder's own output is
/// read as the new form; entries of version 0.1 (which encoded only `/` and `%`) still decode.
enum EntryName {
    enum Parsed: Equatable {
        case message(id: Bytes, name: Bytes)
        /// The name is in the sidecar `ID+name`.
        case longName(id: Bytes)
        case sidecar
        case unknown
    }

    private static let dot = UInt8(ascii: ".")
    private static let plus = UInt8(ascii: "+")
    private static let percent = UInt8(ascii: "%")

    /// The entry for message `name` with `id`, or nil when it would not fit one file name.
    static func make(id: Bytes, name: Bytes) -> Bytes? {
        let entry = id + [dot] + encode(name)
        return entry.count <= FileSystem.maxNameLength ? entry : nil
    }

    static func sidecar(_ id: Bytes, _ kind: String) -> Bytes {
        id + [plus] + kind.bytes
    }

    static func parse(_ file: Bytes) -> Parsed {
        let dotIndex = file.firstIndex(of: dot)
        if let plusIndex = file.firstIndex(of: plus), dotIndex.map({ plusIndex < $0 }) ?? true { return .sidecar }
        guard let dotIndex else { return file.isEmpty ? .unknown : .longName(id: file) }
        let id = Bytes(file[..<dotIndex])
        let encoded = Bytes(file[(dotIndex + 1)...])
        guard !id.isEmpty, let name = decode(encoded) ?? decodeVersion1(encoded) else { return .unknown }
        return .message(id: id, name: name)
    }

    /// Whether `byte` is written `%XX`.
    private static func isEncoded(_ byte: UInt8) -> Bool {
        byte == percent || byte == UInt8(ascii: "/") || byte == plus || byte < 0x20 || byte == 0x7F
    }

    static func encode(_ name: Bytes) -> Bytes {
        var out = Bytes()
        out.reserveCapacity(name.count)
        for byte in name {
            if isEncoded(byte) {
                PercentEscape.append(byte, to: &out)
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// The name `encoded` stands for, or nil unless `encoded` is exactly what `encode` writes.
    static func decode(_ encoded: Bytes) -> Bytes? {
        var out = Bytes()
        var index = 0
        while index < encoded.count {
            let byte = encoded[index]
            if byte == percent {
                guard index + 2 < encoded.count, let high = PercentEscape.digitValue(encoded[index + 1], upperCaseOnly: true),
                      let low = PercentEscape.digitValue(encoded[index + 2], upperCaseOnly: true) else { return nil }
                let decoded = high << 4 | low
                guard isEncoded(decoded) else { return nil }
                out.append(decoded)
                index += 3
            } else {
                guard !isEncoded(byte) else { return nil }
                out.append(byte)
                index += 1
            }
        }
        return out
    }

    /// Version 0.1's form: only `%2F` and `%25` were encoded.
    private static func decodeVersion1(_ encoded: Bytes) -> Bytes? {
        var out = Bytes()
        var index = 0
        while index < encoded.count {
            if encoded[index] == percent {
                guard index + 2 < encoded.count else { return nil }
                switch (encoded[index + 1], encoded[index + 2]) {
                case (UInt8(ascii: "2"), UInt8(ascii: "F")): out.append(UInt8(ascii: "/"))
                case (UInt8(ascii: "2"), UInt8(ascii: "5")): out.append(percent)
                default: return nil
                }
                index += 3
            } else {
                guard encoded[index] != UInt8(ascii: "/") else { return nil }
                out.append(encoded[index])
                index += 1
            }
        }
        return out
    }
}
