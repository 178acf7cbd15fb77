/// Where a message ends up once every rule it matched is done with it: the one place that
/// decides between finishing it (a file archived or removed) and keeping it as a dead letter in
/// `failed/`. Every step goes through `retry`, so a shortage of space (ENOSPC) delays settling,
/// with backoff, instead of losing the message or leaving it in `work/` until a restart.
///
/// Putting a message back when the daemon stops before it is settled is `Delivery.putBack`: a
/// claimed file simply stays in `work/`.
final class Settlement {
    /// Settling steps stopped by a shortage, waiting to be tried again (`unsettled` in `status`).
    let retry: SettleRetry
    private let claims: ClaimStore

    init(claims: ClaimStore, retry: SettleRetry) {
        self.claims = claims
        self.retry = retry
    }

    // MARK: - File messages

    /// Settles a claimed file whose rules are all done: archived (`then=archive`) or removed
    /// when every rule succeeded, a dead letter when one gave up.
    func settle(_ delivery: Delivery, file: ClaimedFile, archive: Bool) {
        if delivery.failures.isEmpty {
            retry.perform(id: file.id, name: file.name) { [claims] in try claims.complete(file, archive: archive) }
        } else {
            let reason = delivery.deadLetterReason
            retry.perform(id: file.id, name: file.name) { [claims] in try claims.bury(file, reason: reason) }
        }
    }

    /// Keeps a claimed file that no rule takes any more as a dead letter, rather than drop it.
    func bury(_ file: ClaimedFile, reason: Bytes) {
        retry.perform(id: file.id, name: file.name) { [claims] in try claims.bury(file, reason: reason) }
    }
}
