/// Where things live in a spool, by name: what commands that only talk to a daemon print and
/// connect to, and what handlers are told (`SPOOL_DIR`, `SPOOL_PATH`). Nothing is opened
/// through these paths in the spool; `SpoolLayout` holds the folders by descriptor.
public struct SpoolPaths: Sendable {
    /// The spool's absolute path.
    public let root: Bytes

    public init(root: Bytes) { self.root = root }

    public var state: Bytes { root.appendingPathComponent(SpoolLayout.stateName) }
    public var temporary: Bytes { state.appendingPathComponent("tmp".bytes) }
    public var work: Bytes { state.appendingPathComponent("work".bytes) }
    public var failed: Bytes { state.appendingPathComponent("failed".bytes) }
    public var done: Bytes { state.appendingPathComponent("done".bytes) }
    public var controlSocket: Bytes { state.appendingPathComponent(SpoolLayout.controlSocketName) }

    /// The absolute path of a message name.
    public func path(of name: Bytes) -> Bytes { root.appendingPathComponent(name) }
}

/// The spool held open: the folder producers write to, and the daemon's own state under
/// `.spoolbus/`, each by a descriptor opened once. Every operation on a message resolves its
/// name beneath one of these folders (`Directory`), so a folder of the spool swapped for a
/// symlink makes the operation fail; it never reaches outside.
///
/// `.spoolbus/` is the daemon's: it is `0711` (others may reach `control.sock`, nothing else),
/// `tmp/`, `failed/` and `done/` are `0700`, `work/` is `0711` (a `user=` handler opens its
/// claimed file by its exact name, `SPOOL_PATH`, as it could in the spool; no one lists it),
/// `lock` is `0600` and `dispatch.log` `0640`. `run` refuses a state folder, or anything in
/// it, that another user owns, that group or others may write, or that is a symlink.
public final class SpoolLayout: @unchecked Sendable {
    public let paths: SpoolPaths
    /// The spool itself.
    public let spool: Directory
    /// `.spoolbus/`
    public let state: Directory
    /// `.spoolbus/tmp/`: sidecars being written.
    public let temporary: Directory
    /// `.spoolbus/work/`: claimed messages.
    public let work: Directory
    /// `.spoolbus/failed/`: dead letters and their reasons.
    public let failed: Directory
    /// `.spoolbus/done/`: the archive (`then=archive`).
    public let done: Directory

    static let stateName = ".spoolbus".bytes
    static let controlSocketName = "control.sock".bytes
    static let lockName = "lock".bytes
    static let logName = "dispatch.log".bytes

    /// Each state folder with the mode `run` gives it.
    private static let folderModes: [(name: Bytes, mode: UInt32)] = [
        ("tmp".bytes, 0o700), ("work".bytes, 0o711), ("failed".bytes, 0o700), ("done".bytes, 0o700),
    ]
    static let stateMode: UInt32 = 0o711
    static let lockMode: UInt32 = 0o600
    static let logMode: UInt32 = 0o640

    private init(paths: SpoolPaths, spool: Directory, state: Directory, folders: [Directory]) {
        self.paths = paths
        self.spool = spool
        self.state = state
        (temporary, work, failed, done) = (folders[0], folders[1], folders[2], folders[3])
    }

    /// The spool's real absolute path (symlinks resolved at start).
    public var root: Bytes { paths.root }
    public var controlSocket: Bytes { paths.controlSocket }
    /// The absolute path of a message name, for handlers and the log; never opened.
    public func path(of name: Bytes) -> Bytes { paths.path(of: name) }

    // MARK: - Opening

    /// For `run`: opens the spool at `path` (created if missing; symlinks in `path` are
    /// followed this once), checks that `.spoolbus/` and everything in it is the daemon's, and
    /// creates what is missing with the modes above. Throws a `SpoolBusError` saying what to
    /// fix when the state folder is not the daemon's.
    public static func prepare(_ path: Bytes) throws -> SpoolLayout {
        let spool = try openOrCreate(path)
        var opened: [Directory] = [spool]
        do {
            let paths = SpoolPaths(root: try FileSystem.realPath(spool.procPath()))
            do {
                try spool.makeDirectory(stateName, mode: 0o700)
            } catch let error as SystemError where error.errno == SystemError.exists {
                // A symlink or a file: refused below, with what to do about it.
            }
            let state = try openOwnedFolder(stateName, in: spool, display: paths.state, mode: stateMode)
            opened.append(state)
            try checkEntries(of: state, display: paths.state)
            for (name, mode) in folderModes {
                do {
                    try state.makeDirectory(name, mode: 0o700)
                } catch let error as SystemError where error.errno == SystemError.exists {}
                opened.append(try openOwnedFolder(name, in: state, display: paths.state.appendingPathComponent(name), mode: mode))
            }
            return SpoolLayout(paths: paths, spool: spool, state: state, folders: Array(opened[2...]))
        } catch {
            for folder in opened { folder.close() }
            throw error
        }
    }

    /// For `retry` without a daemon: the spool and the state folders a daemon made; nothing is
    /// created or changed but the messages moved.
    public static func openExisting(_ path: Bytes) throws -> SpoolLayout {
        let spool = try Directory.open(path)
        var opened: [Directory] = [spool]
        do {
            let paths = SpoolPaths(root: try FileSystem.realPath(spool.procPath()))
            let state = try spool.openDirectory(stateName)
            opened.append(state)
            for (name, _) in folderModes { opened.append(try state.openDirectory(name)) }
            return SpoolLayout(paths: paths, spool: spool, state: state, folders: Array(opened[2...]))
        } catch {
            for folder in opened { folder.close() }
            throw error
        }
    }

    /// Opens the spool folder the user named (a symlink to a folder is fine: `/var/spool/x ->
    /// /data/x`), creating it when nothing is there.
    private static func openOrCreate(_ path: Bytes) throws -> Directory {
        do {
            return try Directory.open(path)
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            try FileSystem.makeDirectories(path)
            return try Directory.open(path)
        }
    }

    /// Opens the folder `name` in `parent` (never through a symlink), checks it is the daemon's,
    /// and takes away what others may do beyond `mode` (group access is left as an admin set it).
    private static func openOwnedFolder(_ name: Bytes, in parent: Directory, display: Bytes, mode: UInt32) throws -> Directory {
        let folder: Directory
        do {
            folder = try parent.openDirectory(name)
        } catch let error as SystemError where error.errno == SystemError.tooManySymbolicLinks || error.errno == SystemError.notDirectory {
            throw notTheDaemons(display, "is not a folder (a symlink or something else stands there)", fix: "remove it")
        }
        do {
            let status = try folder.status()
            try checkOwned(status, display)
            let wanted = mode | (status.permissions & 0o050)
            if wanted != status.permissions { try folder.descriptor.changeMode(wanted) }
            return folder
        } catch {
            folder.close()
            throw error
        }
    }

    /// Every entry of `.spoolbus/` must be the daemon's: no symlink, no file of another user,
    /// nothing group or others may write (a socket's mode is who may connect, so it is free).
    private static func checkEntries(of state: Directory, display: Bytes) throws {
        for entry in try state.entries() {
            let shown = display.appendingPathComponent(entry.name)
            guard let status = try state.statusIfPresent(entry.name) else { continue }
            if status.type == .symlink {
                throw notTheDaemons(shown, "is a symbolic link", fix: "remove it")
            }
            try checkOwned(status, shown, modeMatters: status.type != .socket)
            if status.type == .file && status.linkCount > 1 {
                throw notTheDaemons(shown, "has \(status.linkCount) hard links", fix: "remove it")
            }
        }
    }

    private static func checkOwned(_ status: FileStatus, _ shown: Bytes, modeMatters: Bool = true) throws {
        let euid = SystemInfo.effectiveUserID
        if status.owner != euid {
            throw notTheDaemons(shown, "belongs to uid \(status.owner), not to the daemon's user (uid \(euid))",
                                fix: "check what it holds, then chown it to uid \(euid) or remove it")
        }
        if modeMatters && status.permissions & 0o022 != 0 {
            throw notTheDaemons(shown, "is writable by group or others (mode \(octal(status.permissions)))",
                                fix: "chmod go-w it")
        }
    }

    private static func notTheDaemons(_ shown: Bytes, _ fact: String, fix: String) -> SpoolBusError {
        SpoolBusError("refusing the spool's state folder: '\(text(shown))' \(fact); it must be the daemon's own: \(fix)")
    }

    private static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Empties `tmp/` of what a daemon killed mid-write left there (half-written sidecars,
    /// sockets and FIFOs being made); only the lock's holder may, as nothing of its own is there
    /// yet. Returns how many entries it removed.
    func clearTemporary() -> Int {
        var removed = 0
        for entry in (try? temporary.entries()) ?? [] where entry.type != .dir {
            if (try? temporary.unlink(entry.name)) != nil { removed += 1 }
        }
        return removed
    }

    /// Closes every folder (for commands and tests; the daemon holds them until it exits).
    public func close() {
        for folder in [spool, state, temporary, work, failed, done] { folder.close() }
    }

    // MARK: - Dropping a message

    /// Drops `body` into the spool at `spool` as the message `name`: written to a dot-named
    /// temporary file in the target's folder (never dispatched), fsynced, then renamed into
    /// place, all beneath the spool's descriptor, so the daemon never sees half of it and no
    /// symlink is followed. Creates the target's folders, never `.spoolbus/`.
    ///
    /// A FIFO at `name` (a daemon's `mkfifo`) gets the body as one line instead; a socket or
    /// anything else that is not a regular file is refused, never replaced.
    /// Returns the message's absolute path.
    @discardableResult
    public static func drop(_ body: Bytes, as name: Bytes, in spoolPath: Bytes) throws -> Bytes {
        guard isValidMessageName(name) else {
            throw SpoolBusError("invalid message name '\(text(name))': it must be relative, without '..' or a component starting with '.'")
        }
        let spool = try openOrCreate(spoolPath)
        defer { spool.close() }
        try makeFolders(of: name, in: spool, shown: spoolPath)
        let target = spoolPath.appendingPathComponent(name)
        try spool.withParent(of: name) { folder, last in
            // Twice at most: a FIFO or socket made at the name after it was looked at makes the
            // rename fail (no replacing where nothing was), and is then looked at again.
            for attempt in 1...2 {
                let present = try folder.statusIfPresent(last)?.type
                switch present {
                case nil, .file?:
                    do {
                        try folder.writeAtomically(body, to: last, through: folder,
                                                   temporaryName: Directory.uniqueTemporaryName(prefix: ".spoolbus-send-"),
                                                   mode: 0o644, replacing: present != nil)
                        return
                    } catch let error as SystemError where error.errno == SystemError.exists && attempt == 1 {
                        continue
                    }
                case .fifo?:
                    let daemon = try spool.statusIfPresent(stateName)?.owner
                    return try writeLine(body, intoFifo: last, in: folder, shown: target,
                                         ownedByOneOf: [SystemInfo.effectiveUserID] + (daemon.map { [$0] } ?? []))
                case let type?:
                    throw SpoolBusError("'\(text(target))' is a \(type == .dir ? "folder" : type.rawValue), not a message file: nothing was written\(type == .socket ? " (send a line to a socket with a socket client, e.g. nc -U)" : "")")
                }
            }
        }
        return target
    }

    /// Makes the folders holding `name` beneath `spool`. A symlink or a file on the way is an
    /// ENOTDIR error naming it, never followed (mkdir alone would say "File exists").
    static func makeFolders(of name: Bytes, in spool: Directory, shown root: Bytes) throws {
        let folder = name.deletingLastPathComponent
        guard !folder.isEmpty else { return }
        do {
            try spool.makeDirectories(folder)
        } catch let error as SystemError where error.errno == SystemError.exists {
            throw SystemError(errno: SystemError.notDirectory, operation: "mkdir (a symlink or a file is in the way)",
                              path: root.appendingPathComponent(folder))
        }
    }

    /// Writes `body` into the FIFO `name` as one line, with one write (whole, or not at all up
    /// to the pipe's atomic size); no reader is an error, never a wait. Only into a FIFO of one
    /// of `owners` (the daemon's, or the sender's own): whoever made a FIFO may read it, so a
    /// FIFO a producer planted at the name would hand it the body, and no daemon would see it.
    private static func writeLine(_ body: Bytes, intoFifo name: Bytes, in folder: Directory, shown: Bytes,
                                  ownedByOneOf owners: [UInt32]) throws {
        var line = body.last == UInt8(ascii: "\n") ? Bytes(body.dropLast()) : body
        guard !line.contains(UInt8(ascii: "\n")) else {
            throw SpoolBusError("'\(text(shown))' is a FIFO, whose messages are single lines; the body holds several: nothing was written")
        }
        line.append(UInt8(ascii: "\n"))
        let fifo: FileDescriptor
        do {
            fifo = try folder.open(name, [.writeOnly, .nonBlocking])
        } catch let error as SystemError where error.errno == SystemError.noSuchDevice {
            throw SpoolBusError("'\(text(shown))' is a FIFO that no one reads (is the daemon running?): nothing was written")
        }
        defer { fifo.close() }
        let status = try fifo.status()
        guard status.type == .fifo else {
            throw SpoolBusError("'\(text(shown))' changed while it was opened: nothing was written")
        }
        guard owners.contains(status.owner) else {
            throw SpoolBusError("'\(text(shown))' is a FIFO of uid \(status.owner), neither the daemon's (the owner of \(text(stateName))/) nor yours: whoever made it may read it, so nothing was written")
        }
        try fifo.writeAll(line)
    }

    // MARK: - Names

    /// Whether a name is ever dispatched: no component may start with `.`, the convention for
    /// files still being written and for the daemon's own `.spoolbus/`.
    public static func isDispatchable(_ name: Bytes) -> Bool {
        !name.isEmpty && !name.pathComponents.contains { $0.first == UInt8(ascii: ".") }
    }

    /// Whether `name` is acceptable to `send` and `retry`: relative, no `..`, no dot component.
    public static func isValidMessageName(_ name: Bytes) -> Bool {
        guard !name.isEmpty, name.first != UInt8(ascii: "/"), name.last != UInt8(ascii: "/") else { return false }
        let components = name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        return components.allSatisfy { !$0.isEmpty && $0.first != UInt8(ascii: ".") }
    }
}
