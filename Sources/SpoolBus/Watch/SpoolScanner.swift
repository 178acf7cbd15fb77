/// A walk over the spool that can pause and go on, so that a spool holding a hundred thousand
/// files is read a slice at a time, as the dispatcher has room, in bounded memory.
///
/// It watches every folder it enters before listing it: a file created after the listing is
/// reported by inotify, one created before is listed, and one in both is claimed only once
/// (a claim is a rename). Each folder is opened beneath the spool's descriptor, never through a
/// symlink, and then listed and watched through that descriptor.
final class SpoolScanner {
    struct Found {
        let name: Bytes
        let type: NodeType
        /// Found in a folder that appeared while the daemon ran: its nodes are news (`node`
        /// events); in a start-up or overflow scan they are not.
        let isNew: Bool
    }

    private struct Frame {
        let folder: Bytes
        let directory: Directory
        let stream: DirectoryStream
        let isNew: Bool
    }

    /// Folders waiting to be walked at most: a producer making folders in a loop while the walk
    /// waits for room must not grow the queue without end.
    static let pendingLimit = 1024

    private let spool: Directory
    private var stack: [Frame] = []
    private var pendingFolders: [(Bytes, Bool)] = []

    init(spool: Directory) { self.spool = spool }

    /// Whether there is anything left to walk.
    var isActive: Bool { !stack.isEmpty || !pendingFolders.isEmpty }

    /// Queues the folder `name` (relative; empty for the whole spool) to be walked. Returns
    /// false when the queue is full: a walk of the whole spool must then cover the folder.
    @discardableResult
    func enqueue(_ name: Bytes, isNew: Bool) -> Bool {
        guard pendingFolders.count < Self.pendingLimit else { return false }
        pendingFolders.append((name, isNew))
        return true
    }

    /// The next entry of the walk; `watch` is called for each folder (its name, and the folder
    /// opened) before it is listed. Nil when the walk is over.
    func next(watch: (Bytes, Directory) throws -> Void, failure: (Bytes, Error) -> Void) -> Found? {
        while true {
            if stack.isEmpty {
                guard !pendingFolders.isEmpty else { return nil }
                let (folder, isNew) = pendingFolders.removeFirst()
                enter(folder, isNew: isNew, watch: watch, failure: failure)
                continue
            }
            let frame = stack[stack.count - 1]
            guard let entry = frame.stream.next() else {
                stack.removeLast().directory.close()
                continue
            }
            if entry.name.first == UInt8(ascii: ".") { continue }
            let name = frame.folder.appendingPathComponent(entry.name)
            var type = entry.type
            if type == nil { type = (try? frame.directory.status(entry.name))?.type }
            guard let type else { continue }
            if type == .dir { enter(name, isNew: frame.isNew, watch: watch, failure: failure) }
            return Found(name: name, type: type, isNew: frame.isNew)
        }
    }

    private func enter(_ folder: Bytes, isNew: Bool, watch: (Bytes, Directory) throws -> Void, failure: (Bytes, Error) -> Void) {
        let directory: Directory
        do {
            directory = try spool.openDirectory(folder)
        } catch {
            failure(folder, error)
            return
        }
        do {
            try watch(folder, directory)
            stack.append(Frame(folder: folder, directory: directory, stream: try DirectoryStream(directory), isNew: isNew))
        } catch {
            directory.close()
            failure(folder, error)
        }
    }
}
