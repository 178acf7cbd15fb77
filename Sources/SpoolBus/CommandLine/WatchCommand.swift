/// `spoolbus watch`: the dispatch log of matching messages, live, from the running daemon.
enum WatchCommand: Subcommand {
    static let spec = CommandSpec(
        "watch",
        abstract: "Print log lines of matching messages as they happen.",
        discussion: "Subscribes to the daemon serving the spool and prints each log line about a message whose name matches PATTERN, the moment it is written, until interrupted; without PATTERN, every line. Nothing polls. A watcher that falls more than 1 MiB behind is dropped by the daemon. Exits 0 when the daemon stops (its stop line is the last one printed); exits 1 when no daemon serves the spool, or when the connection ends without a stop line (the daemon died, or dropped this watcher for falling behind).",
        arguments: [
            ArgumentSpec("PATTERN", help: "A rules-file glob over message names.", optional: true, default: "**"),
        ],
        options: [
            OptionSpec("json", help: "Print each line as one JSON object: time, verb, then the line's keys, values unescaped."),
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let pattern = arguments.positionals.first
        if let pattern {
            do {
                _ = try Glob(pattern)
            } catch let error as Glob.SyntaxError {
                throw UsageError("invalid pattern \(TokenDisplay.quoted(pattern)): \(error.message)")
            }
        }
        let layout = SpoolPaths(root: SpoolLocation.resolve(arguments))
        do {
            let client = try ControlClient(layout)
            try client.send(["watch".bytes] + (pattern.map { [$0] } ?? []))
            guard let first = try client.readLine() else {
                throw CommandFailure(status: 1, message: "the daemon closed the connection without answering")
            }
            if first.starts(with: "error ".bytes) {
                throw CommandFailure(status: 1, message: "the daemon answered: " + TokenDisplay.escaped(Bytes(first.dropFirst(6))))
            }
            var last: Bytes?
            let json = arguments.has("json")
            while let line = try client.readLine() {
                last = line
                // Log lines come escaped; a control byte in one is shown as `\xNN`, not run.
                context.output(json ? LogLineJSON.object(line).line : Bytes(TokenDisplay.escaped(line).utf8) + "\n".bytes)
            }
            // The daemon's stop line ends every watch of a daemon that stopped normally.
            if let line = last, let (_, verb, _) = LogLineJSON.parse(line), verb == "stop".bytes { return 0 }
        } catch let error as ControlClient.NoDaemon {
            throw CommandFailure(status: 1, message: error.description)
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "lost the daemon: \(error)")
        }
        throw CommandFailure(status: 1, message: "the daemon ended the watch without a stop line (it died, or this watcher fell behind)")
    }
}
