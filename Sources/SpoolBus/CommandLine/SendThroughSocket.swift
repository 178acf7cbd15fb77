/// `spoolbus send --via SOCKET NAME [TEXT…]`: the words as one message to a `listen` socket,
/// with this process's stdin passed along (SCM_RIGHTS), so the handler reads it directly:
/// `spoolbus send --via bus.sock big.iso < big.iso` copies nothing through the daemon.
enum SendThroughSocket {
    /// Sends and waits for the daemon's answer; returns the exit status (0 for `ok` and
    /// `reply`, 1 for `fail` and `error`, whose reason goes to stderr).
    static func send(words: [Bytes], via socketName: Bytes, spool: Bytes, in context: CommandContext) throws -> Int32 {
        // A name in the spool is reached beneath the spool's descriptor; an absolute path is the
        // caller's own, still reached without following a symlink.
        let (folder, name) = socketName.first == UInt8(ascii: "/")
            ? ("/".bytes, Bytes(socketName.drop { $0 == UInt8(ascii: "/") })) : (FileSystem.absolute(spool), socketName)
        let path = folder.appendingPathComponent(name)
        // Asked before the socket exists: with stdin closed, the socket would get its number.
        let passesInput = FileDescriptor.standardInput.isOpenForReading
        let (socket, kind) = try connect(to: name, beneath: folder, shown: path)
        defer { socket.close() }
        try trustListener(socket, at: path, spool: spool)
        var message = Bytes(words.joined(separator: " ".bytes))
        if kind == .stream { message.append(UInt8(ascii: "\n")) }
        // Stdin closed: nothing to pass, the words go alone.
        if passesInput {
            try UnixSocket.sendAll(socket, message, passing: .standardInput)
        } else {
            try UnixSocket.sendAll(socket, message)
        }
        UnixSocket.shutdownWriting(socket)
        let answer = try readAnswer(socket)
        if answer.starts(with: "ok ".bytes) || answer.starts(with: "reply ".bytes) {
            context.output(answer)
            return 0
        }
        guard !answer.isEmpty else { throw CommandFailure(status: 1, message: "the daemon closed \(text(path)) without answering") }
        let reason = answer.last == UInt8(ascii: "\n") ? Bytes(answer.dropLast()) : answer
        throw CommandFailure(status: 1, message: "the daemon answered: \(TokenDisplay.escaped(reason))")
    }

    /// Refuses a listener that neither root, this user, nor the spool's owner made, before
    /// anything is sent: in a spool others may write, a producer may bind the socket's name
    /// first (before the daemon starts, or while it is down) and would get this process's stdin
    /// (root's terminal, the file it meant to hand over) and print what it likes on its terminal.
    private static func trustListener(_ socket: FileDescriptor, at path: Bytes, spool: Bytes) throws {
        let peer = try UnixSocket.peerCredentials(socket)
        if peer.uid == 0 || peer.uid == SystemInfo.effectiveUserID { return }
        do {
            try ControlClient.trust(peer, at: SpoolPaths(root: FileSystem.absolute(spool)))
        } catch {
            throw CommandFailure(status: 1, message: "refusing \(TokenDisplay.escaped(path)): it is served by uid \(peer.uid), "
                + "neither root, you, nor the user owning the spool and its .spoolbus/ (a producer may have planted it); "
                + "nothing was sent")
        }
    }

    /// A stream connection, or a seqpacket one when the socket is of that kind.
    private static func connect(to name: Bytes, beneath folder: Bytes, shown path: Bytes) throws -> (FileDescriptor, SocketKind) {
        for kind in [SocketKind.stream, .seqpacket] {
            let fd = try UnixSocket.open(kind, nonBlocking: false)
            do {
                try UnixSocket.connect(fd, toSocket: name, beneath: folder)
                return (fd, kind)
            } catch let error as SystemError where error.errno == SystemError.wrongSocketType {
                fd.close()
            } catch {
                fd.close()
                throw error
            }
        }
        throw CommandFailure(status: 1, message: "\(text(path)) is a datagram socket: descriptors go to stream and seqpacket ones")
    }

    /// Everything the daemon sends back, until it closes (it does once its answer is out).
    private static func readAnswer(_ socket: FileDescriptor) throws -> Bytes {
        try socket.readAll(limit: 16 * 1024 * 1024)
    }
}

/// `spoolbus send --mq /NAME [--priority N] TEXT…`: one message into a POSIX message queue.
enum SendToQueue {
    static func send(_ body: Bytes, to queue: Bytes, priority: UInt32) throws {
        let fd: FileDescriptor
        do {
            fd = try MessageQueue.openForWriting(queue, nonBlocking: false)
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            throw CommandFailure(status: 1, message: "no queue \(text(queue)) (a daemon with 'mq \(text(queue))' in its rules creates it)")
        }
        defer { fd.close() }
        do {
            // Waits while the queue is full: the daemon's back-pressure reaches the sender here.
            try MessageQueue.send(fd, body, priority: priority)
        } catch let error as SystemError where error.errno == SystemError.messageTooLong {
            let size = (try? MessageQueue.limits(fd).messageSize).map { " (msgsize=\($0))" } ?? ""
            throw CommandFailure(status: 1, message: "a message of \(body.count) bytes is longer than queue \(text(queue)) takes\(size)")
        }
    }
}
