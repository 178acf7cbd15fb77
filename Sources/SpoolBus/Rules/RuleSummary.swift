/// One-line descriptions of what was understood, for `spoolbus check` and `spoolbus explain`.
///
/// Words are shown bare when that is unambiguous, otherwise in double quotes with the dispatch
/// log's escapes (`\"`, `\\`, `\n`, `\t`, `\xNN`). In handler words a placeholder shows as
/// `{name}`; a literal `{` that would read as one shows as `\{`.
extension Rule {
    /// `line 6: inbox/*.msg on file timeout=10s retries=3 backoff=1s concurrency=unlimited
    /// then=delete user=(daemon) stdin=body output=log reply=off last=off worker=off log=all -> /srv/handlers/notify.sh {name}`
    /// (one line; every option with its effective value, `pipeline=` for worker rules only, then
    /// the handler as it will run).
    public var summary: String {
        var parts = [
            "line \(line): \(displayWord(pattern.source))",
            "on \(events.map(\.rawValue).joined(separator: ","))",
            "timeout=\(formatDuration(timeout))",
            "retries=\(retries)",
            "backoff=\(formatDuration(backoff))",
            "concurrency=\(concurrency.map(String.init) ?? "unlimited")",
            "then=\(then.rawValue)",
            "user=\(user.map(\.summary) ?? "(daemon)")",
            "stdin=\(stdin.rawValue)",
            "output=\(output.rawValue)",
            "reply=\(reply ? "on" : "off")",
            "last=\(last ? "on" : "off")",
            "worker=\(worker ? "on" : "off")",
        ]
        // Only a worker has a pipeline: shown for worker rules, where it means something.
        if worker { parts.append("pipeline=\(pipeline)") }
        parts += [
            "log=\(log.rawValue)",
            "->",
        ]
        parts += handler.summaryWords
        return parts.joined(separator: " ")
    }
}

extension UserSpec {
    /// `NAME` or `NAME:GROUP`.
    public var summary: String { group.map { "\(user):\($0)" } ?? user }
}

extension HandlerSpec {
    /// The handler's words as shown in a summary: the program (absolute if it was resolved) or
    /// `swift:NAME`, then the arguments.
    public var summaryWords: [String] {
        switch self {
        case .program(let program, let arguments):
            return [displayWord(program)] + arguments.map(\.summary)
        case .swift(let name, let arguments):
            return [displayWord(Array("swift:\(name)".utf8))] + arguments.map(\.summary)
        case .mqtt(let spec):
            return spec.words(topic: Array(spec.topic.summary.utf8)).map(displayWord)
        }
    }
}

extension ArgumentTemplate {
    /// The argument as a summary shows it: placeholders as `{name}`, quoted when needed.
    public var summary: String {
        var text = ""
        var needsQuotes = pieces.isEmpty
        for piece in pieces {
            switch piece {
            case .placeholder(let placeholder):
                text += "{\(placeholder.rawValue)}"
            case .literal(let literal):
                // Split before each `{` that would read as a placeholder, to mark it `\{`.
                var chunkStart = 0
                for (index, byte) in literal.enumerated() where byte == UInt8(ascii: "{") && looksLikePlaceholder(literal[(index + 1)...]) {
                    let chunk = escapedForDisplay(Array(literal[chunkStart..<index]))
                    text += chunk.text + "\\"
                    needsQuotes = needsQuotes || (chunk.needsQuotes && index > chunkStart)
                    chunkStart = index
                }
                let chunk = escapedForDisplay(Array(literal[chunkStart...]))
                text += chunk.text
                needsQuotes = needsQuotes || (chunk.needsQuotes && chunkStart < literal.count)
            }
        }
        return needsQuotes ? "\"" + text + "\"" : text
    }
}

/// Whether the bytes after a `{` are letters and a `}`.
private func looksLikePlaceholder(_ rest: ArraySlice<UInt8>) -> Bool {
    var sawLetter = false
    for byte in rest {
        if byte == UInt8(ascii: "}") { return sawLetter }
        let isLetter = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
        guard isLetter else { return false }
        sawLetter = true
    }
    return false
}

extension ListenDirective {
    /// `line 1: listen ask.sock mode=0666 type=stream`, then ` durable` when it is.
    public var summary: String {
        "line \(line): listen \(displayWord(name)) mode=\(octalMode(mode)) type=\(type.rawValue)" + (durable ? " durable" : "")
    }
}

extension MkfifoDirective {
    /// `line 2: mkfifo events mode=0622`, then ` durable` when it is.
    public var summary: String {
        "line \(line): mkfifo \(displayWord(name)) mode=\(octalMode(mode))" + (durable ? " durable" : "")
    }
}

extension MessageQueueDirective {
    /// `line 3: mq /jobs mode=0600 maxmsg=(system) msgsize=8192 name=jobs`: limits the directive
    /// leaves to the system show as `(system)`; `name=` is what the rules call its messages.
    public var summary: String {
        "line \(line): mq \(displayWord(queueName)) mode=\(octalMode(mode)) maxmsg=\(maxMessages.map(String.init) ?? "(system)") "
            + "msgsize=\(messageSize.map(String.init) ?? "(system)") name=\(displayWord(name))"
    }
}

extension SignalDirective {
    /// `line 4: signal USR1=10 RTMIN+3=37`: each signal with its number on this system.
    public var summary: String {
        "line \(line): signal " + signals.map { "\($0.name)=\($0.number)" }.joined(separator: " ")
    }
}

/// A mode as the rules file writes it: octal with a leading zero, at least four digits (`0660`).
func octalMode(_ mode: UInt32) -> String {
    let digits = String(mode, radix: 8)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}

extension RuleSet {
    /// What `spoolbus check` prints: one summary line per directive and rule, in file order.
    public var summaryLines: [String] {
        var entries: [(line: Int, text: String)] = []
        entries += listens.map { ($0.line, $0.summary) }
        entries += fifos.map { ($0.line, $0.summary) }
        entries += queues.map { ($0.line, $0.summary) }
        entries += signals.map { ($0.line, $0.summary) }
        entries += brokers.map { ($0.line, $0.summary) } + subscriptions.map { ($0.line, $0.summary) }
        entries += rules.map { ($0.line, $0.summary) }
        return entries.sorted { $0.line < $1.line }.map(\.text)
    }
}
