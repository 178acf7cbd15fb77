/// The channels' nodes in the file system: the FIFOs of `mkfifo` directives and the sockets of
/// `listen` directives. Each is made and given its mode in `layout.temporary`, where no one
/// else can put anything, then renamed to its name without replacing anything, so a mode is
/// never applied to whatever someone put at the name, and no path goes through a symlink.
final class ChannelNodes {
    private let layout: SpoolLayout
    private let log: DispatchLog
    private var stagedCount = 0
    /// Names the daemon removed itself: their `gone` events are not news.
    private var ownRemovals: Set<Bytes> = []
    /// Tells the watcher that the next creation of a name is the daemon's own.
    var expectOwnCreation: (Bytes) -> Void = { _ in }

    init(layout: SpoolLayout, log: DispatchLog) {
        self.layout = layout
        self.log = log
    }

    /// A name in `layout.temporary` no other node of this daemon has (a leftover of a crashed
    /// one is removed before use).
    func stagingName(_ kind: String) -> Bytes {
        stagedCount += 1
        return "\(kind)-\(SystemInfo.processID)-\(stagedCount)".bytes
    }

    /// Makes the FIFOs of `directives` that are missing; a failure is logged, the others are made.
    /// A FIFO already at the name is left there: whether it is the daemon's own, and so read, is
    /// checked on the descriptor that reads it (`FifoChannel.open`).
    func makeFifos(_ directives: [MkfifoDirective]) {
        for directive in directives {
            do {
                if let status = try layout.spool.statusIfPresent(directive.name) {
                    if status.type != .fifo {
                        log.record("error", name: directive.name, [("name", directive.name), ("err", "mkfifo: something else is there")])
                    }
                    continue
                }
                try SpoolLayout.makeFolders(of: directive.name, in: layout.spool, shown: layout.root)
                let staged = stagingName("fifo")
                try layout.temporary.removeIfPresent(staged)
                try layout.temporary.makeFifo(staged, mode: directive.mode)
                expectOwnCreation(directive.name)
                do {
                    try layout.temporary.rename(staged, to: layout.spool, as: directive.name, replacing: false)
                } catch {
                    try? layout.temporary.removeIfPresent(staged)
                    throw error
                }
            } catch {
                log.record("error", name: directive.name, [("name", directive.name), ("err", "\(error)")])
            }
        }
    }

    /// Binds the socket of a `listen` directive at its name (see `SocketFile.create`).
    func bindSocket(_ directive: ListenDirective, kind: SocketKind) throws -> BoundSocket {
        try SocketFile.create(
            kind, named: directive.name, in: layout.spool, shown: layout.path(of: directive.name),
            staging: layout.temporary, as: stagingName("socket"), mode: directive.mode,
            removing: { ownRemovals.insert(directive.name) },
            creating: { expectOwnCreation(directive.name) })
    }

    /// Removes the file of a socket the daemon bound, if the name still is that socket.
    func removeSocket(_ name: Bytes, _ socket: BoundSocket) {
        ownRemovals.insert(name)
        if !socket.unlinkIfStillThere(name, in: layout.spool) { ownRemovals.remove(name) }
    }

    /// Whether `name` going away was the daemon's own doing (a stale socket replaced, a socket
    /// closed); answers true once per removal.
    func wasOwnRemoval(_ name: Bytes) -> Bool {
        ownRemovals.remove(name) != nil
    }
}
