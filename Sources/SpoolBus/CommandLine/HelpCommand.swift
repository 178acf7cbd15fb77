/// `spoolbus help [CMD|rules] [--man]`: the same text as `spoolbus [CMD] --help`, the rules
/// file's reference, or either manual page.
enum HelpCommand: Subcommand {
    /// The topic that is not a command.
    static let rulesTopic = "rules"

    static let spec = CommandSpec(
        "help",
        abstract: "Show help for a command, or for the rules file.",
        discussion: "With --man, prints a manual page in roff instead: spoolbus(1), or spoolbus.rules(5) for the topic rules (spoolbus help --man rules > spoolbus.rules.5).",
        arguments: [
            ArgumentSpec("COMMAND", help: "The command to describe, or rules for the rules file.", optional: true),
        ],
        options: [
            OptionSpec("man", help: "Print the manual page instead."),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let word = arguments.positionals.first
        let isRules = word == rulesTopic.bytes
        if arguments.has("man") {
            if let word, !isRules {
                throw UsageError("no manual page for \(TokenDisplay.quoted(word)): spoolbus(1) describes every command (help --man), spoolbus.rules(5) the rules file (help --man rules)")
            }
            context.print(isRules ? ManPage.rules : ManPage.spoolbus(SpoolBusCommandLine.subcommands.map { $0.spec }, topLevel: SpoolBusCommandLine.topLevelSpec))
            return 0
        }
        guard let word else {
            context.print(SpoolBusCommandLine.topLevelHelp)
            return 0
        }
        if isRules {
            context.print(RulesReference.helpText)
            return 0
        }
        guard let command = SpoolBusCommandLine.subcommand(named: word) else {
            throw SpoolBusCommandLine.unknownCommand(word)
        }
        context.print(HelpText.help(for: command.spec))
        return 0
    }
}
