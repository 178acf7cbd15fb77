/// `spoolbus explain`: a dry run of the fan-out for one message name. Reads the rules file and
/// looks at the spool, changes nothing.
enum ExplainCommand: Subcommand {
    static let spec = CommandSpec(
        "explain",
        abstract: "Show which rules a message would reach, and each argv.",
        discussion: "A dry run that changes nothing. Placeholders are filled in as the daemon would, with <id> for the message id, which is only known on arrival; argv words are shown quoted for a shell, non-UTF-8 bytes as $'\\xNN'.",
        arguments: [
            ArgumentSpec("NAME", help: "The message name, relative to the spool (inbox/hello.msg)."),
        ],
        options: [
            OptionSpec("on", value: "EVENT", help: "The event: file, fifo, socket, node, gone, mq or signal.", default: "file"),
            OptionSpec("rules", value: "FILE", help: "The rules file.", default: "./spoolbus.rules"),
            .spool(),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let name = arguments.positionals[0]
        let event = try arguments.value("on").map { try OptionValues.event($0, for: "on") } ?? .file
        if name.first == UInt8(ascii: "/") {
            throw UsageError("invalid message name \(TokenDisplay.quoted(name)): names are relative to the spool")
        }
        let loaded = try LoadedRules.load(arguments.value("rules") ?? LoadedRules.defaultPath, checkingSystem: false, in: context)
        context.output(report(name: name, event: event, rules: loaded.ruleSet, spool: SpoolLocation.resolve(arguments)))
        return 0
    }

    /// What `explain` prints, for a name already known to be relative:
    ///
    ///     inbox/a.msg on file reaches 2 rules, in this order:
    ///
    ///     line 6: inbox/*.msg on file timeout=10s … -> /srv/handlers/notify.sh {name}
    ///       argv: /srv/handlers/notify.sh inbox/a.msg
    ///
    ///     line 9: ** on file … last=on -> swift:log
    ///       argv: swift:log
    ///       last: no later rule is tried (skips line 12)
    static func report(name: Bytes, event: EventKind, rules: RuleSet, spool: Bytes) -> Bytes {
        let shownName = ShellQuoting.quote(name)
        guard SpoolLayout.isDispatchable(name) else {
            return "\(shownName) is never dispatched: a name with a component that starts with '.' is ignored (files still being written, the daemon's own .spoolbus/)\n".bytes
        }
        let reached = rules.rules(for: name, event: event)
        guard let lastReached = reached.last else {
            return "no rule matches \(shownName) on \(event.rawValue)\n".bytes
        }
        var text = "\(shownName) on \(event.rawValue) reaches \(reached.count) \(reached.count == 1 ? "rule" : "rules")"
        text += reached.count == 1 ? ":\n" : ", in this order:\n"
        let values = placeholderValues(name: name, event: event, spool: spool)
        for rule in reached {
            text += "\n" + rule.summary + "\n"
            text += "  argv: " + argv(of: rule.handler, values: values).map(ShellQuoting.quote).joined(separator: " ") + "\n"
        }
        if lastReached.last {
            let skipped = rules.rules.filter { $0.line > lastReached.line && $0.handles(event) && $0.pattern.matches(name) }
            text += "  last: no later rule is tried"
            if !skipped.isEmpty {
                text += " (skips " + (skipped.count == 1 ? "line " : "lines ") + skipped.map { String($0.line) }.joined(separator: ", ") + ")"
            }
            text += "\n"
        }
        return text.bytes
    }

    /// The handler's words with placeholders filled: the program and its arguments, or
    /// `swift:NAME` and the words the Swift handler gets.
    static func argv(of handler: HandlerSpec, values: (Placeholder) -> Bytes) -> [Bytes] {
        switch handler {
        case .program(let program, let arguments):
            return [program] + arguments.map { $0.expand(values) }
        case .swift(let name, let arguments):
            return ["swift:\(name)".bytes] + arguments.map { $0.expand(values) }
        case .mqtt(let spec):
            return spec.words(topic: spec.expandedTopic(values))
        }
    }

    /// What each placeholder becomes for a message `name` arriving as `event` in `spool`:
    /// `{id}` is `<id>`; `{path}` is the claimed file in `.spoolbus/work/` for `file`, the node
    /// itself otherwise; `{type}` follows the event, or what is in the spool for `node`.
    static func placeholderValues(name: Bytes, event: EventKind, spool: Bytes) -> (Placeholder) -> Bytes {
        let layout = SpoolPaths(root: spool)
        let id = "<id>".bytes
        let path: Bytes
        let type: Bytes
        switch event {
        case .file:
            path = layout.work.appendingPathComponent(claimedEntryName(id: id, name: name))
            type = "file".bytes
        case .fifo, .socket:
            path = layout.path(of: name)
            type = event.rawValue.bytes
        case .mq, .signal:
            path = Message.path(ofQueueOrSignal: name, event: event)
            type = event.rawValue.bytes
        case .node, .gone:
            path = layout.path(of: name)
            let present = (try? FileSystem.statusIfPresent(path))??.type
            type = present.map { $0.rawValue.bytes } ?? "<type>".bytes
        }
        return { placeholder in
            switch placeholder {
            case .name: return name
            case .path: return path
            case .id: return id
            case .type: return type
            case .event: return event.rawValue.bytes
            }
        }
    }

    /// The name a claimed file gets in `work/`: `ID.ENCODED-NAME` (see `ClaimStore`), or the id
    /// alone when that would be longer than a file name may be (the name then goes in a sidecar).
    static func claimedEntryName(id: Bytes, name: Bytes) -> Bytes {
        EntryName.make(id: id, name: name) ?? id
    }
}
