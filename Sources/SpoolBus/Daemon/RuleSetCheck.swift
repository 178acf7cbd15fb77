/// What the parser cannot see because it depends on this system and this binary: an `mq`
/// queue larger than this system lets a user make, a `user=` that does not exist, a Swift handler the binary lacks, a handler program that is not there,
/// is a folder or cannot be executed. `check`, the daemon's start and its reloads all report
/// these (through `RulesFile.load`), with the syntax errors, so a rule that could only ever fail
/// is caught before a message reaches it.
enum RuleSetCheck {
    /// `directory` is the rules file's folder, where handlers run: an empty PATH entry means it.
    static func problems(in rules: RuleSet, text source: Bytes, file: String, directory: Bytes,
                         handlers: HandlerRegistry) -> [Diagnostic] {
        let lines = source.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Bytes.init)
        var problems: [Diagnostic] = []
        func report(line start: Int, at needle: Bytes, _ message: String) {
            let (line, column) = locate(needle, inRuleAt: start, lines: lines)
            problems.append(Diagnostic(file: file, line: line, column: column, message: message))
        }
        func report(_ rule: Rule, at needle: Bytes, _ message: String) { report(line: rule.line, at: needle, message) }
        for queue in rules.queues {
            for problem in queueProblems(queue) { report(line: queue.line, at: problem.option.bytes, problem.message) }
        }
        for rule in rules.rules {
            if let user = rule.user {
                if !SystemInfo.isRoot {
                    report(rule, at: "user=".bytes, "user= needs the daemon to run as root (this is uid \(SystemInfo.userID))")
                } else if Credentials.lookUp(user: user.user, group: nil) == nil {
                    report(rule, at: "user=".bytes, "no such user '\(user.user)'")
                } else if let group = user.group, Credentials.lookUp(user: user.user, group: group) == nil {
                    report(rule, at: "user=".bytes, "no such group '\(group)'")
                }
            }
            switch rule.handler {
            case .swift(let name, _):
                if !handlers.contains(name) {
                    let known = handlers.names.isEmpty ? "it has none" : "it has " + handlers.names.joined(separator: ", ")
                    report(rule, at: rule.handlerWord, "no Swift handler named '\(name)' in this binary (\(known))")
                }
            case .mqtt:
                break
            case .program(let program, _):
                // A `user=` handler runs as that user: a program of that user's own is no way in.
                let runsAs = rule.user.flatMap { Credentials.lookUp(user: $0.user, group: nil)?.uid }
                if let problem = programProblem(program, directory: directory, runsAs: runsAs) {
                    report(rule, at: rule.handlerWord, problem)
                }
            }
        }
        return problems
    }

    /// Limits of an `mq` directive this system refuses: beyond `fs/mqueue/msg_max` and
    /// `msgsize_max`, which bind a daemon that is not root (root may go up to Linux's hard limits,
    /// which the parser checks).
    static func queueProblems(_ queue: MessageQueueDirective) -> [(option: String, message: String)] {
        guard !SystemInfo.isRoot else { return [] }
        var problems: [(String, String)] = []
        let checks: [(String, Int?, String)] = [("maxmsg=", queue.maxMessages, "msg_max"), ("msgsize=", queue.messageSize, "msgsize_max")]
        for (option, value, limitName) in checks {
            guard let value, let limit = MessageQueue.systemValue(limitName), value > limit else { continue }
            problems.append((option, "\(option)\(value) is over /proc/sys/fs/mqueue/\(limitName) (\(limit)), the most a daemon "
                             + "that is not root may ask for"))
        }
        return problems
    }

    /// Why `program` could not be started, or nil when it could: a path is checked as it is, a
    /// bare word is looked up in PATH as the spawn looks it up (glibc's `/bin:/usr/bin` when PATH
    /// is unset): the first executable regular file found is the one that would run, so it is
    /// the one checked, and for a root daemon no folder searched before it may be open to
    /// everyone (anyone could put a program of that name there first).
    static func programProblem(_ program: Bytes, directory: Bytes, runsAs: UInt32? = nil) -> String? {
        guard !program.contains(UInt8(ascii: "/")) else { return fileProblem(program, shown: program, runsAs: runsAs) }
        var firstProblem: String?
        for folder in searchPath {
            let place = folder.isEmpty ? directory : folder
            if SystemInfo.isRoot, let status = try? FileSystem.statusFollowingLinks(place), status.permissions & 0o002 != 0 {
                return "handler program '\(text(program))' is looked up in PATH through '\(text(place))', which anyone may "
                    + "write: a root daemon would run whatever someone put there first (name the program by its path)"
            }
            let candidate = place.appendingPathComponent(program)
            guard let status = try? FileSystem.statusFollowingLinks(candidate) else { continue }
            if status.type == .file && FileSystem.isExecutable(candidate) {
                return fileProblem(candidate, shown: program, runsAs: runsAs)
            }
            firstProblem = firstProblem ?? fileProblem(candidate, shown: program, runsAs: runsAs)
        }
        return firstProblem ?? "handler program '\(text(program))' not found in PATH"
    }

    private static var searchPath: [Bytes] {
        let entry = SystemInfo.environment.first { $0.starts(with: "PATH=".bytes) }
        let value = entry.map { Bytes($0.dropFirst(5)) } ?? "/bin:/usr/bin".bytes
        return value.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map(Bytes.init)
    }

    private static func fileProblem(_ path: Bytes, shown: Bytes, runsAs: UInt32?) -> String? {
        guard let status = try? FileSystem.statusFollowingLinks(path) else {
            return "handler program '\(text(shown))' does not exist"
        }
        if status.type == .dir { return "handler program '\(text(shown))' is a folder, not a program" }
        if status.type != .file { return "handler program '\(text(shown))' is not a regular file" }
        if !FileSystem.isExecutable(path) { return "handler program '\(text(shown))' is not executable (chmod +x)" }
        if SystemInfo.isRoot { return writableByOthers(path, shown: shown, status: status, runsAs: runsAs) }
        return nil
    }

    /// A root daemon runs its handler programs as root unless `user=` says otherwise: one that
    /// another user may rewrite, or replace in its folder, would run that user's code as root.
    /// Root's own programs pass, and so do those of the user a `user=` rule runs as.
    private static func writableByOthers(_ path: Bytes, shown: Bytes, status: FileStatus, runsAs: UInt32?) -> String? {
        if (status.owner != 0 && status.owner != runsAs) || status.permissions & 0o022 != 0 {
            return "handler program '\(text(shown))' may be changed by others (owner uid \(status.owner), mode "
                + "0\(String(status.permissions, radix: 8))): a root daemon runs only programs root owns and only root "
                + "may write (chown root, chmod go-w)"
        }
        let folder = path.deletingLastPathComponent
        if let holder = try? FileSystem.statusFollowingLinks(folder.isEmpty ? ".".bytes : folder),
           holder.permissions & 0o002 != 0 && holder.permissions & 0o1000 == 0 {
            return "handler program '\(text(shown))' sits in a folder anyone may write: another user could put "
                + "their program in its place (chmod o-w or +t that folder)"
        }
        return nil
    }

    /// The physical line and byte column where `needle` first appears in the rule starting at
    /// `line` (continuation lines included); the rule's first column when it is not found.
    private static func locate(_ needle: Bytes, inRuleAt line: Int, lines: [Bytes]) -> (Int, Int) {
        var index = line - 1
        while index < lines.count {
            let physical = lines[index]
            if let column = firstIndex(of: needle, in: physical) { return (index + 1, column + 1) }
            guard physical.last == UInt8(ascii: "\\") else { break }
            index += 1
        }
        return (line, 1)
    }

    private static func firstIndex(of needle: Bytes, in haystack: Bytes) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
