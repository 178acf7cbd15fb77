/// How `dead` and `drop` reach the dead letters: through the daemon serving the spool when one
/// runs (it owns `failed/`, which only its user may read, and it logs what it drops), else
/// directly, through the folders' descriptors, as `retry` does without a daemon.
enum DeadLetterAccess {
    /// The dead letters of the spool at `layout`, oldest id first.
    static func list(_ layout: SpoolPaths) throws -> [DeadLetterReport] {
        if let daemon = try ControlClient.ifServing(layout) {
            return try ask(daemon, ["dead".bytes]) { words in
                guard words.count == 6, words[0] == "letter".bytes, let age = Int64(text(words[3])) else { return nil }
                return DeadLetterReport(id: words[1], name: words[2], ageSeconds: age, reason: words[4], details: words[5])
            }
        }
        return try offline(layout) { try $0.deadLetterReports(now: WallClock.nanoseconds()) } ?? []
    }

    /// Removes the dead letters named `names`, or all of them when nil.
    static func drop(_ names: [Bytes]?, in layout: SpoolPaths) throws -> [DropOutcome] {
        if let daemon = try ControlClient.ifServing(layout) {
            // Names after `--`: a dead letter named `--all` is that letter, not every one.
            return try ask(daemon, ["drop".bytes] + (names.map { ["--".bytes] + $0 } ?? ["--all".bytes])) { words in
                switch (words.first.map(text), words.count) {
                case ("dropped", 3): return .dropped(id: words[1], name: words[2])
                case ("missing", 2): return .missing(name: words[1])
                case ("failed", 4): return .failed(id: words[1], name: words[2], reason: text(words[3]))
                default: return nil
                }
            }
        }
        return try offline(layout) { try $0.dropDeadLetters(named: names) } ?? (names ?? []).map { .missing(name: $0) }
    }

    /// Sends `request` and reads the answer a line at a time; `parse` turns a line's words into
    /// an item, nil for an answer it does not expect.
    private static func ask<Item>(_ daemon: ControlClient, _ request: [Bytes], _ parse: ([Bytes]) -> Item?) throws -> [Item] {
        var items: [Item] = []
        do {
            try daemon.send(request)
            while let line = try daemon.readLine() {
                guard let words = ControlWords.split(line), let item = parse(words) else {
                    let said = line.starts(with: "error ".bytes) ? Bytes(line.dropFirst(6)) : line
                    throw CommandFailure(status: 1, message: "the daemon answered: " + TokenDisplay.escaped(said))
                }
                items.append(item)
            }
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "lost the daemon: \(error)")
        }
        return items
    }

    /// `body` on the spool's state folders opened as they are (nothing is created); nil when
    /// the spool or its `.spoolbus/` does not exist, so there are no dead letters.
    private static func offline<Result>(_ layout: SpoolPaths, _ body: (ClaimStore) throws -> Result) throws -> Result? {
        let opened: SpoolLayout
        do {
            opened = try SpoolLayout.openExisting(layout.root)
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            return nil
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot open the dead letters in '\(TokenDisplay.escaped(layout.failed))': \(error)")
        }
        defer { opened.close() }
        do {
            return try body(ClaimStore(layout: opened))
        } catch let error as SystemError {
            throw CommandFailure(status: 1, message: "cannot list dead letters: \(error)")
        }
    }
}
