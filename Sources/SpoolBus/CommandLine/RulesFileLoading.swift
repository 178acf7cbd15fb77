/// A rules file loaded for `check` and `explain`, through `RulesFile.load` as `run` loads it.
struct LoadedRules {
    let ruleSet: RuleSet

    /// `./spoolbus.rules`, where `check` and `explain` look when not told (as `run` does).
    static let defaultPath: Bytes = "spoolbus.rules".bytes

    /// Loads `path`; with `checkingSystem`, with every check `run` makes (`check`), else only
    /// parsed (`explain`, a dry run). On failure writes every problem to stderr (one
    /// `FILE:LINE:COL: error: MESSAGE` line each, FILE as the user wrote it) and throws a failure
    /// with exit status 2.
    static func load(_ path: Bytes, checkingSystem: Bool, in context: CommandContext) throws -> LoadedRules {
        let file = RulesFile(path)
        do {
            let (_, rules) = try file.load(handlers: context.handlers, checkingSystem: checkingSystem)
            return LoadedRules(ruleSet: rules)
        } catch let error as RulesFile.Refused {
            throw CommandFailure(status: 2, message: error.description)
        } catch let error as RulesError {
            for diagnostic in error.diagnostics { context.printError(diagnostic.description + "\n") }
            throw CommandFailure(status: 2, message: nil)
        }
    }
}
