/// `spoolbus check`: the rules file as understood, or every error in it.
enum CheckCommand: Subcommand {
    static let spec = CommandSpec(
        "check",
        abstract: "Check a rules file and print each rule as understood.",
        discussion: "Prints one line per directive and rule, with every option at its effective value. On errors, prints all of them as FILE:LINE:COL: error: MESSAGE and exits with status 2.",
        arguments: [
            ArgumentSpec("RULES", help: "The rules file.", optional: true, default: "./spoolbus.rules"),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let loaded = try LoadedRules.load(arguments.positionals.first ?? LoadedRules.defaultPath, in: context)
        for line in summaryLines(of: loaded.ruleSet) { context.print(line + "\n") }
        return 0
    }

    /// One line per directive and rule, in file order: `line 1: listen ask.sock mode=0666
    /// type=stream`, `line 2: mkfifo events mode=0622`, then each rule's `Rule.summary`.
    static func summaryLines(of ruleSet: RuleSet) -> [String] {
        var entries: [(line: Int, text: String)] = []
        for listen in ruleSet.listens {
            entries.append((listen.line, "line \(listen.line): listen \(word(listen.name)) mode=\(octal(listen.mode)) type=\(listen.type.rawValue)"))
        }
        for fifo in ruleSet.fifos {
            entries.append((fifo.line, "line \(fifo.line): mkfifo \(word(fifo.name)) mode=\(octal(fifo.mode))"))
        }
        for rule in ruleSet.rules { entries.append((rule.line, rule.summary)) }
        return entries.sorted { $0.line < $1.line }.map(\.text)
    }

    /// A name as `Rule.summary` writes words: bare when that reads back unambiguously, else in
    /// double quotes with `\"`, `\\`, `\n`, `\t` and `\xNN` escapes.
    static func word(_ bytes: Bytes) -> String {
        var needsQuotes = bytes.isEmpty || bytes.first == UInt8(ascii: "#")
        var text = ""
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""): text += "\\\""
            case UInt8(ascii: "\\"): text += "\\\\"
            case 0x0A: text += "\\n"
            case 0x09: text += "\\t"
            default:
                if let (scalar, length) = ShellQuoting.printableScalar(in: bytes, at: index) {
                    if scalar == " " || scalar == "'" { needsQuotes = true }
                    text.unicodeScalars.append(scalar)
                    index += length
                    continue
                }
                text += ShellQuoting.hexEscape(byte)
            }
            needsQuotes = true
            index += 1
        }
        return needsQuotes ? "\"" + text + "\"" : text
    }

    /// `0660`: a mode as the rules file writes it.
    static func octal(_ mode: UInt32) -> String {
        let digits = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
