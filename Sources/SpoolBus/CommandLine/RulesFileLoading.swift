/// Reading and parsing a rules file the way `check` and `explain` need it: every problem
/// reported, nothing loaded when there is one.
struct LoadedRules {
    let ruleSet: RuleSet
    /// The rules file's folder, absolute: relative programs and the default spool hang off it.
    let directory: Bytes

    /// `./spoolbus.rules`, where `check` and `explain` look when not told (as `run` does).
    static let defaultPath: Bytes = "spoolbus.rules".bytes

    /// The default spool: `spool/` beside the rules file.
    var defaultSpool: Bytes { directory.appendingPathComponent("spool".bytes) }

    /// Reads and parses `path`, and with `checkingSystem` also checks it against this system and
    /// binary (`RuleSetCheck`: users, Swift handlers, handler programs) as `run` does. On failure
    /// writes the reason to stderr (one `FILE:LINE:COL: error: MESSAGE` line per problem, FILE as
    /// the user wrote it) and throws a failure with exit status 2.
    static func load(_ path: Bytes, checkingSystem: Bool, in context: CommandContext) throws -> LoadedRules {
        let text: Bytes
        do {
            text = try FileSystem.read(path)
        } catch let error as SystemError {
            throw CommandFailure(status: 2, message: "cannot read rules file \(TokenDisplay.quoted(path)): "
                                 + SystemError.message(for: error.errno) + " (errno \(error.errno))")
        }
        let directory = FileSystem.absolute(path).deletingLastPathComponent
        let file = String(decoding: path, as: UTF8.self)
        var diagnostics: [Diagnostic]
        switch RulesParser.parse(text, file: file, directory: directory) {
        case .success(let ruleSet):
            diagnostics = checkingSystem
                ? RuleSetCheck.problems(in: ruleSet, text: text, file: file, handlers: context.handlers) : []
            if diagnostics.isEmpty { return LoadedRules(ruleSet: ruleSet, directory: directory) }
        case .failure(let error):
            diagnostics = error.diagnostics
        }
        for diagnostic in diagnostics { context.printError(diagnostic.description + "\n") }
        throw CommandFailure(status: 2, message: nil)
    }
}
