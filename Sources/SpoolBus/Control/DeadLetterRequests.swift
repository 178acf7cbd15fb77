/// The control requests on dead letters: `dead`, `retry` and `drop`.
extension ControlServer {
    /// The `dead` answer: one `letter` line per dead letter.
    func deadLetterLines() -> [Bytes] {
        do {
            return try ClaimStore(layout: channels.layout).deadLetterReports(now: WallClock.nanoseconds()).map { letter in
                ControlWords.line(["letter".bytes, letter.id, letter.name, "\(letter.ageSeconds)".bytes, letter.reason, letter.details])
            }
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
    }

    /// The dead letters a `retry` or `drop` request names: `-- NAME…` (every word after `--` a
    /// name, so a letter named `--all` is only that letter), `--all` (nil: every letter), or, as
    /// older clients wrote it, bare `NAME…` without `--all` among them; `.none` when it is none
    /// of these.
    static func deadLetterNames(_ words: [Bytes]) -> [Bytes]?? {
        if words.first == "--".bytes { return words.count > 1 ? .some(Array(words.dropFirst())) : .none }
        if words == ["--all".bytes] { return .some(nil) }
        if words.isEmpty || words.contains("--all".bytes) { return .none }
        return .some(words)
    }

    /// Removes dead letters for good; each removal is a `drop` line in the log.
    func drop(_ words: [Bytes]) -> [Bytes] {
        guard let names = Self.deadLetterNames(words) else { return [ChannelReply.refused("drop takes -- NAME… or --all")] }
        let outcomes: [DropOutcome]
        do {
            outcomes = try ClaimStore(layout: channels.layout).dropDeadLetters(named: names)
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
        return outcomes.map { outcome in
            switch outcome {
            case .dropped(let id, let name):
                channels.log.record("drop", name: name, [("id", id), ("name", name)])
                return ControlWords.line(["dropped".bytes, id, name])
            case .missing(let name):
                return ControlWords.line(["missing".bytes, name])
            case .failed(let id, let name, let reason):
                return ControlWords.line(["failed".bytes, id, name, reason.bytes])
            }
        }
    }

    /// Puts dead letters back into the spool; the watcher sees them arrive like any message.
    func retry(_ words: [Bytes]) -> [Bytes] {
        let store = ClaimStore(layout: channels.layout)
        guard let selected = Self.deadLetterNames(words) else { return [ChannelReply.refused("retry takes -- NAME… or --all")] }
        let all = selected == nil
        let names = selected ?? []
        let letters: [ClaimStore.DeadLetter]
        do {
            letters = try store.deadLetters()
        } catch {
            return [ChannelReply.refused("cannot list dead letters: \(error)")]
        }
        var lines: [Bytes] = []
        if !all {
            for name in names where !letters.contains(where: { $0.name == name }) {
                lines.append(ControlWords.line(["missing".bytes, name]))
            }
        }
        for letter in letters where all || names.contains(letter.name) {
            do {
                if let origin = store.lineOrigin(of: letter) {
                    channels.lines.recover(try store.requeueLine(letter), from: origin)
                } else {
                    try store.resurrect(letter)
                }
                lines.append(ControlWords.line(["retried".bytes, letter.id, letter.name]))
            } catch let error as SystemError where error.errno == SystemError.exists {
                lines.append(ControlWords.line(["failed".bytes, letter.id, letter.name, "a file of that name is in the spool already".bytes]))
            } catch {
                lines.append(ControlWords.line(["failed".bytes, letter.id, letter.name, "\(error)".bytes]))
            }
        }
        return lines
    }
}
