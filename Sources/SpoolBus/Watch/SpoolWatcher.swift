/// Recursive inotify watches over a spool, turned into the changes the bus cares about.
///
/// Folders whose name starts with `.` (among them `.spoolbus/`) are never watched. Symbolic
/// links are never followed: a watch is added through the descriptor of a folder opened beneath
/// the spool (`/proc/self/fd/N`), never through the folder's name.
final class SpoolWatcher {
    enum Change {
        /// A regular file may be complete: closed after writing, moved in, or hard-linked in.
        case fileReady(Bytes)
        /// A folder, FIFO, socket, device or symlink was created or moved in.
        case nodeAppeared(Bytes, NodeType)
        /// Something was removed or moved out.
        case gone(Bytes, isDirectory: Bool)
        /// The kernel's queue overflowed: events were lost, the spool must be scanned.
        case overflow
        /// The rules file's folder saw the rules file written or replaced.
        case rulesFileChanged
        /// A file closed under a name it no longer has, in a folder whose new files were too
        /// many to track: the folder must be listed again.
        case folderNeedsScan(Bytes)
    }

    let inotify: Inotify
    private let spool: Directory
    private var folders: [Int32: Bytes] = [:]
    private var rulesWatch: Int32?
    private var rulesFileName: Bytes = []
    private var buffer = Bytes(repeating: 0, count: 64 * 1024)
    /// Names the daemon itself is about to move out or create: their events are not news.
    private var ownMoves: [Bytes: Int] = [:]
    private var ownCreations: Set<Bytes> = []
    /// Regular files created in each watched folder and not closed yet, by watch. A file made
    /// with `O_TMPFILE` and then linked in (`linkat`) is closed under the kernel's placeholder
    /// name `#INODE`, not the name it was linked as: such a close stands for these names.
    private var openCreations: [Int32: Set<Bytes>] = [:]
    /// Names tracked in `openCreations` at most; past it, a placeholder close rescans its folder.
    private static let openCreationLimit = 4096
    /// Changes one `readChanges` collects before it returns.
    private static let batchLimit = 4096
    private var openCreationCount = 0

    /// No IN_DONT_FOLLOW: the watch is added through `/proc/self/fd/N`, a link the kernel must
    /// follow to the folder that descriptor holds.
    private static let folderMask: Inotify.Mask = [
        .closeWrite, .movedTo, .movedFrom, .create, .delete, .onlyDirectory,
    ]

    init(spool: Directory) throws {
        inotify = try Inotify()
        self.spool = spool
    }

    /// Starts watching the folder `name` (relative; empty for the spool itself), held open as
    /// `folder`.
    func watchFolder(_ name: Bytes, _ folder: Directory) throws {
        let watch = try inotify.addWatch(folder.procPath(), mask: Self.folderMask)
        folders[watch] = name
    }

    /// Watches the folder holding the rules file, to reload it when it is written or replaced
    /// (editors often write a new file and rename it over the old one).
    ///
    /// The rules file may sit in a spool folder (`--spool .`): inotify then returns that
    /// folder's watch, so the masks are added together, and its events serve both purposes.
    func watchRulesFile(_ path: Bytes) throws {
        rulesFileName = path.lastPathComponent
        rulesWatch = try inotify.addWatch(path.deletingLastPathComponent, mask: [.closeWrite, .movedTo, .create, .onlyDirectory, .addToMask])
    }

    /// The next `IN_MOVED_FROM` of `name` is the daemon's own claim, not a `gone` event.
    func expectOwnMove(of name: Bytes) { ownMoves[name, default: 0] += 1 }

    /// Forgets an expected move that did not happen (the rename failed).
    func cancelOwnMove(of name: Bytes) {
        if let count = ownMoves[name] { ownMoves[name] = count > 1 ? count - 1 : nil }
    }

    /// The next creation of `name` is the daemon's own (a FIFO or socket of a directive).
    func expectOwnCreation(of name: Bytes) { ownCreations.insert(name) }

    /// Reads what the kernel queued and returns it as changes, in order. A producer making
    /// names as fast as they are read must not grow one batch without end: past
    /// `batchLimit`, the rest waits in the kernel's queue (bounded; an overflow is reported)
    /// for the next call.
    func readChanges() throws -> [Change] {
        var changes: [Change] = []
        var offered: Set<Int32> = []
        while changes.count < Self.batchLimit {
            let events = try inotify.readEvents(into: &buffer)
            if events.isEmpty { break }
            for event in events { translate(event, into: &changes, offered: &offered) }
        }
        return changes
    }

    /// `offered`: the watches whose open creations a placeholder close offered in this batch.
    private func translate(_ event: Inotify.Event, into changes: inout [Change], offered: inout Set<Int32>) {
        let mask = event.mask
        if mask.contains(.overflow) {
            changes.append(.overflow)
            return
        }
        if event.watch == rulesWatch && event.name == rulesFileName {
            // The rules file is never a message, even when it sits in a spool folder.
            if !mask.contains(.movedFrom) && !mask.contains(.delete) { changes.append(.rulesFileChanged) }
            return
        }
        if mask.contains(.ignored) {
            folders[event.watch] = nil
            forgetOpenCreations(of: event.watch)
            return
        }
        guard let folder = folders[event.watch], !event.name.isEmpty,
              event.name.first != UInt8(ascii: ".") else { return }
        let name = folder.appendingPathComponent(event.name)
        let isDirectory = mask.contains(.isDirectory)

        if mask.contains(.movedFrom) || mask.contains(.delete) || mask.contains(.closeWrite) {
            forgetOpenCreation(event.name, of: event.watch)
        }
        if mask.contains(.movedFrom) {
            if let count = ownMoves[name] {
                ownMoves[name] = count > 1 ? count - 1 : nil
                return
            }
            if isDirectory { forgetFolders(under: name) }
            changes.append(.gone(name, isDirectory: isDirectory))
        } else if mask.contains(.delete) {
            changes.append(.gone(name, isDirectory: isDirectory))
        } else if mask.contains(.closeWrite) {
            if event.name.first == UInt8(ascii: "#"), (try? spool.statusIfPresent(name)) == nil {
                placeholderClosed(in: event.watch, folder: folder, into: &changes, offered: &offered)
            } else {
                changes.append(.fileReady(name))
            }
        } else if mask.contains(.create) || mask.contains(.movedTo) {
            if ownCreations.remove(name) != nil { return }
            appeared(name, watch: event.watch, movedIn: mask.contains(.movedTo), into: &changes)
        }
    }

    /// An `O_TMPFILE` file was closed: it is one of the files created in its folder and not
    /// closed yet. Each is offered; the claim's lease check leaves those still being written.
    /// A folder's files are offered once per batch: each further close there, which a producer
    /// can repeat cheaply, has its folder listed instead of offering up to 4,096 names again.
    private func placeholderClosed(in watch: Int32, folder: Bytes, into changes: inout [Change], offered: inout Set<Int32>) {
        guard openCreationCount < Self.openCreationLimit, offered.insert(watch).inserted else {
            changes.append(.folderNeedsScan(folder))
            return
        }
        for created in openCreations[watch] ?? [] {
            changes.append(.fileReady(folder.appendingPathComponent(created)))
        }
    }

    private func forgetOpenCreation(_ name: Bytes, of watch: Int32) {
        if openCreations[watch]?.remove(name) != nil { openCreationCount -= 1 }
    }

    private func forgetOpenCreations(of watch: Int32) {
        openCreationCount -= openCreations.removeValue(forKey: watch)?.count ?? 0
    }

    private func appeared(_ name: Bytes, watch: Int32, movedIn: Bool, into changes: inout [Change]) {
        guard let status = try? spool.status(name), let type = status.type else { return }
        if type != .file {
            changes.append(.nodeAppeared(name, type))
        } else if movedIn || status.linkCount > 1 {
            // A hard link (maildir-style delivery) or a move is complete as it arrives.
            changes.append(.fileReady(name))
        } else if openCreationCount < Self.openCreationLimit {
            // A plain create is followed by IN_CLOSE_WRITE of its name; a linked O_TMPFILE file
            // by IN_CLOSE_WRITE of a placeholder name, which stands for the files kept here.
            if openCreations[watch, default: []].insert(name.lastPathComponent).inserted { openCreationCount += 1 }
        }
    }

    private func forgetFolders(under name: Bytes) {
        let prefix = name + [UInt8(ascii: "/")]
        for (watch, folder) in folders where folder == name || folder.starts(with: prefix) {
            inotify.removeWatch(watch)
            folders[watch] = nil
            forgetOpenCreations(of: watch)
        }
    }
}
