/// The manual pages, `spoolbus(1)` and `spoolbus.rules(5)`, in roff with the man macros: made
/// from the command tables that `--help` prints and from `RulesReference`, so the pages say
/// what the binary does.
enum ManPage {
    /// `spoolbus(1)`: every subcommand with its arguments and options.
    static func spoolbus(_ subcommands: [CommandSpec], topLevel: CommandSpec) -> String {
        var page = header(name: "SPOOLBUS", section: 1, title: "User Commands")
        page += [".SH NAME", "spoolbus \\- " + Roff.text(lowercasedFirst(topLevel.abstract.dropLast(topLevel.abstract.hasSuffix(".") ? 1 : 0)))]
        page += [".SH SYNOPSIS"]
        for (index, command) in subcommands.enumerated() {
            if index > 0 { page.append(".br") }
            page += [Roff.bold(command.commandPath) + " " + Roff.text(command.usageWords.joined(separator: " "))]
        }
        page += [".br", Roff.bold("spoolbus --version")]
        page += [".SH DESCRIPTION", Roff.text(topLevel.abstract), ".PP", Roff.text(SpoolLocation.rule)]
        page += [".SH COMMANDS"]
        for command in subcommands {
            page += [".SS " + quoted(command.commandPath), Roff.text(command.abstract)]
            for paragraph in paragraphs(command.discussion) { page += [".PP", Roff.text(paragraph)] }
            for argument in command.arguments {
                page += [".TP", "\\fI" + Roff.text(argument.synopsis) + "\\fR", Roff.text(described(argument.help, argument.defaultText))]
            }
            for option in command.allOptions {
                let label = (option.short.map { "\\fB\\-\($0)\\fR, " } ?? "") + Roff.bold("--" + option.name)
                    + (option.valueName.map { " \\fI" + Roff.text($0) + "\\fR" } ?? "")
                page += [".TP", label, Roff.text(described(option.help, option.defaultText))]
            }
        }
        page += [".SH ENVIRONMENT", ".TP", Roff.bold(SpoolLocation.environmentVariable), Roff.text(SpoolLocation.environmentHelp)]
        page += [".SH FILES"]
        for (path, meaning) in files { page += [".TP", Roff.bold(path), Roff.text(meaning)] }
        page += [".SH EXIT STATUS", Roff.text("0 for success, 1 for a runtime failure, 2 for bad usage or invalid rules.")]
        page += [".SH SEE ALSO", "\\fBspoolbus.rules\\fR(5), \\fBinotify\\fR(7), \\fBsystemd.service\\fR(5)"]
        return page.joined(separator: "\n") + "\n"
    }

    /// `spoolbus.rules(5)`: the rules file.
    static var rules: String {
        typealias Entry = RulesReference.Entry
        func entries(_ list: [Entry]) -> [String] {
            list.flatMap { [".TP", Roff.bold($0.term), Roff.text(described($0.meaning, $0.defaultText.map(RulesReference.plain)))] }
        }
        var page = header(name: "SPOOLBUS.RULES", section: 5, title: "File Formats")
        page += [".SH NAME", "spoolbus.rules \\- the rules of \\fBspoolbus\\fR(1): which handler runs for which message"]
        page += [".SH SYNOPSIS", Roff.text(RulesReference.ruleSynopsis)]
        for directive in RulesReference.directives { page += [".br", Roff.text(directive.term)] }
        page += [".SH DESCRIPTION"]
        for (index, paragraph) in RulesReference.overview.enumerated() {
            if index > 0 { page.append(".PP") }
            page.append(Roff.text(paragraph))
        }
        page += [".SS Parts of a rule"] + entries(RulesReference.parts)
        page += [".SH OPTIONS"] + entries(RulesReference.options)
        page += [".SH DIRECTIVES"] + entries(RulesReference.directives)
        page += [".SH PLACEHOLDERS"] + entries(RulesReference.placeholders)
        page += [".SH ENVIRONMENT"] + entries(RulesReference.environment)
        for note in RulesReference.environmentNotes { page += [".PP", Roff.text(note)] }
        page += [".SH WORKERS"]
        for (index, paragraph) in RulesReference.workerProtocol.enumerated() {
            if index > 0 { page.append(".PP") }
            page.append(Roff.text(paragraph))
        }
        page += [".SH SEE ALSO", "\\fBspoolbus\\fR(1), \\fBglob\\fR(7)"]
        return page.joined(separator: "\n") + "\n"
    }

    /// The daemon's files in a spool, for `FILES`.
    private static let files: [(String, String)] = [
        ("SPOOL/.spoolbus/dispatch.log", "The dispatch log: one line per step of every message (`--log` puts it elsewhere)."),
        ("SPOOL/.spoolbus/control.sock", "The control socket `status`, `watch` and `retry` speak to."),
        ("SPOOL/.spoolbus/work/", "Claimed messages, dispatched again at the next start if the daemon stops first."),
        ("SPOOL/.spoolbus/failed/", "Dead letters, each with `ID+reason` beside it."),
        ("SPOOL/.spoolbus/done/", "Messages of `then=archive` rules."),
    ]

    private static func header(name: String, section: Int, title: String) -> [String] {
        [".TH \(name) \(section) \"\" \(quoted("spoolbus " + spoolBusVersion)) \(quoted(title))"]
    }

    /// `help` and `(default: …)` as help prints them, as one sentence more.
    private static func described(_ help: String, _ defaultText: String?) -> String {
        help + (defaultText.map { " Default: \($0)." } ?? "")
    }

    private static func paragraphs(_ text: String?) -> [String] {
        (text ?? "").split(separator: "\n\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// A macro argument in double quotes (none of ours holds one).
    private static func quoted(_ text: String) -> String { "\"" + Roff.text(text) + "\"" }

    private static func lowercasedFirst<S: StringProtocol>(_ text: S) -> String {
        guard let first = text.first else { return "" }
        return first.lowercased() + text.dropFirst()
    }
}
