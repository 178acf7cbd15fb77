/// `spoolbus send`: drops one message into the spool, atomically.
enum SendCommand: Subcommand {
    static let spec = CommandSpec(
        "send",
        abstract: "Drop a message into the spool, atomically.",
        discussion: "The body is the TEXT words joined by single spaces, plus a newline; with no TEXT, or TEXT exactly -, it is read from stdin. The message is written to a hidden temporary file (a dot name the daemon ignores) in the target's folder, synced to disk and renamed to SPOOL/NAME (creating its folders), so the daemon never sees half of it. Onto a FIFO (a daemon's mkfifo), the body is written as one line instead, but only into a FIFO of the daemon's user (the owner of SPOOL/.spoolbus/) or of yours, since whoever made a FIFO may read it; a socket or anything else that is not a file is never replaced. Prints the path it created.",
        arguments: [
            ArgumentSpec("NAME", help: "The message name, relative to the spool (inbox/hello.msg)."),
            ArgumentSpec("TEXT", help: "The body's words.", optional: true, repeating: true),
        ],
        options: [
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let name = arguments.positionals[0]
        try validate(name)
        let texts = Array(arguments.positionals.dropFirst())
        let spool = SpoolLocation.resolve(arguments)
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
