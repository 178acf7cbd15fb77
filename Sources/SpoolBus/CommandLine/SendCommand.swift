/// `spoolbus send`: drops one message into the spool, atomically.
enum SendCommand: Subcommand {
    static let spec = CommandSpec(
        "send",
        abstract: "Drop a message into the spool, atomically.",
        discussion: "The body is the TEXT words joined by single spaces, plus a newline; with no TEXT, or TEXT exactly -, it is read from stdin. The message is written to a hidden temporary file (a dot name the daemon ignores) in the target's folder, synced to disk and renamed to SPOOL/NAME (creating its folders), so the daemon never sees half of it. Onto a FIFO (a daemon's mkfifo), the body is written as one line instead, but only into a FIFO of the daemon's user (the owner of SPOOL/.spoolbus/) or of yours, since whoever made a FIFO may read it; a socket or anything else that is not a file is never replaced. Prints the path it created. With --via SOCKET the words go to a listen socket as one message, stdin passed as a descriptor (the handler's stdin); with --mq /QUEUE they go into a message queue.",
        arguments: [
            ArgumentSpec("NAME", help: "The message name, relative to the spool (inbox/hello.msg)."),
            ArgumentSpec("TEXT", help: "The body's words.", optional: true, repeating: true),
        ],
        options: [
            .spool(),
            OptionSpec("via", value: "SOCKET", help: "Send NAME and TEXT as one message to this listen socket (in the spool unless absolute), passing stdin along as a descriptor; prints the daemon's answer."),
            OptionSpec("mq", value: "/QUEUE", help: "Send NAME and TEXT, joined by spaces (no newline added), or stdin for -, as one message into this POSIX message queue; waits while it is full."),
            OptionSpec("priority", value: "N", help: "The queue message's priority, 0 to 32767.", default: "0"),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let spool = SpoolLocation.resolve(arguments)
        if arguments.value("via") != nil || arguments.value("mq") != nil || arguments.value("priority") != nil {
            return try sendElsewhere(arguments, spool: spool, in: context)
        }
        let name = arguments.positionals[0]
        try validate(name)
        let texts = Array(arguments.positionals.dropFirst())
        let content: Bytes
        do {
            content = try body(texts: texts, readInput: context.readInput)
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot read the body from stdin: \(error)")
        }
        if !wasServed(spool) {
            context.printError("spoolbus: warning: no daemon has served '\(TokenDisplay.escaped(spool))' (it has no \(text(SpoolLayout.stateName))/): "
                               + "is it the spool you meant? (--spool DIR or \(SpoolLocation.environmentVariable)); sending anyway\n")
        }
        do {
            let path = try send(name: name, body: content, spool: spool)
            context.output(path + "\n".bytes)
            return 0
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot send \(TokenDisplay.quoted(name)): \(error)")
        } catch let error as SpoolBusError {
            throw CommandFailure(status: 1, message: "cannot send \(TokenDisplay.quoted(name)): \(error)")
        }
    }

    /// `--via` and `--mq`: the words are a message for a socket or a queue, not a file name.
    private static func sendElsewhere(_ arguments: ParsedArguments, spool: Bytes, in context: CommandContext) throws -> Int32 {
        let words = arguments.positionals
        if let socket = arguments.value("via") {
            guard arguments.value("mq") == nil, arguments.value("priority") == nil else {
                throw UsageError("--via sends to a socket; --mq and --priority are for queues")
            }
            do {
                return try SendThroughSocket.send(words: words, via: socket, spool: spool, in: context)
            } catch let error as SystemError {
                throw CommandFailure(status: 1, message: "cannot send through \(TokenDisplay.quoted(socket)): \(error)")
            }
        }
        guard let queue = arguments.value("mq") else { throw UsageError("--priority needs --mq /QUEUE") }
        guard queue.first == UInt8(ascii: "/"), queue.count > 1, !queue.dropFirst().contains(UInt8(ascii: "/")) else {
            throw UsageError("invalid queue \(TokenDisplay.quoted(queue)): a queue is named /NAME, one slash, first")
        }
        var priority: UInt32 = 0
        if let value = arguments.value("priority") {
            guard let number = UInt32(text(value)), number < MessageQueue.priorityLimit else {
                throw UsageError.invalidValue(value, for: "--priority", expected: "a whole number from 0 to \(MessageQueue.priorityLimit - 1)")
            }
            priority = number
        }
        let body: Bytes
        do {
            body = words == ["-".bytes] ? try context.readInput() : Bytes(words.joined(separator: " ".bytes))
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot read the body from stdin: \(error)")
        }
        do {
            try SendToQueue.send(body, to: queue, priority: priority)
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot send to queue \(TokenDisplay.quoted(queue)): \(error)")
        }
        return 0
    }

    /// Throws a usage error unless `name` is relative, free of `..` and of components that
    /// start with `.` (which the daemon ignores) and of empty components.
    static func validate(_ name: Bytes) throws {
        if SpoolLayout.isValidMessageName(name) { return }
        let components = name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let reason: String
        if name.isEmpty {
            reason = "a name cannot be empty"
        } else if name.first == UInt8(ascii: "/") {
            reason = "names are relative to the spool"
        } else if components.contains(where: { $0.elementsEqual("..".utf8) }) {
            reason = "'..' would leave the spool"
        } else if components.contains(where: { $0.first == UInt8(ascii: ".") }) {
            reason = "a component that starts with '.' is never dispatched"
        } else {
            reason = "empty path component"
        }
        throw UsageError("invalid message name \(TokenDisplay.quoted(name)): \(reason)")
    }

    /// The body: `texts` joined by single spaces plus a newline, or stdin when there are no
    /// texts or the only one is `-`.
    static func body(texts: [Bytes], readInput: () throws -> Bytes) throws -> Bytes {
        if texts.isEmpty || texts == ["-".bytes] { return try readInput() }
        return Bytes(texts.joined(separator: " ".bytes)) + "\n".bytes
    }

    /// Whether a daemon ever prepared `spool`: a folder without `.spoolbus/` is more likely a
    /// typo, or the wrong current directory, than a spool whose daemon has yet to start.
    static func wasServed(_ spool: Bytes) -> Bool {
        guard let folder = try? Directory.open(spool) else { return false }
        defer { folder.close() }
        return (try? folder.statusIfPresent(SpoolLayout.stateName))??.type == .dir
    }

    /// Drops `body` as `SPOOL/NAME` (see `SpoolLayout.drop`), creating folders as needed but
    /// never `.spoolbus/`; `spool` is absolute. Returns the absolute path of the message.
    static func send(name: Bytes, body: Bytes, spool: Bytes) throws -> Bytes {
        try SpoolLayout.drop(body, as: name, in: spool)
    }
}
