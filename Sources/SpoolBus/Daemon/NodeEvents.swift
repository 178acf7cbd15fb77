/// Turns a `node` or `gone` event into a message without a body, within a bound of its own.
///
/// Such an event lives only in memory (no file waits on disk for a later scan to find), and a
/// producer can make them as fast as it can create, rename and remove names: past `limit` jobs
/// not finished, new events are dropped and counted. Dropping starts and ends as one episode,
/// logged once at each end; it ends once half the jobs are done, so a flood at the edge of the
/// bound does not log a pair of lines per job.
final class NodeEvents {
    /// `node` and `gone` jobs not finished (queued, running or waiting to be retried) at most.
    static let limit = 1024
    /// Where dropping stops once it started.
    static let resumeAt = limit / 2

    private let rules: CurrentRules
    private let dispatcher: Dispatcher
    private let log: DispatchLog
    private let nextID: () -> Bytes
    /// Events dropped since the daemon started, for `status`.
    private(set) var dropped = 0
    /// The current episode of dropping: when it began and how many it dropped.
    private var dropping: (since: MonotonicInstant, count: Int)?

    init(rules: CurrentRules, dispatcher: Dispatcher, log: DispatchLog, nextID: @escaping () -> Bytes) {
        self.rules = rules
        self.dispatcher = dispatcher
        self.log = log
        self.nextID = nextID
    }

    /// Delivers the event to the rules that take it, or drops it when too many wait.
    func deliver(_ name: Bytes, type: NodeType, event: EventKind) {
        guard SpoolLayout.isDispatchable(name) else { return }
        let matching = rules.rules.rules(for: name, event: event)
        guard !matching.isEmpty else { return }
        if dropping != nil || dispatcher.nodeEventJobs >= Self.limit {
            drop()
            return
        }
        let id = nextID()
        let message = Message(id: id, name: name, event: event, type: type, body: .none, peer: nil)
        dispatcher.countReceived()
        log.record("recv", name: name, [("id", id), ("name", name), ("event", event.rawValue), ("type", type.rawValue)])
        dispatcher.deliver(Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { _ in }, to: matching)
    }

    /// A job ended: an episode of dropping ends once enough room is free again.
    func jobEnded() {
        guard let episode = dropping, dispatcher.nodeEventJobs <= Self.resumeAt else { return }
        dropping = nil
        log.record("error", [
            ("resolved", "node and gone events are delivered again"), ("dropped", episode.count),
            ("ms", MonotonicInstant.now().duration(since: episode.since).milliseconds),
        ])
    }

    private func drop() {
        dropped += 1
        if dropping == nil {
            dropping = (MonotonicInstant.now(), 0)
            log.record("error", [
                ("limit", Self.limit),
                ("err", "\(Self.limit) node and gone events wait for their handlers; new ones are dropped until \(Self.resumeAt) are left"),
            ])
        }
        dropping!.count += 1
    }
}
