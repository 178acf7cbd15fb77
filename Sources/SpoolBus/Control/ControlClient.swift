/// The command line's side of the control socket: a blocking connection to the daemon that
/// serves a spool, one request, then its answer read to the end (or, for `watch`, as it comes).
final class ControlClient {
    /// Nobody answers at the spool's control socket.
    struct NoDaemon: Error, CustomStringConvertible {
        let spool: Bytes
        let cause: SystemError

        var description: String {
            if cause.errno == SystemError.permissionDenied {
                return "the control socket of spool '\(text(spool))' is not open to this user (\(cause)); "
                    + "the daemon's --control-mode decides who may use status, watch and retry"
            }
            // Most often the right daemon runs and this is the wrong folder: say how the spool is found.
            return "no daemon serves spool '\(text(spool))' (\(cause)); a command's spool is --spool DIR, "
                + "else $\(SpoolLocation.environmentVariable), else the enclosing spool, else ./spool"
        }
    }

    /// The longest line a daemon answers with: a status or log line is far shorter, and a
    /// socket that sends more is not to be buffered without end.
    static let lineLimit = 1 << 20

    private let descriptor: FileDescriptor
    private var buffer = Bytes()
    private var chunk = Bytes(repeating: 0, count: 65536)

    /// Connects to the daemon serving `layout`'s spool; throws `NoDaemon` when none answers and
    /// a `CommandFailure` when the one that answers is not the spool's (`trust`).
    init(_ layout: SpoolPaths) throws {
        let fd = try UnixSocket.open(.stream, nonBlocking: false)
        do {
            try UnixSocket.connect(fd, toSocket: SpoolLayout.stateName.appendingPathComponent(SpoolLayout.controlSocketName),
                                   beneath: layout.root)
        } catch let error as SystemError {
            fd.close()
            throw NoDaemon(spool: layout.root, cause: error)
        }
        descriptor = fd
        do {
            try Self.trust(UnixSocket.peerCredentials(fd), at: layout)
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot tell who serves spool '\(TokenDisplay.escaped(layout.root))': "
                + TokenDisplay.escaped("\(error)"))
        }
    }

    /// The client of the daemon serving `layout`'s spool, nil when none answers (a command
    /// may then work on the folders itself); an untrusted answerer is still an error.
    static func ifServing(_ layout: SpoolPaths) throws -> ControlClient? {
        do { return try ControlClient(layout) } catch is NoDaemon { return nil }
    }

    /// Refuses a server the spool's owner did not start. A producer who may write the spool
    /// may make `.spoolbus/` and a socket in it where no daemon has run yet; the commands,
    /// often run by root, would then believe its answers. Root's daemon is trusted anywhere;
    /// any other daemon only in a spool whose folder and `.spoolbus/` are both its user's,
    /// which a producer cannot arrange in someone else's spool.
    static func trust(_ peer: SocketCredentials, at layout: SpoolPaths) throws {
        if peer.uid == 0 { return }
        let spool = try Directory.open(layout.root)
        defer { spool.close() }
        let spoolOwner = try spool.status().owner
        let stateOwner = try spool.status(SpoolLayout.stateName).owner
        if peer.uid == spoolOwner && peer.uid == stateOwner { return }
        throw CommandFailure(status: 1, message: "refusing the control socket '\(TokenDisplay.escaped(layout.controlSocket))': "
            + "its server runs as uid \(peer.uid), but the spool folder is uid \(spoolOwner)'s and .spoolbus/ uid \(stateOwner)'s; "
            + "only root or the user owning both may serve the spool (a producer may have planted it)")
    }

    deinit { descriptor.close() }

    /// Sends one request: `words` as the control protocol writes them.
    func send(_ words: [Bytes]) throws {
        try UnixSocket.sendAll(descriptor, ControlWords.line(words))
    }

    /// The next line without its newline; nil at end of file (an unterminated rest is a line).
    func readLine() throws -> Bytes? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Bytes(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            if buffer.count > Self.lineLimit {
                throw CommandFailure(status: 1, message: "the daemon sent a line longer than \(Self.lineLimit) bytes")
            }
            guard let more = try readChunk() else {
                if buffer.isEmpty { return nil }
                defer { buffer.removeAll() }
                return buffer
            }
            buffer += more
        }
    }

    private func readChunk() throws -> Bytes? {
        let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) } ?? 0
        return count == 0 ? nil : Bytes(chunk[..<count])
    }
}
