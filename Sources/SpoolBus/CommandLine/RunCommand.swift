/// `spoolbus run`: the daemon, in the foreground.
enum RunCommand: Subcommand {
    static let spec = CommandSpec(
        "run",
        abstract: "Run the daemon in the foreground.",
        discussion: "Watches the spool and dispatches every message to the handlers the rules name, until SIGTERM or SIGINT (a second one stops running handlers at once). SIGHUP reopens the log and reloads the rules. Under systemd (NOTIFY_SOCKET set) it reports readiness, reloads, stopping, its counters and watchdog pings.",
        arguments: [
            ArgumentSpec("RULES", help: "The rules file.", optional: true, default: "./spoolbus.rules"),
        ],
        options: [
            .spool("The spool folder, created if missing."),
            OptionSpec("log", value: "FILE|-", help: "Where the dispatch log goes; - for stdout.", default: "SPOOL/.spoolbus/dispatch.log"),
            OptionSpec("log-max", value: "SIZE", help: "Past SIZE (10M, 512K) the log becomes FILE.1 and a new one starts.", default: "no limit"),
            OptionSpec("keep-done", value: "DURATION", help: "Remove archived messages (.spoolbus/done/) this long after.", default: "kept"),
            OptionSpec("keep-failed", value: "DURATION", help: "Remove dead letters (.spoolbus/failed/) this long after.", default: "kept"),
            OptionSpec("jobs", value: "N", help: "Handlers running at once, all rules together.", default: "twice the processors"),
            OptionSpec("grace", value: "DURATION", help: "How long running handlers may finish after SIGTERM.", default: "10s"),
            OptionSpec("max-line", value: "BYTES", help: "The longest FIFO or socket line.", default: "65536"),
            OptionSpec("control-mode", value: "MODE", help: "Permissions of the control socket, in octal.", default: "0600"),
            OptionSpec("env", value: "NAME[=VALUE]", help: "Give handlers NAME: this daemon's value, or VALUE. Repeatable.", default: "none"),
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
        if let size = arguments.value("log-max") {
            guard options.log != .standardOutput else { throw UsageError("--log-max needs a log file; stdout is not rotated") }
            options.logMaxSize = try OptionValues.size(size, for: "log-max")
        }
        if let keep = arguments.value("keep-done") { options.keepDone = try OptionValues.duration(keep, for: "keep-done") }
        if let keep = arguments.value("keep-failed") { options.keepFailed = try OptionValues.duration(keep, for: "keep-failed") }
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
