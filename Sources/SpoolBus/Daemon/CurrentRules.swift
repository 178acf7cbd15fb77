/// The rules the bus follows, and where they come from: the rules file, read again when it
/// changes (or on SIGHUP). A file that does not load keeps the previous rules in force, so a
/// typo saved mid-edit never leaves the bus without rules.
final class CurrentRules {
    private let file: RulesFile
    private let handlers: HandlerRegistry
    private let log: DispatchLog
    /// Told when changed rules are taken (`RELOADING=1`, then `READY=1`).
    var notifier: ServiceNotifier?
    /// The text last loaded: a change event whose text is the same is not a reload.
    private var text: Bytes
    private(set) var rules: RuleSet
    /// Called after new rules took effect, before the reload is logged.
    var changed: (RuleSet) -> Void = { _ in }

    init(file: RulesFile, text: Bytes, rules: RuleSet, handlers: HandlerRegistry, log: DispatchLog) {
        self.file = file
        self.text = text
        self.rules = rules
        self.handlers = handlers
        self.log = log
    }

    /// Loads the rules file again; `always` (SIGHUP) takes it even when its text is unchanged.
    func reload(always: Bool) {
        do {
            let (text, newRules) = try file.load(handlers: handlers)
            if !always && text == self.text { return }
            notifier?.beginReload()
            defer { notifier?.endReload() }
            self.text = text
            rules = newRules
            changed(newRules)
            log.record("reload", [("rules", file.path), ("count", newRules.rules.count)])
        } catch let error as RulesError {
            for diagnostic in error.diagnostics {
                log.record("error", [
                    ("rules", file.path), ("line", diagnostic.line), ("col", diagnostic.column),
                    ("err", diagnostic.message), ("kept", "previous rules"),
                ])
            }
        } catch {
            log.record("error", [("rules", file.path), ("err", "\(error)"), ("kept", "previous rules")])
        }
    }
}
