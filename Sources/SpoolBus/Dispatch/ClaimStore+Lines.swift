/// Lines of FIFOs and sockets kept on disk like file messages: a `durable` channel's line in
/// `work/` before it is answered or dispatched, and a line whose handlers gave up (or that the
/// daemon stopped before it was done) in `failed/`, the line being the file's content.
///
/// Beside such an entry, the sidecar `ID+line` says where the line came from (its event, and
/// the sender of a socket line), so that recovery and `retry` make it a line message of its
/// channel again, not a file of the channel's name, on which a FIFO or socket stands. The sidecar
/// is in a folder before its entry and leaves it after, so an entry that was a line is never
/// taken for a file. A left-over sidecar without its entry (a crash in between) is ignored.
extension ClaimStore {
    /// Writes a line into `work/` as a claimed message of its channel (`ID.ENCODED-NAME`, see
    /// `EntryName`), fsynced with its folder: from here on a crash loses it no more than a
    /// claimed file.
    func keepLine(_ body: Bytes, id: Bytes, origin: ChannelOrigin) throws -> ClaimedFile {
        try layout.work.writeAtomically(LineRecord.bytes(origin), to: EntryName.sidecar(id, "line"), through: layout.temporary)
        let entry = try entryName(id: id, name: origin.name)
        try layout.work.writeAtomically(body, to: entry, through: layout.temporary)
        try layout.work.descriptor.synchronize()
        return claimedFile(id: id, name: origin.name, entry: entry, status: try layout.work.status(entry))
    }

    /// Keeps several lines of one channel at once: every line is written first (from then on
    /// a kill of the daemon loses none of them: the kernel holds what was written), then one
    /// syncfs makes them all durable. A FIFO read hands over many lines in one go; keeping them
    /// one by one, three fsyncs each, left the last ones unwritten for seconds.
    func keepLines(_ lines: [(body: Bytes, id: Bytes)], origin: ChannelOrigin) throws -> [ClaimedFile] {
        var entries: [Bytes] = []
        for line in lines {
            try layout.work.writeAtomically(LineRecord.bytes(origin), to: EntryName.sidecar(line.id, "line"),
                                            through: layout.temporary, synchronize: false)
            let entry = try entryName(id: line.id, name: origin.name)
            try layout.work.writeAtomically(line.body, to: entry, through: layout.temporary, synchronize: false)
            entries.append(entry)
        }
        try layout.work.descriptor.synchronizeFileSystem()
        return try zip(lines, entries).map { line, entry in
            claimedFile(id: line.id, name: origin.name, entry: entry, status: try layout.work.status(entry))
        }
    }

    /// Writes a line the daemon stops before it is settled straight into `failed/` as a dead
    /// letter (its sidecars first, the entry last), without an fsync: the daemon syncs them all
    /// at once when every one is written (`Settlement.synchronizeKept`), where a line kept and
    /// then buried one by one took five fsyncs, and a flood of lines kept the stop waiting for
    /// seconds. A kill meanwhile loses none of them: the kernel holds what was written.
    func keepDeadLineUnsynced(_ body: Bytes, id: Bytes, origin: ChannelOrigin, reason: Bytes) throws -> Bytes {
        try layout.failed.writeAtomically(LineRecord.bytes(origin), to: EntryName.sidecar(id, "line"), through: layout.temporary, synchronize: false)
        try layout.failed.writeAtomically(reason, to: EntryName.sidecar(id, "reason"), through: layout.temporary, synchronize: false)
        let entry: Bytes
        if let short = EntryName.make(id: id, name: origin.name) {
            entry = short
        } else {
            try layout.failed.writeAtomically(origin.name, to: EntryName.sidecar(id, "name"), through: layout.temporary, synchronize: false)
            entry = id
        }
        try layout.failed.writeAtomically(body, to: entry, through: layout.temporary, synchronize: false)
        return ".spoolbus/failed/".bytes + entry
    }

    /// Where a claimed message in `work/` came from when it is a line; nil for a file message.
    func lineOrigin(of file: ClaimedFile) -> ChannelOrigin? {
        lineOrigin(id: file.id, name: file.name, in: layout.work)
    }

    /// Where a dead letter came from when it is a line of a FIFO or socket; nil for a file.
    func lineOrigin(of letter: DeadLetter) -> ChannelOrigin? {
        lineOrigin(id: letter.id, name: letter.name, in: layout.failed)
    }

    /// Where the dead letter of line `id` of channel `name` is kept, relative to the spool.
    func deadLetterName(id: Bytes, name: Bytes) -> Bytes {
        ".spoolbus/failed/".bytes + (EntryName.make(id: id, name: name) ?? id)
    }

    /// Moves a kept line whose handlers gave up to `failed/`, with `reason` beside it. Returns
    /// the dead letter's path relative to the spool.
    @discardableResult
    func buryLine(_ file: ClaimedFile, reason: Bytes) throws -> Bytes {
        try copySidecar(file.id, "line", from: layout.work, to: layout.failed)
        let kept = try bury(file, reason: reason)
        try layout.work.removeIfPresent(EntryName.sidecar(file.id, "line"))
        return kept
    }

    /// Finishes a kept line whose handlers all succeeded.
    func completeLine(_ file: ClaimedFile) throws {
        try complete(file, archive: false)
        try layout.work.removeIfPresent(EntryName.sidecar(file.id, "line"))
    }

    /// Puts a dead letter that was a line back into `work/`, where the daemon takes it as a line
    /// of its channel again (at once when asked over the control socket, else at its next start).
    func requeueLine(_ letter: DeadLetter) throws -> ClaimedFile {
        try copySidecar(letter.id, "line", from: layout.failed, to: layout.work)
        try copySidecar(letter.id, "name", from: layout.failed, to: layout.work)
        try layout.failed.rename(letter.entry, to: layout.work, as: letter.entry, replacing: false)
        for kind in ["reason", "name", "line"] { try layout.failed.removeIfPresent(EntryName.sidecar(letter.id, kind)) }
        return claimedFile(id: letter.id, name: letter.name, entry: letter.entry, status: try layout.work.status(letter.entry))
    }

    private func lineOrigin(id: Bytes, name: Bytes, in folder: Directory) -> ChannelOrigin? {
        guard let record = try? readSidecar(id, "line", in: folder) else { return nil }
        return LineRecord.origin(record, name: name)
    }

    /// Copies a sidecar, if there is one, so that it is in both folders while its entry moves.
    func copySidecar(_ id: Bytes, _ kind: String, from source: Directory, to target: Directory) throws {
        let content: Bytes
        do {
            content = try readSidecar(id, kind, in: source)
        } catch let error as SystemError where error.errno == SystemError.noEntry {
            return
        }
        try target.writeAtomically(content, to: EntryName.sidecar(id, kind), through: layout.temporary)
    }
}

/// The content of an `ID+line` sidecar: one line of words, the event (`fifo`, `socket`, `mq`,
/// `signal`) and,
/// for a socket line, `pid=N uid=N gid=N` of its sender (no `pid=` for a datagram without one).
enum LineRecord {
    static func bytes(_ origin: ChannelOrigin) -> Bytes {
        var words = [origin.event.rawValue]
        if let peer = origin.peer {
            if let pid = peer.pid { words.append("pid=\(pid)") }
            words.append("uid=\(peer.uid)")
            if let gid = peer.gid { words.append("gid=\(gid)") }
        }
        return (words.joined(separator: " ") + "\n").bytes
    }

    /// The origin a record describes, for the channel `name`; nil when it is not a record.
    static func origin(_ record: Bytes, name: Bytes) -> ChannelOrigin? {
        let words = text(record).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        guard let event = words.first.flatMap(EventKind.init(rawValue:)), let type = Self.type(of: event) else { return nil }
        var numbers: [String: UInt32] = [:]
        var pid: Int32?
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "pid" { pid = Int32(parts[1]) } else { numbers[parts[0]] = UInt32(parts[1]) }
        }
        let peer = numbers["uid"].map { Peer(pid: pid, uid: $0, gid: numbers["gid"]) }
        return ChannelOrigin(name: name, event: event, type: type, peer: peer)
    }

    /// What a line of `event` is (`SPOOL_TYPE`); nil for events that are not lines.
    private static func type(of event: EventKind) -> NodeType? {
        switch event {
        case .fifo: return .fifo
        case .socket: return .socket
        case .mq: return .mq
        case .signal: return .signal
        case .file, .node, .gone: return nil
        }
    }
}
