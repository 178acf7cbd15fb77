@testable import SpoolBus

/// The folder test rules files pretend to live in.
let rulesDirectory = Array("/etc/spool".utf8)

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Parses `text` as `spoolbus.rules` in ``rulesDirectory``.
func parseRules(_ text: String) -> Result<RuleSet, RulesError> {
    RulesParser.parse(bytes(text), file: "spoolbus.rules", directory: rulesDirectory)
}

/// The rule set, or nil (the test then fails on a `#require`).
func ruleSet(_ text: String) -> RuleSet? {
    try? parseRules(text).get()
}

/// The diagnostics as printed, or [] when the text parsed.
func diagnostics(_ text: String) -> [String] {
    switch parseRules(text) {
    case .success: return []
    case .failure(let error): return error.diagnostics.map(\.description)
    }
}

/// A template's expansion with each placeholder shown as `<name>`.
func shown(_ template: ArgumentTemplate) -> String {
    String(decoding: template.expand { Array("<\($0.rawValue)>".utf8) }, as: UTF8.self)
}

/// The rules file of the specification's example: every directive and kind of rule.
let specExampleRules = """
    # spoolbus.rules
    listen  ask.sock  mode=0666
    mkfifo  events

    inbox/*.msg   file             timeout=10s  ./handlers/notify.sh {name}
    **/*.json     file             then=archive swift:log
    events        fifo             concurrency=1 ./handlers/on-event.sh
    ask.sock      socket           reply        ./handlers/answer.sh
    **            node,gone                     ./handlers/audit.sh
    """
