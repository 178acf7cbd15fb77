/// Help and usage text, generated from a `CommandSpec`, in the fixed sections of
/// swift-argument-parser: OVERVIEW, USAGE, ARGUMENTS, OPTIONS, SUBCOMMANDS.
enum HelpText {
    /// Lines are wrapped to this many columns.
    static let width = 80
    /// Where descriptions start; a longer label puts its description on the next line.
    static let descriptionColumn = 26

    /// The whole help of `spec`, ending with a newline. `subcommands` is non-empty only for
    /// `spoolbus` itself.
    static func help(for spec: CommandSpec, subcommands: [CommandSpec] = []) -> String {
        var sections: [String] = []
        var overview = wrap("OVERVIEW: " + spec.abstract, indent: 0)
        if let discussion = spec.discussion {
            for paragraph in discussion.split(separator: "\n\n", omittingEmptySubsequences: true) {
                overview += "\n\n" + wrap(String(paragraph), indent: 0)
            }
        }
        sections.append(overview)
        sections.append(usage(for: spec, prefix: "USAGE: "))
        if subcommands.isEmpty && !spec.arguments.isEmpty {
            sections.append("ARGUMENTS:\n" + spec.arguments.map {
                entry(label: $0.name + ($0.isRepeating ? "..." : ""), help: $0.help, defaultText: $0.defaultText)
            }.joined(separator: "\n"))
        }
        sections.append("OPTIONS:\n" + spec.allOptions.map {
            entry(label: $0.label, help: $0.help, defaultText: $0.defaultText)
        }.joined(separator: "\n"))
        if !subcommands.isEmpty {
            sections.append("SUBCOMMANDS:\n" + subcommands.map {
                entry(label: $0.name, help: $0.abstract, defaultText: nil)
            }.joined(separator: "\n") + "\n\n  See 'spoolbus help COMMAND' for detailed help, 'spoolbus help rules' for the\n  rules file.")
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// `USAGE: spoolbus run [RULES] [--spool DIR] …`, wrapped with continuation lines aligned
    /// after the command. No trailing newline.
    static func usage(for spec: CommandSpec, prefix: String) -> String {
        let lead = prefix + spec.commandPath
        let indent = lead.count + 1
        var lines: [String] = []
        var line = lead
        for word in spec.usageWords {
            if line.count + 1 + word.count > width && line.count > indent {
                lines.append(line)
                line = String(repeating: " ", count: indent - 1)
            }
            line += " " + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    /// One row of ARGUMENTS, OPTIONS or SUBCOMMANDS: the label indented by two, the text in
    /// the description column, wrapped.
    static func entry(label: String, help: String, defaultText: String?) -> String {
        let text = help + (defaultText.map { " (default: \($0))" } ?? "")
        let head = "  " + label
        let body = wrap(text, indent: descriptionColumn)
        let firstLine = body.dropFirst(descriptionColumn)
        if head.count + 2 <= descriptionColumn {
            return head + String(repeating: " ", count: descriptionColumn - head.count) + firstLine
        }
        return head + "\n" + body
    }

    /// `text` wrapped at word boundaries to `width`, every line indented by `indent` spaces.
    static func wrap(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            if !line.isEmpty && indent + line.count + 1 + word.count > width {
                lines.append(pad + line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(pad + line)
        return lines.joined(separator: "\n")
    }
}
