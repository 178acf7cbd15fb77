/// `spoolbus check`: the rules file as understood, or every error in it.
enum CheckCommand: Subcommand {
    static let spec = CommandSpec(
        "check",
        abstract: "Check a rules file and print each rule as understood.",
        discussion: "Prints one line per directive and rule, with every option at its effective value. On errors, prints all of them as FILE:LINE:COL: error: MESSAGE and exits with status 2.",
        arguments: [
            ArgumentSpec("RULES", help: "The rules file.", optional: true, default: "./spoolbus.rules"),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let loaded = try LoadedRules.load(arguments.positionals.first ?? LoadedRules.defaultPath, checkingSystem: true, in: context)
        for line in loaded.ruleSet.summaryLines { context.print(line + "\n") }
        return 0
    }
}
