/// Where the spool is: the one rule every command follows, so that `run` and the commands that
/// talk to it (`send`, `status`, `watch`, `retry`, …) agree without being told twice.
///
/// An explicit `--spool DIR`, else `$SPOOLBUS_SPOOL` when set and not empty, else `./spool`.
/// The default is relative to the current directory, not to the rules file, because only `run`
/// is given a rules file: a default the other commands cannot compute would make them disagree
/// (they did). A fixed system path would need root and would make two users' daemons share one
/// spool. Whoever works from elsewhere, or runs a daemon under systemd, sets `SPOOLBUS_SPOOL`
/// once; `send` warns when the folder it writes to was never served, which catches the wrong
/// current directory.
enum SpoolLocation {
    static let environmentVariable = "SPOOLBUS_SPOOL"
    static let defaultPath = "spool"

    /// The rule in a sentence, for the manual page.
    static let rule = "Every command that works on a spool (run, explain, send, status, watch, retry and the others that take --spool) finds it the same way: --spool DIR when given, else the folder $SPOOLBUS_SPOOL names, else spool in the current folder. Set SPOOLBUS_SPOOL to an absolute path to reach one spool from anywhere."

    /// What the variable does, for the manual page's ENVIRONMENT.
    static let environmentHelp = "The spool, when a command is not given --spool (relative to the current folder unless absolute)."

    /// The spool's absolute path (against the current directory; symlinks not resolved).
    static func resolve(explicit: Bytes?, environment: [Bytes] = SystemInfo.environment) -> Bytes {
        FileSystem.absolute(explicit ?? fromEnvironment(environment) ?? defaultPath.bytes)
    }

    /// The spool `arguments` name with `--spool`, or the default.
    static func resolve(_ arguments: ParsedArguments) -> Bytes {
        resolve(explicit: arguments.value(OptionSpec.spoolName))
    }

    private static func fromEnvironment(_ environment: [Bytes]) -> Bytes? {
        let prefix = environmentVariable.bytes + "=".bytes
        guard let entry = environment.last(where: { $0.starts(with: prefix) }), entry.count > prefix.count else { return nil }
        return Bytes(entry.dropFirst(prefix.count))
    }
}

extension OptionSpec {
    static let spoolName = "spool"

    /// `--spool DIR`, as every command that reaches a spool takes it.
    static func spool(_ help: String = "The spool folder.") -> OptionSpec {
        OptionSpec(spoolName, value: "DIR", help: help, default: "$\(SpoolLocation.environmentVariable), else ./spool")
    }
}
