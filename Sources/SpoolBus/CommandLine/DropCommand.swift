/// `spoolbus drop`: dead letters removed for good.
enum DropCommand: Subcommand {
    static let spec = CommandSpec(
        "drop",
        abstract: "Remove dead letters for good.",
        discussion: "Removes messages from SPOOL/.spoolbus/failed/, with their reasons: every one with --all, else those named (every dead letter of each NAME). When a daemon serves the spool, it does the removing (asked over its control socket) and logs a drop line for each; otherwise they are removed directly. Exits 1 when a NAME has no dead letter.",
        arguments: [
            ArgumentSpec("NAME", help: "A dead letter's message name, as 'spoolbus dead --names' prints it.", optional: true, repeating: true,
                         values: .deadLetters),
        ],
        options: [
            OptionSpec("all", help: "Remove every dead letter."),
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let all = arguments.has("all")
        let names = arguments.positionals
        if all && !names.isEmpty { throw UsageError("give NAMEs or --all, not both") }
        if !all && names.isEmpty { throw UsageError("nothing to drop: give NAMEs or --all") }
        let layout = SpoolPaths(root: SpoolLocation.resolve(arguments))
        let outcomes = try DeadLetterAccess.drop(all ? nil : names, in: layout)
        var status: Int32 = 0
        for outcome in outcomes {
            switch outcome {
            case .dropped(let id, let name):
                context.output("dropped ".bytes + LogEscaping.escaped(name) + " (id ".bytes + LogEscaping.escaped(id) + ")\n".bytes)
            case .missing(let name):
                context.reportError("no dead letter named \(TokenDisplay.quoted(name))")
                status = 1
            case .failed(let id, let name, let reason):
                context.reportError("cannot drop \(TokenDisplay.quoted(name)) (\(TokenDisplay.escaped(id))): \(TokenDisplay.escaped(reason))")
                status = 1
            }
        }
        if all && outcomes.isEmpty { context.printError("spoolbus: no dead letters in '\(TokenDisplay.escaped(layout.failed))'\n") }
        return status
    }
}
