/// A rules file on disk: where it is, and reading and checking it.
struct RulesFile {
    /// The absolute path.
    let path: Bytes
    /// How the user wrote it, for diagnostics.
    let displayName: String

    init(_ path: Bytes) {
        self.path = FileSystem.absolute(path)
        displayName = text(path)
    }

    var directory: Bytes { path.deletingLastPathComponent }

    /// Reads, parses and checks the file against this system (`RuleSetCheck`). A root daemon
    /// refuses a file other users could write: its handlers would run with root's powers.
    func load(handlers: HandlerRegistry) throws -> (text: Bytes, rules: RuleSet) {
        if SystemInfo.isRoot {
            let status = try FileSystem.statusFollowingLinks(path)
            if status.owner != 0 || status.permissions & 0o022 != 0 {
                throw SpoolBusError("rules file \(displayName) can be written by users other than root; refusing it (chmod go-w, chown root)")
            }
        }
        let content = try FileSystem.read(path)
        switch RulesParser.parse(content, file: displayName, directory: directory) {
        case .success(let rules):
            let problems = RuleSetCheck.problems(in: rules, text: content, file: displayName, handlers: handlers)
            if !problems.isEmpty { throw RulesError(diagnostics: problems) }
            return (content, rules)
        case .failure(let error): throw error
        }
    }
}
