/// `spoolbus run`: the daemon, in the foreground.
enum RunCommand: Subcommand {
    static let spec = CommandSpec(
        "run",
        abstract: "Run the daemon in the foreground.",
        discussion: "Watches the spool and dispatches every message to the handlers the rules name, until SIGTERM or SIGINT. SIGHUP reloads the rules.",
        arguments: [
            ArgumentSpec("RULES", help: "The rules file.", optional: true, default: "./spoolbus.rules"),
        ],
        options: [
            .spool("The spool folder, created if missing."),
            OptionSpec("log", value: "FILE|-", help: "Where the dispatch log goes; - for stdout.", default: "SPOOL/.spoolbus/dispatch.log"),
            OptionSpec("jobs", value: "N", help: "Handlers running at once, all rules together.", default: "twice the processors"),
            OptionSpec("grace", value: "DURATION", help: "How long running handlers may finish after SIGTERM.", default: "10s"),
            OptionSpec("max-line", value: "BYTES", help: "The longest FIFO or socket line.", default: "65536"),
            OptionSpec("control-mode", value: "MODE", help: "Permissions of the control socket, in octal.", default: "0600"),
            OptionSpec("env", value: "NAME[=VALUE]", help: "Give handlers NAME: this daemon's value, or VALUE. Repeatable."),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        Daemon.run(try options(from: arguments), handlers: context.handlers)
    }

    /// The daemon's options as the command line gave them.
    static func options(from arguments: ParsedArguments) throws -> DaemonOptions {
        var options = DaemonOptions()
        if let rules = arguments.positionals.first { options.rulesFile = rules }
        options.spool = arguments.value(OptionSpec.spoolName)
        if let log = arguments.value("log") {
            options.log = log == "-".bytes ? .standardOutput : .file(log)
        }
        if let jobs = arguments.value("jobs") { options.jobs = try OptionValues.positiveInteger(jobs, for: "jobs") }
        if let grace = arguments.value("grace") { options.grace = try OptionValues.duration(grace, for: "grace") }
        if let maxLine = arguments.value("max-line") { options.maxLine = try OptionValues.positiveInteger(maxLine, for: "max-line") }
        if let mode = arguments.value("control-mode") { options.controlMode = try OptionValues.octalMode(mode, for: "control-mode") }
        for entry in arguments.allValues("env") {
            let name = entry.prefix { $0 != UInt8(ascii: "=") }
            if name.isEmpty || name.starts(with: "SPOOL_".bytes) {
                throw UsageError.invalidValue(entry, for: "env", expected: "a variable name, not SPOOL_* (the daemon sets those)")
            }
            options.environment.append(entry)
        }
        return options
    }
}
