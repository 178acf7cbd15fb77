/// A rules file on disk: where it is, and reading and checking it.
///
/// `load` is the one way rules are loaded, by `run` at start, by its reloads and by `check`, so
/// `check` passes exactly the files `run` accepts.
struct RulesFile {
    /// The absolute path.
    let path: Bytes
    /// How the user wrote it, for diagnostics.
    let displayName: String
    private let writtenPath: Bytes

    init(_ path: Bytes) {
        self.path = FileSystem.absolute(path)
        writtenPath = path
        displayName = text(path)
    }

    var directory: Bytes { path.deletingLastPathComponent }

    /// A rules file that could not be read, or that a root daemon refuses: its exit status is 2.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads and parses the file and, with `checkingSystem`, checks it against this system and
    /// binary (`RuleSetCheck`). Throws `RulesError` holding every problem of the file at once,
    /// syntax and system alike, or `Refused`.
    ///
    /// A root daemon refuses a file other users could write: its handlers would run with root's
    /// powers. That is checked (with `checkingSystem`) before anything in the file is believed.
    func load(handlers: HandlerRegistry, checkingSystem: Bool = true) throws -> (text: Bytes, rules: RuleSet) {
        do {
            if checkingSystem && SystemInfo.isRoot {
                let status = try FileSystem.statusFollowingLinks(path)
                if status.owner != 0 || status.permissions & 0o022 != 0 {
                    throw Refused(description: "rules file \(TokenDisplay.quoted(writtenPath)) can be written by users other than root; refusing it (chmod go-w, chown root)")
                }
            }
            let content = try FileSystem.read(path)
            var (rules, diagnostics) = RulesParser.parseReportingAll(content, file: displayName, directory: directory)
            if checkingSystem {
                diagnostics += RuleSetCheck.problems(in: rules, text: content, file: displayName, directory: directory, handlers: handlers)
            }
            guard diagnostics.isEmpty else { throw RulesError(diagnostics: Diagnostic.inFileOrder(diagnostics)) }
            return (content, rules)
        } catch let error as SystemError {
            throw Refused(description: "cannot read rules file \(TokenDisplay.quoted(writtenPath)): "
                          + SystemError.message(for: error.errno) + " (errno \(error.errno))")
        }
    }
}
