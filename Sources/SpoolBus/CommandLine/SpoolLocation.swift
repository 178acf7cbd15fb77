/// Where the spool is: the one rule every command follows, so that `run` and the commands that
/// talk to it (`send`, `status`, `watch`, `retry`, …) agree without being told twice.
///
/// An explicit `--spool DIR`, else `$SPOOLBUS_SPOOL` when set and not empty, else the current
/// folder or the nearest one above it that is a spool (holds `.spoolbus/`), as git finds its
/// repository, else `./spool`. Without that search, a command typed inside a live spool looked
/// for `./spool` in it, and `send` wrote into a `spool/` folder inside the spool. The default is
/// relative to the current directory, not to the rules file, because only `run` is given a rules
/// file: a default the other commands cannot compute would make them disagree (they did). A fixed system path would need root and would make two users' daemons share one
/// spool. Whoever works from elsewhere, or runs a daemon under systemd, sets `SPOOLBUS_SPOOL`
/// once; `send` warns when the folder it writes to was never served, which catches the wrong
/// current directory.
enum SpoolLocation {
    static let environmentVariable = "SPOOLBUS_SPOOL"
    static let defaultPath = "spool"

    /// The rule in a sentence, for the manual page.
    static let rule = "Every command that works on a spool (run, explain, send, status, watch, retry and the others that take --spool) finds it the same way: --spool DIR when given, else the folder $SPOOLBUS_SPOOL names, else the current folder or the nearest one above it that is a spool (holds .spoolbus/, owned by the folder's owner), else spool in the current folder. Set SPOOLBUS_SPOOL to an absolute path to reach one spool from anywhere."

    /// What the variable does, for the manual page's ENVIRONMENT.
    static let environmentHelp = "The spool, when a command is not given --spool (relative to the current folder unless absolute)."

    /// The spool's absolute path (against the current directory; symlinks not resolved).
    static func resolve(explicit: Bytes?, environment: [Bytes] = SystemInfo.environment) -> Bytes {
        if let named = explicit ?? fromEnvironment(environment) { return FileSystem.absolute(named) }
        return enclosingSpool(of: FileSystem.currentDirectory()) ?? FileSystem.absolute(defaultPath.bytes)
    }

    /// `folder` (absolute) or the nearest folder above it holding a `.spoolbus/` folder of the
    /// same owner. The owner check passes over a `.spoolbus/` a producer made in a folder of the
    /// spool it does not own, which would otherwise take the commands typed beneath it away
    /// from the real spool.
    static func enclosingSpool(of folder: Bytes) -> Bytes? {
        var candidate = folder
        while true {
            if isSpool(candidate) { return candidate }
            if candidate.count <= 1 { return nil }
            candidate = candidate.deletingLastPathComponent
        }
    }

    private static func isSpool(_ path: Bytes) -> Bool {
        guard let folder = try? Directory.open(path) else { return false }
        defer { folder.close() }
        guard let marker = try? folder.statusIfPresent(SpoolLayout.stateName), marker.type == .dir,
              let status = try? folder.status() else { return false }
        return marker.owner == status.owner
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
        OptionSpec(spoolName, value: "DIR", help: help, default: "$\(SpoolLocation.environmentVariable), else the enclosing spool, else ./spool")
    }
}
