/// `RulesReference` as text for a terminal (`spoolbus help rules`) and as README's Markdown
/// tables.
extension RulesReference {
    /// `spoolbus help rules`: the sections of a command's help, for the rules file.
    static var helpText: String {
        func section(_ title: String, _ entries: [Entry]) -> String {
            title + ":\n" + entries.map {
                HelpText.entry(label: plain($0.term), help: plain($0.meaning), defaultText: $0.defaultText.map(plain))
            }.joined(separator: "\n")
        }
        let overview = overview.enumerated().map { index, paragraph in
            HelpText.wrap((index == 0 ? "OVERVIEW: " : "") + plain(paragraph), indent: 0)
        }.joined(separator: "\n\n")
        return [
            overview,
            "RULE: " + ruleSynopsis,
            section("PARTS", parts),
            section("OPTIONS", options),
            section("DIRECTIVES", directives),
            section("PLACEHOLDERS", placeholders),
            section("ENVIRONMENT", environment) + "\n\n" + environmentNotes.map { HelpText.wrap(plain($0), indent: 2) }.joined(separator: "\n\n"),
            "WORKERS:\n" + workerProtocol.map { HelpText.wrap(plain($0), indent: 2) }.joined(separator: "\n\n"),
            "  See 'spoolbus help --man rules' for the manual page, spoolbus.rules(5).",
        ].joined(separator: "\n\n") + "\n"
    }

    /// A Markdown table of `entries`: `term | default | meaning`, or `term | meaning` when
    /// `withDefaults` is false. README carries these exactly.
    static func markdownTable(_ entries: [Entry], headings: [String], withDefaults: Bool) -> String {
        var lines = ["| " + headings.joined(separator: " | ") + " |", "|" + String(repeating: " --- |", count: headings.count)]
        for entry in entries {
            var cells = ["`" + entry.term + "`"]
            if withDefaults { cells.append(entry.defaultText ?? "") }
            cells.append(entry.meaning)
            lines.append("| " + cells.map(markdownCell).joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// README's three tables, in the order README shows them.
    static var markdownTables: [String] {
        [
            markdownTable(options, headings: ["option", "default", "meaning"], withDefaults: true),
            markdownTable(directives, headings: ["directive", "default", "meaning"], withDefaults: true),
            markdownTable(environment, headings: ["variable", "value"], withDefaults: false),
        ]
    }

    /// Text without its backtick markup.
    static func plain(_ text: String) -> String { text.filter { $0 != "`" } }

    /// A table cell: a `|` would end it, even inside backticks.
    private static func markdownCell(_ text: String) -> String {
        text.replacingAll("|", with: "\\|")
    }
}

extension String {
    /// Every `target` replaced by `replacement` (the library has no Foundation).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
