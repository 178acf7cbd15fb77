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

    private let descriptor: FileDescriptor
    private var buffer = Bytes()
    private var chunk = Bytes(repeating: 0, count: 65536)

    /// Connects to the daemon serving `layout`'s spool.
    init(_ layout: SpoolPaths) throws {
        let fd = try UnixSocket.open(.stream, nonBlocking: false)
        do {
            try UnixSocket.connect(fd, to: layout.controlSocket)
        } catch let error as SystemError {
            fd.close()
            throw NoDaemon(spool: layout.root, cause: error)
        }
        descriptor = fd
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
            guard let more = try readChunk() else {
                if buffer.isEmpty { return nil }
                defer { buffer.removeAll() }
                return buffer
            }
            buffer += more
        }
    }

    /// Whatever arrives next, as it arrives (after anything `readLine` buffered); nil at end of
    /// file.
    func readAvailable() throws -> Bytes? {
        if !buffer.isEmpty {
            defer { buffer.removeAll() }
            return buffer
        }
        return try readChunk()
    }

    private func readChunk() throws -> Bytes? {
        let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) } ?? 0
        return count == 0 ? nil : Bytes(chunk[..<count])
    }
}
