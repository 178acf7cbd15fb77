/// The `mq` and `signal` directives (see `RulesParser` for the language).
extension RulesFileParser {
    mutating func parseMessageQueue(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        guard words.count >= 2 else {
            report(at: words[0].end, "missing queue name after 'mq' (like /jobs)")
            return
        }
        let name = validateQueueName(words[1])
        var directive = MessageQueueDirective(line: lineNumber(words[0].start), queueName: name ?? [])
        var seen: Set<String> = []
        for word in words.dropFirst(2) {
            guard let option = directiveOption(word, directive: "mq", known: ["mode", "maxmsg", "msgsize"], seen: &seen) else { continue }
            switch option.name {
            case "mode":
                if let mode = parseMode(option.value) { directive.mode = mode }
            case "maxmsg":
                directive.maxMessages = queueLimit(option.value, name: "maxmsg", hardLimit: MessageQueueDirective.hardMaxMessages)
            default:
                directive.messageSize = queueLimit(option.value, name: "msgsize", hardLimit: MessageQueueDirective.hardMaxMessageSize)
            }
        }
        guard let name, diagnostics.count == errorsBefore else { return }
        if let earlier = ruleSet.queues.first(where: { $0.queueName == name }) {
            report(at: words[1].start, "duplicate queue '\(displayBytes(name))' (already declared on line \(earlier.line))")
            return
        }
        ruleSet.queues.append(directive)
    }

    mutating func parseSignal(_ words: [Word]) {
        guard words.count >= 2 else {
            report(at: words[0].end, "missing signal names after 'signal' (USR1, USR2, WINCH, PWR, RTMIN+N)")
            return
        }
        var signals: [SignalName] = []
        for word in words.dropFirst() {
            let written = String(decoding: word.bytes, as: UTF8.self)
            let shown = displayBytes(word.bytes)
            switch SignalName.parse(written) {
            case .success(let signal):
                if signals.contains(signal) || ruleSet.signalNumbers.contains(signal.number) {
                    let earlier = ruleSet.signals.first { $0.signals.contains(signal) }?.line ?? lineNumber(word.start)
                    report(at: word.start, "duplicate signal '\(signal.name)' (already declared on line \(earlier))")
                } else {
                    signals.append(signal)
                }
            case .failure(.unknown):
                let bare = written.hasPrefix("SIG") ? String(written.dropFirst(3)) : written
                if let guess = closestName(to: bare, among: ["USR1", "USR2", "WINCH", "PWR", "RTMIN"]) {
                    report(at: word.start, "unknown signal '\(shown)'; did you mean '\(guess)'?")
                } else {
                    report(at: word.start, "unknown signal '\(shown)'; expected USR1, USR2, WINCH, PWR, RTMIN or RTMIN+N")
                }
            case .failure(.outOfRange(let reason)), .failure(.refused(let reason)):
                report(at: word.start, reason)
            }
        }
        guard signals.count == words.count - 1 else { return }
        ruleSet.signals.append(SignalDirective(line: lineNumber(words[0].start), signals: signals))
    }

    /// `/NAME`: a slash, then one component of 1 to 255 bytes (what `mq_open` takes).
    mutating func validateQueueName(_ word: Word) -> [UInt8]? {
        let bytes = word.bytes
        let shown = displayBytes(bytes)
        guard bytes.first == UInt8(ascii: "/") else {
            report(at: word.start, "queue name '\(shown)' must start with '/' (like /jobs)")
            return nil
        }
        let rest = bytes.dropFirst()
        if let slash = rest.firstIndex(of: UInt8(ascii: "/")) {
            report(at: word.offsets[slash], "queue name '\(shown)' must not hold a second '/'")
            return nil
        }
        guard !rest.isEmpty, !rest.elementsEqual(".".utf8), !rest.elementsEqual("..".utf8) else {
            report(at: word.start, "queue name '\(shown)' needs a name after the '/' (not '.' or '..')")
            return nil
        }
        guard rest.count <= 255 else {
            report(at: word.start, "queue name '\(shown)' is longer than 255 bytes")
            return nil
        }
        return bytes
    }

    /// A `maxmsg=` or `msgsize=` value: 1 up to the kernel's hard limit.
    mutating func queueLimit(_ value: Word, name: String, hardLimit: Int) -> Int? {
        guard let count = parseCount(value.bytes), count >= 1 else {
            report(at: value.start, "invalid \(name) '\(displayBytes(value.bytes))'; expected a whole number, 1 or more")
            return nil
        }
        guard count <= hardLimit else {
            report(at: value.start, "\(name)=\(count) is more than Linux allows anyone (\(hardLimit))")
            return nil
        }
        return count
    }
}
