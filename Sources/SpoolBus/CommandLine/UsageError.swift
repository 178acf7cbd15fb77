/// A mistake in how spoolbus was called: exit status 2, with the usage line of the command in
/// play and where to get help.
struct UsageError: Error, Equatable {
    /// The fact, quoting the user's own token: `unknown option '--nme'`.
    let message: String
    /// What the user probably meant, shown as `; did you mean '--name'?` after the message,
    /// as the rules file's diagnostics do.
    let suggestion: String?

    init(_ message: String, suggestion: String? = nil) {
        self.message = message
        self.suggestion = suggestion
    }

    /// The lines written to stderr, ending with a newline:
    ///
    ///     spoolbus: error: unknown option '--nme'; did you mean '--name'?
    ///     Usage: spoolbus explain NAME [--on EVENT] [--rules FILE]
    ///     See 'spoolbus help explain'.
    func report(for spec: CommandSpec) -> String {
        var text = "spoolbus: error: " + message
        if let suggestion { text += "; did you mean " + TokenDisplay.quoted(suggestion) + "?" }
        text += "\n"
        text += HelpText.usage(for: spec, prefix: "Usage: ") + "\n"
        text += spec.helpHint + "\n"
        return text
    }

    static func unknownOption(_ token: Bytes, among spec: CommandSpec) -> UsageError {
        let typed = String(decoding: token, as: UTF8.self)
        let known = spec.allOptions.map { "--" + $0.name }
        let suggestion = typed.hasPrefix("--") ? DidYouMean.closest(to: typed, among: known) : nil
        return UsageError("unknown option " + TokenDisplay.quoted(token), suggestion: suggestion)
    }

    static func needsValue(_ option: OptionSpec) -> UsageError {
        UsageError("option '--\(option.name)' needs a value")
    }

    static func takesNoValue(_ option: OptionSpec) -> UsageError {
        UsageError("option '--\(option.name)' takes no value")
    }

    static func missingArgument(_ argument: ArgumentSpec) -> UsageError {
        UsageError("missing argument \(argument.name)")
    }

    static func unexpectedArgument(_ token: Bytes) -> UsageError {
        UsageError("unexpected argument " + TokenDisplay.quoted(token))
    }

    /// `invalid value '3x' for '--jobs': expected a whole number above 0`.
    static func invalidValue(_ value: Bytes, for option: String, expected: String, suggestion: String? = nil) -> UsageError {
        UsageError("invalid value \(TokenDisplay.quoted(value)) for '--\(option)': expected \(expected)", suggestion: suggestion)
    }
}
