/// A file message the daemon owns: moved from the spool into `.spoolbus/work/`.
public struct ClaimedFile: Sendable {
    public let id: Bytes
    public let name: Bytes
    /// Where the content is now (`SPOOL_PATH`).
    public let path: Bytes
    public let size: Int
    public let owner: UInt32
    public let group: UInt32
}

/// Claiming, settling and recovering file messages in the spool's state folders.
///
/// A claim is one `rename` into `work/`, so a crash leaves a message either in the spool or in
/// `work/`, never nowhere; `work/` is dispatched again at the next start. The entry's file name
/// carries the id and the message name: `ID.ENCODED-NAME`, `/` and `%` percent-encoded. A name
/// too long for one file name is kept in a sidecar `ID+name`, written before the rename. The
/// reason a dead letter failed is kept in `failed/ID+reason`.
struct ClaimStore {
    let layout: SpoolLayout

    enum ClaimOutcome {
        case claimed(ClaimedFile)
        /// Someone still has it open for writing: its close will be seen later.
        case stillBeingWritten
        /// Gone, or not a regular file any more (a symlink is never followed).
        case unavailable
    }

    /// Takes `name` out of the spool if it is a complete regular file.
    func claim(_ name: Bytes, id: Bytes) throws -> ClaimOutcome {
        let source = layout.path(of: name)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(source, [.readOnly, .nonBlocking, .noFollow])
        } catch let error as SystemError where [SystemError.noEntry, SystemError.tooManySymbolicLinks, SystemError.notDirectory, SystemError.noSuchDevice].contains(error.errno) {
            return .unavailable
        }
        defer { fd.close() }
        let status = try fd.status()
        guard status.type == .file else { return .unavailable }
        let leased: Bool
        do {
            leased = try fd.tryReadLease()
            if !leased { return .stillBeingWritten }
        } catch let error as SystemError where error.errno == SystemError.permissionDenied || error.errno == SystemError.invalidArgument {
            // A file of another user (without CAP_LEASE) or a filesystem without leases:
            // trust the close/move event that brought it here.
            leased = false
        }
        defer { if leased { fd.releaseLease() } }
        let entry = try entryName(id: id, name: name)
        do {
            try FileSystem.rename(source, to: layout.work.appendingPathComponent(entry))
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            return .unavailable
        }
        return .claimed(ClaimedFile(id: id, name: name, path: layout.work.appendingPathComponent(entry),
                                    size: status.size, owner: status.owner, group: status.group))
    }

    /// The messages left in `work/` by a previous run, oldest first.
    func claimedMessages() throws -> [ClaimedFile] {
        try entries(in: layout.work).compactMap { entry in
            let status = try FileSystem.statusIfPresent(entry.path)
            guard let status, status.type == .file else { return nil }
            return ClaimedFile(id: entry.id, name: entry.name, path: entry.path, size: status.size,
                               owner: status.owner, group: status.group)
        }
    }

    /// The largest id prefix in `work/` and `failed/`, so new ids sort after them.
    func largestIDPrefix() -> Int64? {
        var largest: Int64?
        for folder in [layout.work, layout.failed] {
            for entry in (try? FileSystem.entries(folder)) ?? [] {
                if let prefix = MessageIDGenerator.prefix(of: Bytes(entry.name.prefix(19))) {
                    largest = max(largest ?? prefix, prefix)
                }
            }
        }
        return largest
    }

    /// Finishes a claimed message whose handlers all succeeded.
    func complete(_ file: ClaimedFile, archive: Bool) throws {
        if archive {
            try FileSystem.rename(file.path, to: layout.done.appendingPathComponent(file.path.lastPathComponent))
            try moveSidecar(of: file, to: layout.done)
        } else {
            try FileSystem.removeIfPresent(file.path)
            try FileSystem.removeIfPresent(sidecar(file.id, "name", in: layout.work))
        }
    }

    /// Moves a message whose handlers gave up to `failed/`, with `reason` beside it.
    /// Returns the dead letter's path relative to the spool.
    @discardableResult
    func bury(_ file: ClaimedFile, reason: Bytes) throws -> Bytes {
        let entry = file.path.lastPathComponent
        try FileSystem.writeAtomically(reason, to: sidecar(file.id, "reason", in: layout.failed), temporaryFolder: layout.temporary)
        try FileSystem.rename(file.path, to: layout.failed.appendingPathComponent(entry))
        try moveSidecar(of: file, to: layout.failed)
        return ".spoolbus/failed/".bytes + entry
    }

    /// Where a dead letter of `file` is (or will be) kept, relative to the spool.
    func deadLetterName(of file: ClaimedFile) -> Bytes {
        ".spoolbus/failed/".bytes + file.path.lastPathComponent
    }

    /// A dead letter in `failed/`.
    struct DeadLetter {
        let id: Bytes
        let name: Bytes
        let path: Bytes
    }

    func deadLetters() throws -> [DeadLetter] {
        try entries(in: layout.failed).map { DeadLetter(id: $0.id, name: $0.name, path: $0.path) }
    }

    /// Puts a dead letter back into the spool under its name, never over an existing file.
    func resurrect(_ letter: DeadLetter) throws {
        let target = layout.path(of: letter.name)
        try FileSystem.makeDirectories(target.deletingLastPathComponent)
        try FileSystem.renameWithoutReplacing(letter.path, to: target)
        try FileSystem.removeIfPresent(sidecar(letter.id, "reason", in: layout.failed))
        try FileSystem.removeIfPresent(sidecar(letter.id, "name", in: layout.failed))
    }

    // MARK: - Entry names

    private struct Entry {
        let id: Bytes
        let name: Bytes
        let path: Bytes
    }

    private func entries(in folder: Bytes) throws -> [Entry] {
        var result: [Entry] = []
        for item in try FileSystem.entries(folder) {
            let file = item.name
            if file.contains(UInt8(ascii: "+")) { continue }  // sidecars
            if let dot = file.firstIndex(of: UInt8(ascii: ".")) {
                let id = Bytes(file[..<dot])
                guard let name = ClaimStore.decode(Bytes(file[(dot + 1)...])) else { continue }
                result.append(Entry(id: id, name: name, path: folder.appendingPathComponent(file)))
            } else if let name = try? FileSystem.read(sidecar(file, "name", in: folder)) {
                result.append(Entry(id: file, name: name, path: folder.appendingPathComponent(file)))
            }
        }
        return result.sorted { $0.id.lexicographicallyPrecedes($1.id) }
    }

    func entryName(id: Bytes, name: Bytes) throws -> Bytes {
        let encoded = id + [UInt8(ascii: ".")] + ClaimStore.encode(name)
        if encoded.count <= FileSystem.maxNameLength { return encoded }
        let sidecarPath = sidecar(id, "name", in: layout.work)
        try FileSystem.writeAtomically(name, to: sidecarPath, temporaryFolder: layout.temporary)
        return id
    }

    func sidecar(_ id: Bytes, _ kind: String, in folder: Bytes) -> Bytes {
        folder.appendingPathComponent(id + [UInt8(ascii: "+")] + kind.bytes)
    }

    private func moveSidecar(of file: ClaimedFile, to folder: Bytes) throws {
        let source = sidecar(file.id, "name", in: layout.work)
        if (try FileSystem.statusIfPresent(source)) != nil {
            try FileSystem.rename(source, to: sidecar(file.id, "name", in: folder))
        }
    }

    static func encode(_ name: Bytes) -> Bytes {
        var out = Bytes()
        out.reserveCapacity(name.count)
        for byte in name {
            switch byte {
            case UInt8(ascii: "/"): out += "%2F".bytes
            case UInt8(ascii: "%"): out += "%25".bytes
            default: out.append(byte)
            }
        }
        return out
    }

    static func decode(_ encoded: Bytes) -> Bytes? {
        var out = Bytes()
        var index = 0
        while index < encoded.count {
            if encoded[index] == UInt8(ascii: "%") {
                guard index + 2 < encoded.count else { return nil }
                switch (encoded[index + 1], encoded[index + 2]) {
                case (UInt8(ascii: "2"), UInt8(ascii: "F")): out.append(UInt8(ascii: "/"))
                case (UInt8(ascii: "2"), UInt8(ascii: "5")): out.append(UInt8(ascii: "%"))
                default: return nil
                }
                index += 3
            } else {
                out.append(encoded[index])
                index += 1
            }
        }
        return out
    }
}
