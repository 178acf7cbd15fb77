/// One option of a subcommand, as the table that generates parsing, help, usage and errors
/// describes it.
struct OptionSpec: Sendable {
    /// The long name without dashes: `spool` is written `--spool`.
    let name: String
    /// A one-letter alias written `-x`, if any.
    let short: Character?
    /// What the value is called in help (`DIR`); nil for a flag that takes no value.
    let valueName: String?
    let help: String
    /// Shown as `(default: …)` after the help text.
    let defaultText: String?

    init(_ name: String, short: Character? = nil, value valueName: String? = nil, help: String, default defaultText: String? = nil) {
        self.name = name
        self.short = short
        self.valueName = valueName
        self.help = help
        self.defaultText = defaultText
    }

    var isFlag: Bool { valueName == nil }

    /// What shell completion offers for the value.
    var values: ValueKind { valueName.map(ValueKind.init(named:)) ?? .anything }

    /// `--spool DIR`, as usage and help write it.
    var synopsis: String {
        "--" + name + (valueName.map { " " + $0 } ?? "")
    }

    /// `-h, --help` or `--spool DIR`: the left column of help.
    var label: String {
        (short.map { "-\($0), " } ?? "") + synopsis
    }

    /// What every subcommand accepts, wherever it appears before `--`.
    static let help = OptionSpec("help", short: "h", help: "Show help information.")
}

/// One positional argument of a subcommand.
struct ArgumentSpec: Sendable {
    /// As help and usage write it: `NAME`, `RULES`.
    let name: String
    let help: String
    let isOptional: Bool
    /// Takes every remaining positional word.
    let isRepeating: Bool
    let defaultText: String?
    /// What shell completion offers for it.
    let values: ValueKind

    /// `values` defaults to what the name says (`RULES`: files; `COMMAND`: the commands).
    init(_ name: String, help: String, optional: Bool = false, repeating: Bool = false, default defaultText: String? = nil,
         values: ValueKind? = nil) {
        self.name = name
        self.help = help
        self.isOptional = optional
        self.isRepeating = repeating
        self.defaultText = defaultText
        self.values = values ?? ValueKind(named: name)
    }

    /// `NAME`, `[RULES]`, `[TEXT...]`.
    var synopsis: String {
        let word = name + (isRepeating ? "..." : "")
        return isOptional ? "[" + word + "]" : word
    }
}

/// A subcommand as a table: everything the parser, the help and the errors need to know.
struct CommandSpec: Sendable {
    /// The word after `spoolbus`; empty for `spoolbus` itself.
    let name: String
    /// One sentence: the SUBCOMMANDS line and the start of OVERVIEW.
    let abstract: String
    /// More paragraphs for OVERVIEW, if one sentence does not say enough.
    let discussion: String?
    let arguments: [ArgumentSpec]
    /// Without `-h, --help`, which every subcommand has.
    let options: [OptionSpec]
    /// The words after the command in a usage line when the table's own would mislead
    /// (`spoolbus` itself: `COMMAND [ARG...]`).
    let usageOverride: [String]?

    init(_ name: String, abstract: String, discussion: String? = nil, arguments: [ArgumentSpec] = [], options: [OptionSpec] = [], usage: [String]? = nil) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.usageOverride = usage
    }

    /// The options help lists: the table's, then `-h, --help`.
    var allOptions: [OptionSpec] { options + [.help] }

    /// `spoolbus run` or `spoolbus`.
    var commandPath: String { name.isEmpty ? "spoolbus" : "spoolbus " + name }

    /// The words after the command in a usage line.
    var usageWords: [String] {
        usageOverride ?? (arguments.map(\.synopsis) + options.map { "[" + $0.synopsis + "]" })
    }

    /// Where an error sends the user for more.
    var helpHint: String {
        name.isEmpty ? "See 'spoolbus --help'." : "See 'spoolbus help \(name)'."
    }
}

/// What the words of an argument or an option's value are, for shell completion.
enum ValueKind: Sendable, Equatable {
    case directories
    case files
    /// One of these words.
    case words([String])
    /// A subcommand's name, or a help topic.
    case commands
    /// The names of the spool's dead letters (`spoolbus dead --names`).
    case deadLetters
    /// Nothing to offer.
    case anything

    /// What a value of this name is: `DIR`, `FILE`, `FILE|-`, `RULES`, `EVENT`, `SHELL`,
    /// `COMMAND`; anything else offers nothing.
    init(named name: String) {
        switch name {
        case "DIR": self = .directories
        case "RULES", "FILE", "FILE|-": self = .files
        case "EVENT": self = .words(EventKind.allCases.map(\.rawValue))
        case "SHELL": self = .words(CompletionScript.shells)
        case "COMMAND": self = .commands
        default: self = .anything
        }
    }
}
