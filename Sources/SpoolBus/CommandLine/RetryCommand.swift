/// `spoolbus retry`: dead letters back into the spool, to be dispatched again.
enum RetryCommand: Subcommand {
    static let spec = CommandSpec(
        "retry",
        abstract: "Put dead letters back into the spool.",
        discussion: "Moves messages from SPOOL/.spoolbus/failed/ back to their names in the spool: every one with --all, else those named. When a daemon serves the spool, it does the moving (asked over its control socket) and dispatches them as they arrive; otherwise the next start does.",
        arguments: [
            ArgumentSpec("NAME", help: "A dead letter's message name (inbox/hello.msg).", optional: true, repeating: true, values: .deadLetters),
        ],
        options: [
            OptionSpec("all", help: "Put back every dead letter."),
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let all = arguments.has("all")
        let names = arguments.positionals
        if all && !names.isEmpty { throw UsageError("give NAMEs or --all, not both") }
        if !all && names.isEmpty { throw UsageError("nothing to retry: give NAMEs or --all") }
        let layout = SpoolPaths(root: SpoolLocation.resolve(arguments))
        if let daemon = try ControlClient.ifServing(layout) {
            return try retry(through: daemon, names: all ? nil : names, layout: layout, in: context)
        }
        // Through the folders' descriptors: a folder of a name swapped for a symlink makes
        // that letter fail, it is never put back outside the spool.
        var store: ClaimStore?
        var letters: [ClaimStore.DeadLetter]
        do {
            let opened = try SpoolLayout.openExisting(layout.root)
            store = ClaimStore(layout: opened)
            letters = try store?.deadLetters() ?? []
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            letters = []
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot list dead letters: \(error)")
        }
        defer { store?.layout.close() }
        var status: Int32 = 0
        if all {
            if letters.isEmpty { context.printError("spoolbus: no dead letters in '\(TokenDisplay.escaped(layout.failed))'\n") }
        } else {
            for name in names where !letters.contains(where: { $0.name == name }) {
                context.reportError("no dead letter named \(TokenDisplay.quoted(name))")
                status = 1
            }
            letters = letters.filter { names.contains($0.name) }
        }
        for letter in letters {
            do {
                guard let store else { continue }
                if store.lineOrigin(of: letter) != nil {
                    // A line goes back to `work/`; the next start dispatches it as a line again.
                    _ = try store.requeueLine(letter)
                } else {
                    try store.resurrect(letter)
                }
                context.output("put back ".bytes + LogEscaping.escaped(letter.name) + " (id ".bytes + LogEscaping.escaped(letter.id) + ")\n".bytes)
            } catch let error as SystemError where error.errno == SystemError.exists {
                context.reportError("cannot put back \(TokenDisplay.quoted(letter.name)) (\(TokenDisplay.escaped(letter.id))): a file of that name is in the spool already")
                status = 1
            } catch let error as SystemError {
                context.reportError("cannot put back \(TokenDisplay.quoted(letter.name)) (\(TokenDisplay.escaped(letter.id))): \(TokenDisplay.escaped("\(error)"))")
                status = 1
            }
        }
        return status
    }

    /// Asks the running daemon to put the letters back; its answer reads as the offline path's.
    private static func retry(through daemon: ControlClient, names: [Bytes]?, layout: SpoolPaths, in context: CommandContext) throws -> Int32 {
        var status: Int32 = 0
        var any = false
        do {
            try daemon.send(["retry".bytes] + (names.map { ["--".bytes] + $0 } ?? ["--all".bytes]))
            while let line = try daemon.readLine() {
                any = true
                guard let words = ControlWords.split(line), let verb = words.first else { continue }
                switch (text(verb), words.count) {
                case ("retried", 3):
                    context.output("put back ".bytes + LogEscaping.escaped(words[2]) + " (id ".bytes + LogEscaping.escaped(words[1]) + ")\n".bytes)
                case ("missing", 2):
                    context.reportError("no dead letter named \(TokenDisplay.quoted(words[1]))")
                    status = 1
                case ("failed", 4):
                    context.reportError("cannot put back \(TokenDisplay.quoted(words[2])) (\(TokenDisplay.escaped(words[1]))): \(TokenDisplay.escaped(words[3]))")
                    status = 1
                default:
                    context.reportError("the daemon answered: " + TokenDisplay.escaped(line.starts(with: "error ".bytes) ? Bytes(line.dropFirst(6)) : line))
                    status = 1
                }
            }
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "lost the daemon while retrying: \(error)")
        }
        if names == nil && !any {
            context.printError("spoolbus: no dead letters in '\(TokenDisplay.escaped(layout.failed))'\n")
        }
        return status
    }
}
