/// `spoolbus completion bash|zsh`: the shell completion script, made from the command tables.
enum CompletionCommand: Subcommand {
    static let spec = CommandSpec(
        "completion",
        abstract: "Print a shell completion script.",
        discussion: "Completes the subcommands, their options and values, and for retry and drop the names of the spool's dead letters. For bash: spoolbus completion bash > /usr/local/share/bash-completion/completions/spoolbus (or source it from ~/.bashrc). For zsh: spoolbus completion zsh > _spoolbus in a folder of $fpath.",
        arguments: [
            ArgumentSpec("SHELL", help: "bash or zsh."),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let shell = arguments.positionals[0]
        let commands = SpoolBusCommandLine.subcommands.map { $0.spec }
        switch String(decoding: shell, as: UTF8.self) {
        case "bash": context.print(CompletionScript.bash(commands, topLevel: SpoolBusCommandLine.topLevelSpec))
        case "zsh": context.print(CompletionScript.zsh(commands, topLevel: SpoolBusCommandLine.topLevelSpec))
        default:
            throw UsageError("unknown shell \(TokenDisplay.quoted(shell)): expected bash or zsh",
                             suggestion: DidYouMean.closest(to: String(decoding: shell, as: UTF8.self), among: CompletionScript.shells))
        }
        return 0
    }
}
