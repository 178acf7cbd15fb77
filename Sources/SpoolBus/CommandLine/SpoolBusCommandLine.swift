/// The `spoolbus` command line: subcommands, help, errors and exit statuses.
///
/// Exit status: 0 success, 1 runtime failure, 2 bad usage or invalid rules.
public enum SpoolBusCommandLine {
    /// Runs the command line of this process (its arguments as the kernel gave them, bytes
    /// and all) and returns the exit status: a program's whole `main` is
    /// `exit(SpoolBusCommandLine.main(handlers: handlers))`.
    ///
    /// Call it first, before anything could start a thread: `run` blocks the signals it handles
    /// and reads them from a signalfd, which needs them blocked in every thread.
    ///
    /// - Parameter handlers: the Swift handlers `run` can dispatch to.
    public static func main(handlers: HandlerRegistry) -> Int32 {
        main(arguments: SystemInfo.commandLineArguments, handlers: handlers)
    }

    /// Runs the command line and returns the exit status.
    ///
    /// - Parameters:
    ///   - arguments: the words after the program name, as bytes, exactly as the kernel gave
    ///     them (a message name need not be UTF-8).
    ///   - handlers: the Swift handlers `run` can dispatch to.
    public static func main(arguments: [[UInt8]], handlers: HandlerRegistry) -> Int32 {
        main(arguments: arguments, context: .standard(handlers: handlers))
    }

    /// `main` with stdio of the caller's choosing.
    static func main(arguments: [Bytes], context: CommandContext) -> Int32 {
        var command: Subcommand.Type?
        do {
            guard let first = arguments.first else { throw UsageError("missing command") }
            if first == "--version".bytes {
                guard arguments.count == 1 else { throw UsageError.unexpectedArgument(arguments[1]) }
                context.print("spoolbus \(spoolBusVersion)\n")
                return 0
            }
            if first == "--help".bytes || first == "-h".bytes {
                // `spoolbus --help run` reads as `spoolbus help run`.
                return try HelpCommand.execute(ParsedArguments.parse(Array(arguments.dropFirst()), as: HelpCommand.spec), in: context)
            }
            if first.first == UInt8(ascii: "-") { throw UsageError.unknownOption(first, among: topLevelSpec) }
            guard let found = subcommand(named: first) else { throw unknownCommand(first) }
            command = found
            let parsed = try ParsedArguments.parse(Array(arguments.dropFirst()), as: found.spec)
            if parsed.wantsHelp {
                context.print(HelpText.help(for: found.spec))
                return 0
            }
            return try found.execute(parsed, in: context)
        } catch let error as UsageError {
            context.printError(error.report(for: command?.spec ?? topLevelSpec))
            return 2
        } catch let failure as CommandFailure {
            if let message = failure.message { context.reportError(message) }
            return failure.status
        } catch {
            context.reportError("\(error)")
            return 1
        }
    }

    /// The subcommands, in the order help lists them.
    static let subcommands: [Subcommand.Type] = [
        RunCommand.self, CheckCommand.self, ExplainCommand.self, SendCommand.self, StatusCommand.self, WatchCommand.self,
        RetryCommand.self, DeadCommand.self, DropCommand.self, CompletionCommand.self, HelpCommand.self,
    ]

    static func subcommand(named word: Bytes) -> Subcommand.Type? {
        subcommands.first { $0.spec.name.bytes == word }
    }

    static func unknownCommand(_ word: Bytes) -> UsageError {
        UsageError("unknown command \(TokenDisplay.quoted(word))",
                   suggestion: DidYouMean.closest(to: String(decoding: word, as: UTF8.self), among: subcommands.map { $0.spec.name }))
    }

    /// `spoolbus` itself, for its help and for errors before a subcommand is known.
    static let topLevelSpec = CommandSpec(
        "",
        abstract: "A local message bus: a daemon watches a spool folder and hands each message to the handlers its rules name.",
        options: [OptionSpec("version", help: "Show the version.")],
        usage: ["COMMAND", "[ARG...]"])

    static var topLevelHelp: String {
        HelpText.help(for: topLevelSpec, subcommands: subcommands.map { $0.spec })
    }
}
