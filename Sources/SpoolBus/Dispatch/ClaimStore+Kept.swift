/// A message the daemon keeps after it is done with it: a dead letter in `failed/` or an
/// archived message in `done/`, as `spoolbus dead`, `drop` and the retention timers see it.
struct KeptMessage {
    let id: Bytes
    let name: Bytes
    /// Its file name in its folder.
    let entry: Bytes
    /// When it was moved into its folder, in nanoseconds since the epoch: the entry's status
    /// change time, which the rename into the folder set (its modification time is the
    /// producer's).
    let keptSince: Int64
}

/// The two folders of kept messages.
enum KeptFolder: String {
    case failed, done

    /// Its path relative to the spool, for the log.
    var displayPrefix: Bytes { ".spoolbus/\(rawValue)/".bytes }
}

/// A dead letter as `spoolbus dead` shows it.
struct DeadLetterReport {
    let id: Bytes
    let name: Bytes
    /// How long it has been a dead letter.
    let ageSeconds: Int64
    /// One line: how each rule that gave up ended (`rule 6: exited with status 3 (4 attempts)`).
    let reason: Bytes
    /// The whole `ID+reason` sidecar, last stderr lines included.
    let details: Bytes
}

extension ClaimStore {
    func directory(of folder: KeptFolder) -> Directory {
        folder == .failed ? layout.failed : layout.done
    }

    /// What `folder` keeps, oldest id first. An entry that went while being looked at is left out.
    func kept(in folder: KeptFolder) throws -> [KeptMessage] {
        let directory = directory(of: folder)
        let path = folder == .failed ? layout.paths.failed : layout.paths.done
        return try entries(in: directory, at: path).compactMap { entry in
            guard let status = try? directory.statusIfPresent(entry.file) else { return nil }
            return KeptMessage(id: entry.id, name: entry.name, entry: entry.file, keptSince: status.changed)
        }
    }

    /// Removes a kept message: its entry first, so that it is never listed without its name,
    /// then its sidecars (`ID+name`, and in `failed/` `ID+reason` and `ID+line`).
    func remove(_ message: KeptMessage, from folder: KeptFolder) throws {
        let directory = directory(of: folder)
        try directory.unlink(message.entry)
        for kind in ["name", "reason", "line"] { try directory.removeIfPresent(EntryName.sidecar(message.id, kind)) }
    }

    /// The dead letters with their age and reason, oldest id first.
    func deadLetterReports(now: Int64) throws -> [DeadLetterReport] {
        try kept(in: .failed).map { letter in
            let details = (try? readSidecar(letter.id, "reason", in: layout.failed)) ?? []
            return DeadLetterReport(id: letter.id, name: letter.name, ageSeconds: max(0, (now - letter.keptSince) / 1_000_000_000),
                                    reason: Self.reasonSummary(details), details: details)
        }
    }

    /// The lines of a reason sidecar that say how rules ended, joined with `; `.
    static func reasonSummary(_ details: Bytes) -> Bytes {
        let lines = details.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: "rule ".bytes) || $0.starts(with: "stopped: ".bytes) }
        guard !lines.isEmpty else { return details.isEmpty ? "no reason kept".bytes : Bytes(details.prefix { $0 != UInt8(ascii: "\n") }) }
        return Bytes(lines.joined(separator: "; ".bytes))
    }
}

/// What became of one NAME (or of each letter, for `--all`) that `drop` was asked to remove.
enum DropOutcome {
    case dropped(id: Bytes, name: Bytes)
    /// No dead letter has that name.
    case missing(name: Bytes)
    case failed(id: Bytes, name: Bytes, reason: String)
}

extension ClaimStore {
    /// Removes the dead letters named `names` (every one of each name), or all of them when
    /// `names` is nil.
    func dropDeadLetters(named names: [Bytes]?) throws -> [DropOutcome] {
        let letters = try kept(in: .failed)
        var outcomes: [DropOutcome] = []
        for name in names ?? [] where !letters.contains(where: { $0.name == name }) {
            outcomes.append(.missing(name: name))
        }
        for letter in letters where names?.contains(letter.name) ?? true {
            do {
                try remove(letter, from: .failed)
                outcomes.append(.dropped(id: letter.id, name: letter.name))
            } catch {
                outcomes.append(.failed(id: letter.id, name: letter.name, reason: "\(error)"))
            }
        }
        return outcomes
    }
}
