/// The world a subcommand sees: where it writes, what it reads, the Swift handlers compiled in.
/// Tests hand in buffers instead of the process's stdio.
struct CommandContext {
    /// Writes to stdout.
    var output: (Bytes) -> Void
    /// Writes to stderr.
    var errorOutput: (Bytes) -> Void
    /// Reads stdin to its end.
    var readInput: () throws -> Bytes
    var handlers: HandlerRegistry

    /// The process's own stdin, stdout and stderr.
    static func standard(handlers: HandlerRegistry) -> CommandContext {
        CommandContext(
            output: { try? FileDescriptor.standardOutput.writeAll($0) },
            errorOutput: { try? FileDescriptor.standardError.writeAll($0) },
            readInput: { try FileDescriptor.standardInput.readAll() },
            handlers: handlers)
    }

    func print(_ text: String) { output(Bytes(text.utf8)) }
    func printError(_ text: String) { errorOutput(Bytes(text.utf8)) }

    /// `spoolbus: error: MESSAGE` and a newline, on stderr: for runtime failures, which need
    /// no usage line.
    func reportError(_ message: String) { printError("spoolbus: error: " + message + "\n") }
}

/// A failure after the command line was understood: exit 1, or 2 for bad input such as an
/// unreadable or invalid rules file. Its message has been written already, or is `message`.
struct CommandFailure: Error {
    let status: Int32
    let message: String?
}

/// A subcommand: its table, and what it does once its words are parsed.
protocol Subcommand {
    static var spec: CommandSpec { get }
    /// Runs the command; throws `UsageError` for a value the table could not check, returns
    /// the exit status otherwise.
    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32
}
