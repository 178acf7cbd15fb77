extension HandlerRegistry {
    /// The Swift handlers of the stock `spoolbus` binary: `log`, `forward`, `discard` and
    /// `broadcast`. A program embedding the bus starts from these and registers its own.
    public static var builtIn: HandlerRegistry {
        var registry = HandlerRegistry()
        registry.register("log", BuiltInHandlers.log)
        registry.register("forward", BuiltInHandlers.forward)
        registry.registerInline("discard", BuiltInHandlers.discard)
        registry.registerInline("broadcast", BuiltInHandlers.broadcast)
        return registry
    }
}

/// The built-in Swift handlers. Their options are the words after `swift:NAME` in the rule.
enum BuiltInHandlers {
    /// `swift:log FILE [line|body]`: appends the message to FILE (relative to the rules file's
    /// folder) with one write. `line` (the default) writes one escaped line in the dispatch
    /// log's format, `message id=… name=… event=… type=… body=…`; `body` writes the body as it
    /// is, plus a newline if it lacks one.
    static let log: SwiftHandler = { message in
        guard let file = message.arguments.first, message.arguments.count <= 2 else {
            throw SpoolBusError("swift:log needs a file: swift:log FILE [line|body]")
        }
        let mode = message.arguments.count == 2 ? text(message.arguments[1]) : "line"
        let entry: Bytes
        switch mode {
        case "line": entry = try record(of: message).line(at: WallClock.milliseconds())
        case "body":
            let body = try message.body
            entry = body.last == UInt8(ascii: "\n") || body.isEmpty ? body : body + [UInt8(ascii: "\n")]
        default: throw SpoolBusError("swift:log: unknown format '\(mode)'; expected line or body")
        }
        let path = file.first == UInt8(ascii: "/") ? file : message.rulesDirectory.appendingPathComponent(file)
        let fd = try FileDescriptor.open(path, [.writeOnly, .append, .create])
        defer { fd.close() }
        try fd.writeAll(entry)
    }

    /// `swift:forward NAME`: drops the body into the spool as a new file message NAME
    /// (placeholders allowed, e.g. `archive/{name}`), durably: written aside, fsynced, renamed.
    static let forward: SwiftHandler = { message in
        guard message.arguments.count == 1, let name = message.arguments.first else {
            throw SpoolBusError("swift:forward needs exactly one name: swift:forward NAME")
        }
        try SpoolLayout.drop(try message.body, as: name, in: message.spoolDirectory)
    }

    /// `swift:discard`: accepts the message and does nothing (for `last` rules that silence
    /// noise). Inline: it never reads the body.
    static let discard: InlineSwiftHandler = { _ in }

    /// `swift:broadcast`: hands the message, body included, to every `spoolbus watch`
    /// subscriber whose pattern matches its name, as a `message` line. Inline: the body of a
    /// file is read on the loop, so keep broadcast files small (a tray notice, a level).
    static let broadcast: InlineSwiftHandler = { message in
        message.services.broadcast(try record(of: message))
    }

    private static func record(of message: SpoolMessage) throws -> LogRecord {
        LogRecord(verb: "message", fields: [
            ("id", message.id.bytes), ("name", message.name), ("event", message.event.rawValue.bytes),
            ("type", message.type.rawValue.bytes), ("body", try message.body),
        ], name: message.name)
    }
}
