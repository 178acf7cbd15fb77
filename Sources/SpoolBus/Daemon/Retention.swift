/// `--keep-done` and `--keep-failed`: messages kept in `done/` (the archive) or `failed/` (dead
/// letters) are removed, with their sidecars, once they have been there longer than the
/// duration, each removal a `prune` line in the log.
///
/// Nothing polls: one timer, armed only while the folder holds something, for the moment its
/// oldest message expires. A message arriving while none is armed arms it for its own expiry.
/// Each pruning lists the folder, so two are at least a sixtieth of the duration apart (and at
/// least a second): a steady stream of archived messages costs a listing now and then, not one
/// per message, and a message goes at most that much after it expired.
final class Retention {
    private let folder: KeptFolder
    private let keep: Duration
    private let claims: ClaimStore
    private let loop: EventLoop
    private let log: DispatchLog
    private var timer: EventLoop.TimerID?

    init(_ folder: KeptFolder, keep: Duration, claims: ClaimStore, loop: EventLoop, log: DispatchLog) {
        self.folder = folder
        self.keep = keep
        self.claims = claims
        self.loop = loop
        self.log = log
    }

    /// At start: what is there already, some of it perhaps long expired.
    func start() { prune() }

    /// A message was moved into the folder: it expires `keep` from now, after whatever is
    /// there already, so only an unarmed timer needs arming.
    func added() {
        guard timer == nil else { return }
        timer = loop.schedule(after: keep) { [unowned self] in self.prune() }
    }

    private func prune() {
        timer = nil
        let now = WallClock.nanoseconds()
        let kept: [KeptMessage]
        do {
            kept = try claims.kept(in: folder)
        } catch {
            // Tried again when the next message arrives.
            log.record("error", [("err", "cannot list \(text(folder.displayPrefix)) to prune it: \(error)")])
            return
        }
        var nextExpiry: Int64?
        for message in kept {
            let age = now - message.keptSince
            let left = keep.nanoseconds - age
            guard left <= 0 else {
                nextExpiry = min(nextExpiry ?? left, left)
                continue
            }
            do {
                try claims.remove(message, from: folder)
                log.record("prune", name: message.name, [
                    ("id", message.id), ("name", message.name), ("from", folder.displayPrefix + message.entry),
                    ("age", formatDuration(.seconds(age / 1_000_000_000))),
                ])
            } catch {
                log.record("error", name: message.name, [
                    ("id", message.id), ("name", message.name), ("err", "cannot prune \(text(folder.displayPrefix + message.entry)): \(error)"),
                ])
            }
        }
        guard let nextExpiry else { return }
        let spacing = max(Duration.seconds(1).nanoseconds, keep.nanoseconds / 60)
        timer = loop.schedule(after: .nanoseconds(max(nextExpiry, spacing))) { [unowned self] in self.prune() }
    }
}
