/// `spoolbus status`: asks the running daemon how it is doing.
enum StatusCommand: Subcommand {
    static let spec = CommandSpec(
        "status",
        abstract: "Show what the running daemon is doing.",
        discussion: "Asks the daemon serving the spool, over SPOOL/.spoolbus/control.sock: its pid and uptime, the rules it loaded, how many messages it received and how they ended, what runs and waits now, its open FIFOs, sockets, clients and watchers, and the faults it is riding out (dispatch-log lines lost, folders without an inotify watch, messages not yet settled). Exits 1 when no daemon serves the spool.",
        options: [
            .spool(),
            OptionSpec("raw", help: "Print the daemon's key=value lines as they came."),
            OptionSpec("json", help: "Print one JSON object: each fact a member; counts are numbers, paused a boolean."),
        ])

    static func execute(_ arguments: ParsedArguments, in context: CommandContext) throws -> Int32 {
        let layout = SpoolPaths(root: SpoolLocation.resolve(arguments))
        var facts: [(key: String, value: Bytes)] = []
        do {
            let client = try ControlClient(layout)
            try client.send(["status".bytes])
            // The daemon escapes what it says; whatever a control byte reaches here is shown as
            // `\xNN`, never run by the terminal.
            while let line = try client.readLine().map({ Bytes(TokenDisplay.escaped($0).utf8) }) {
                if line.starts(with: "error ".bytes) {
                    throw CommandFailure(status: 1, message: "the daemon answered: " + text(Bytes(line.dropFirst(6))))
                }
                guard let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
                facts.append((text(Bytes(line[..<equals])), Bytes(line[(equals + 1)...])))
            }
        } catch let error as ControlClient.NoDaemon {
            throw CommandFailure(status: 1, message: error.description)
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot ask the daemon: \(error)")
        }
        guard !facts.isEmpty else { throw CommandFailure(status: 1, message: "the daemon closed the connection without answering") }
        if arguments.has("raw") && arguments.has("json") { throw UsageError("give --raw or --json, not both") }
        if arguments.has("json") {
            context.output(json(facts).line)
        } else if arguments.has("raw") {
            for fact in facts { context.output(fact.key.bytes + "=".bytes + fact.value + "\n".bytes) }
        } else {
            context.print(summary(facts))
        }
        return 0
    }

    /// Facts that are text whatever they hold; every other all-digit value is a count.
    private static let textFacts: Set<String> = ["spool", "rules", "version", "uptime"]

    /// The facts as one JSON object, values unescaped: counts as numbers, `paused` as a boolean,
    /// text as `JSONValue.fields` writes it (a path that is not UTF-8 gets `KEY_base64`).
    static func json(_ facts: [(key: String, value: Bytes)]) -> JSONValue {
        .object(facts.flatMap { key, escaped -> [(String, JSONValue)] in
            let value = ControlWords.unescaped(escaped) ?? escaped
            if key == "paused" { return [(key, .bool(value == "yes".bytes))] }
            if !textFacts.contains(key), !value.isEmpty, value.count <= 18,
               value.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let number = Int64(text(value)) {
                return [(key, .number(number))]
            }
            return JSONValue.fields(key, value)
        })
    }

    /// The facts in a few lines for people; values stay as the daemon escaped them.
    static func summary(_ facts: [(key: String, value: Bytes)]) -> String {
        func value(_ key: String) -> String { facts.first { $0.key == key }.map { text($0.value) } ?? "?" }
        func unquoted(_ text: String) -> String {
            text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
        }
        func list(_ keys: [String]) -> String { keys.map { "\($0) \(value($0))" }.joined(separator: ", ") }
        let rows: [(String, String)] = [
            ("pid", value("pid")),
            ("uptime", value("uptime")),
            ("spool", value("spool")),
            ("rules", "\(value("rules")), \(value("rules_loaded")) loaded"),
            ("messages", list(["received", "ok", "failed", "dead", "nomatch", "ok_unlogged"])),
            ("in flight", list(["running", "queued", "retrying"])),
            ("channels", list(["fifos", "sockets", "clients", "watchers", "queues"])),
            ("signals", "taken \(value("signals")) (\(unquoted(value("signals_by_name")))), "
                + "ignored \(value("signals_ignored")), dropped \(value("signals_dropped"))"),
            ("paused", "\(value("paused")) (\(list(["pauses", "throttles"])))"),
            ("refused", list(["too_long", "clients_refused", "replies_dropped", "watchers_dropped", "node_events_dropped",
                              "descriptors_refused"])),
            ("faults", list(["log_lost", "unwatched", "unsettled"])),
        ] + facts.filter { $0.key.hasPrefix("broker.") }.map { ("broker", $0.key.dropFirst(7) + " " + text($0.value)) }
          + facts.filter { $0.key == "worker" }.map { ("worker", text($0.value).replacingColons()) }
        return rows.map { label, text in label + String(repeating: " ", count: 11 - label.count) + text + "\n" }.joined()
    }
}

private extension String {
    /// `pid:9903,rule:6,state:idle,served:2` as `pid 9903, rule 6, state idle, served 2`.
    func replacingColons() -> String {
        split(separator: ",").map { $0.split(separator: ":", maxSplits: 1).joined(separator: " ") }.joined(separator: ", ")
    }
}
