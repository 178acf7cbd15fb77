/// Where a message ends up once every rule it matched is done with it: the one place that
/// decides between finishing it (a file archived or removed, a kept line removed) and keeping
/// it as a dead letter in `failed/`, what a `reply` socket's client is answered, and where a
/// line goes when the daemon stops before it is settled. Every step goes through `retry`, so a shortage of space (ENOSPC) delays settling,
/// with backoff, instead of losing the message or leaving it in `work/` until a restart.
///
/// A file message the daemon stops before settling needs nothing: it stays in `work/` (the
/// default `Delivery.putBack`) and is recovered at the next start.
final class Settlement {
    /// Settling steps stopped by a shortage, waiting to be tried again (`unsettled` in `status`).
    let retry: SettleRetry
    private let claims: ClaimStore
    private let log: DispatchLog
    /// Whether the daemon is stopping: a dead letter that cannot be written then is not tried again.
    var isStopping: () -> Bool = { false }
    /// Called when a message was moved into `done/` or `failed/` (for `Retention`).
    var onKept: (KeptFolder) -> Void = { _ in }
    /// Dead letters written while stopping and not synced yet.
    private var unsynced = 0

    init(claims: ClaimStore, retry: SettleRetry, log: DispatchLog) {
        self.claims = claims
        self.retry = retry
        self.log = log
    }

    // MARK: - File messages

    /// Settles a claimed file whose rules are all done: archived (`then=archive`) or removed
    /// when every rule succeeded, a dead letter when one gave up.
    func settle(_ delivery: Delivery, file: ClaimedFile, archive: Bool) {
        if delivery.failures.isEmpty {
            retry.perform(id: file.id, name: file.name) { [claims, onKept] in
                try claims.complete(file, archive: archive)
                if archive { onKept(.done) }
            }
        } else {
            bury(file, reason: delivery.deadLetterReason)
        }
    }

    /// Keeps a claimed file that no rule takes any more as a dead letter, rather than drop it.
    func bury(_ file: ClaimedFile, reason: Bytes) {
        retry.perform(id: file.id, name: file.name) { [claims, onKept] in
            try claims.bury(file, reason: reason)
            onKept(.failed)
        }
    }

    // MARK: - Lines of FIFOs and sockets

    /// Settles a line whose rules are all done: its copy on disk, if any, removed; kept as a
    /// dead letter in `failed/` when a rule gave up (`delivery.deadLetterName` says where).
    func settleLine(_ delivery: Delivery, body: Bytes, origin: ChannelOrigin, kept: ClaimedFile?) {
        let message = delivery.message
        if delivery.failures.isEmpty {
            guard let kept else { return }
            retry.perform(id: message.id, name: message.name) { [claims] in try claims.completeLine(kept) }
            return
        }
        if let kept {
            let reason = delivery.deadLetterReason
            delivery.deadLetterName = claims.deadLetterName(of: kept)
            buryLine(kept, reason: reason)
            return
        }
        delivery.deadLetterName = keepDead(body, id: message.id, from: origin, reason: delivery.deadLetterReason)
    }

    /// The answer to the client of a socket line whose rules include `reply`: the replies, or
    /// why the first `reply` rule that gave up failed.
    func reply(to delivery: Delivery) -> Bytes {
        let id = delivery.message.id
        if let failure = delivery.failures.first(where: { $0.rule.reply }) {
            var reason = failure.outcome.cause
            if let line = failure.outcome.lastErrorLines.last, !line.isEmpty { reason += ": " + text(line) }
            return ChannelReply.failed(id, reason)
        }
        return ChannelReply.output(id, delivery.replies.flatMap { $0 })
    }

    /// Keeps a line kept on disk that no rule takes any more as a dead letter.
    func buryLine(_ file: ClaimedFile, reason: Bytes) {
        retry.perform(id: file.id, name: file.name) { [claims, onKept] in
            try claims.buryLine(file, reason: reason)
            onKept(.failed)
        }
    }

    /// The daemon stops before a line is settled: a kept line waits in `work/` for the next
    /// start; any other becomes a dead letter. Returns where it is, relative to the spool.
    func putBackLine(_ delivery: Delivery, body: Bytes, origin: ChannelOrigin, kept: ClaimedFile?) -> Bytes? {
        if let kept { return ".spoolbus/work/".bytes + kept.entry }
        let stopped = delivery.interrupted.map { String($0.line) }.joined(separator: ", ")
        var reason = delivery.deadLetterReason
        reason += (stopped.isEmpty ? "stopped: the daemon stopped before every rule was done with it\n"
                                   : "stopped: the daemon stopped the handler of rule \(stopped)\n").bytes
        return putBackWhileStopping(body, id: delivery.message.id, from: origin, reason: reason)
    }

    /// Writes a line as a dead letter in `failed/`, through `retry` (a shortage of space is
    /// tried again with backoff); returns its name relative to the spool, or nil when it is not
    /// there and will not be. The first time writing it fails, the body goes into the log (up to
    /// 1 KiB), so it is not lost without a trace, even if the daemon stops before space returns.
    private func keepDead(_ body: Bytes, id: Bytes, from origin: ChannelOrigin, reason: Bytes) -> Bytes? {
        var written = false
        var failedForGood = false
        var attempts = 0
        retry.perform(id: id, name: origin.name) { [claims, log, onKept] in
            attempts += 1
            do {
                try claims.buryLine(try claims.keepLine(body, id: id, origin: origin), reason: reason)
                written = true
                onKept(.failed)
            } catch {
                if attempts == 1 {
                    var fields: [(String, any LogValue)] = [
                        ("id", id), ("name", origin.name), ("err", "cannot keep the dead letter: \(error)"), ("body", Bytes(body.prefix(1024))),
                    ]
                    if body.count > 1024 { fields.append(("size", body.count)) }
                    log.record("error", name: origin.name, fields)
                }
                // A shortage is tried again; any other failure has been logged here already.
                guard let shortage = error as? SystemError, shortage.isTemporaryShortage else {
                    failedForGood = true
                    return
                }
                throw shortage
            }
        }
        // A stopping daemon tries nothing again.
        return written || (!failedForGood && !isStopping()) ? claims.deadLetterName(id: id, name: origin.name) : nil
    }

    /// The stop's put-back of a line: written now, synced with the others by `synchronizeKept`.
    private func putBackWhileStopping(_ body: Bytes, id: Bytes, from origin: ChannelOrigin, reason: Bytes) -> Bytes? {
        do {
            let kept = try claims.keepDeadLineUnsynced(body, id: id, origin: origin, reason: reason)
            unsynced += 1
            onKept(.failed)
            return kept
        } catch {
            var fields: [(String, any LogValue)] = [
                ("id", id), ("name", origin.name), ("err", "cannot keep the dead letter: \(error)"), ("body", Bytes(body.prefix(1024))),
            ]
            if body.count > 1024 { fields.append(("size", body.count)) }
            log.record("error", name: origin.name, fields)
            return nil
        }
    }

    /// Makes the dead letters written while stopping durable, all with one syncfs.
    func synchronizeKept() {
        guard unsynced > 0 else { return }
        do {
            try claims.layout.failed.descriptor.synchronizeFileSystem()
        } catch {
            log.record("error", [("err", "cannot sync the \(unsynced) lines kept as dead letters at the stop: \(error)")])
        }
        unsynced = 0
    }
}
