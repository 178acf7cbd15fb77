/// `spoolbus dead`: the dead letters, one line each.
enum DeadCommand: Subcommand {
    static let spec = CommandSpec(
        "dead",
        abstract: "List dead letters.",
        discussion: "Prints one line per message in SPOOL/.spoolbus/failed/, oldest first: its name (escaped as in the dispatch log), id=, age= (since it became a dead letter) and reason= (how each rule that gave up ended). When a daemon serves the spool it is asked, over its control socket; otherwise the folder is read directly.",
        options: [
            OptionSpec("names", help: "Print only the names, one per line, quoted as a shell reads them (for retry and drop)."),
            OptionSpec("json", help: "Print one JSON document: {\"spool\": …, \"dead\": [{\"name\", \"id\", \"age_seconds\", \"reason\", \"details\"}]}."),
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        if arguments.has("names") && arguments.has("json") { throw UsageError("give --names or --json, not both") }
        let layout = SpoolPaths(root: SpoolLocation.resolve(arguments))
        let letters = try DeadLetterAccess.list(layout)
        if arguments.has("names") {
            var seen = Set<Bytes>()
            for letter in letters where seen.insert(letter.name).inserted { context.print(ShellQuoting.quote(letter.name) + "\n") }
        } else if arguments.has("json") {
            context.output(JSONValue.object(JSONValue.fields("spool", layout.root) + [("dead", .array(letters.map(json)))]).line)
        } else {
            for letter in letters { context.output(line(letter)) }
        }
        return 0
    }

    /// `NAME id=ID age=AGE reason=REASON`, the name and the reason escaped as the log escapes values.
    static func line(_ letter: DeadLetterReport) -> Bytes {
        var line = Bytes()
        LogEscaping.append(letter.name, to: &line)
        line += " id=".bytes
        LogEscaping.append(letter.id, to: &line)
        line += " age=\(age(letter.ageSeconds)) reason=".bytes
        LogEscaping.append(letter.reason, to: &line)
        return line + "\n".bytes
    }

    static func json(_ letter: DeadLetterReport) -> JSONValue {
        .object(JSONValue.fields("name", letter.name) + JSONValue.fields("id", letter.id) + [("age_seconds", .number(letter.ageSeconds))]
                + JSONValue.fields("reason", letter.reason) + JSONValue.fields("details", letter.details))
    }

    /// An age in its largest whole unit: `42s`, `5m`, `3h`, `2d`.
    static func age(_ seconds: Int64) -> String {
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
