/// `spoolbus help [CMD]`: the same text as `spoolbus [CMD] --help`.
enum HelpCommand: Subcommand {
    static let spec = CommandSpec(
        "help",
        abstract: "Show help for a command.",
        arguments: [
            ArgumentSpec("COMMAND", help: "The command to describe.", optional: true),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        guard let word = arguments.positionals.first else {
            context.print(SpoolBusCommandLine.topLevelHelp)
            return 0
        }
        guard let command = SpoolBusCommandLine.subcommand(named: word) else {
            throw SpoolBusCommandLine.unknownCommand(word)
        }
        context.print(HelpText.help(for: command.spec))
        return 0
    }
}
