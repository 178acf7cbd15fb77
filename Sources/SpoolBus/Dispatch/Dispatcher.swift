/// A message on its way to every rule it matched.
final class Delivery {
    let message: Message
    /// Where a dead letter of this message is kept (`kept=` in the log): known in advance for a
    /// file, set while settling for a line.
    var deadLetterName: Bytes?
    private(set) var remaining: Int
    /// The rules that gave up, with how their last run ended and how many runs they had.
    private(set) var failures: [(rule: Rule, outcome: RunOutcome, attempts: Int)] = []
    /// The replies of `reply` rules, in the order they finished.
    private(set) var replies: [Bytes] = []
    /// The rules whose handler was stopped because the daemon stopped.
    fileprivate(set) var interrupted: [Rule] = []
    fileprivate let settle: (Delivery) -> Void
    /// Keeps the message when the daemon stops before it is settled, and says where it is kept
    /// (relative to the spool); nil when there is nothing to keep. A claimed file stays in
    /// `work/` and a state file in the spool, both dispatched again at the next start.
    var putBack: (Delivery) -> Bytes? = { delivery in
        switch delivery.message.body {
        case .claimedFile(let file): return ".spoolbus/work/".bytes + file.entry
        case .stateFile: return delivery.message.name
        case .line, .none: return nil
        }
    }

    init(message: Message, ruleCount: Int, deadLetterName: Bytes?, settle: @escaping (Delivery) -> Void) {
        self.message = message
        self.deadLetterName = deadLetterName
        remaining = ruleCount
        self.settle = settle
    }

    /// Returns true when this was the last rule, and the message has been settled.
    fileprivate func ruleFinished(_ rule: Rule, _ outcome: RunOutcome, attempts: Int) -> Bool {
        if !outcome.succeeded { failures.append((rule, outcome, attempts)) }
        if rule.reply, let output = outcome.replyOutput { replies.append(output) }
        remaining -= 1
        guard remaining == 0 else { return false }
        settle(self)
        return true
    }
}

/// Counters for `status`.
public struct DispatchCounters: Sendable {
    public var received = 0
    public var ok = 0
    public var failed = 0
    public var dead = 0
    public var nomatch = 0
}

/// Runs jobs: at most `--jobs` at once, at most `concurrency=` per rule (arrival order kept
/// within a rule), failed runs retried with exponential backoff, every step logged.
final class Dispatcher {
    private struct Pending {
        let job: Job
        let delivery: Delivery
        let sequence: UInt64
        /// The lane of the job's rule: found once, when the job is queued.
        let lane: Lane
        /// When this attempt was first held back by a shortage.
        var heldSince: MonotonicInstant?
    }

    /// The jobs of one rule: waiting in arrival order, retries ahead of new arrivals. A class,
    /// so that a job reaches its lane through its `Pending` rather than a lookup by identity.
    private final class Lane {
        let key: RuleIdentity
        var waiting = FIFOQueue<Pending>()
        var retries: [Pending] = []
        /// Jobs started and not given up yet: running, or holding the slot of a rule that keeps
        /// order while waiting for a retry.
        var running = 0
        /// Jobs running now: what `--jobs` counts.
        var active = 0
        /// Retries waiting in a rule that keeps order: nothing else of the rule starts meanwhile.
        var holding = 0
        var limit: Int?
        /// Requests one worker process takes at once (`pipeline=`; 1 for every other rule).
        var pipeline = 1

        var next: Pending? { retries.first ?? waiting.first }
        /// `running < limit × pipeline`, divided rather than multiplied: `concurrency=` may be
        /// as large as an Int, and the product would trap.
        var hasRoom: Bool { holding == 0 && (limit.map { running / pipeline < $0 } ?? true) }
        /// `--jobs` slots in use: one per process at work. A worker pool gives a request to an
        /// idle process, else to a new one while it has fewer than `concurrency=`, and only then
        /// writes it behind another's: so up to `concurrency=` requests may each have a process
        /// of their own, and only those past that share one.
        var slots: Int { pipeline == 1 ? active : min(active, limit ?? active) }
        /// Whether one more job would take a `--jobs` slot of its own.
        var nextTakesASlot: Bool { pipeline == 1 || active < (limit ?? active + 1) }

        init(key: RuleIdentity) { self.key = key }

        func take() -> Pending? {
            retries.isEmpty ? waiting.removeFirst() : retries.removeFirst()
        }
    }

    private let context: RunContext
    private let jobLimit: Int
    private let runs: RunStarter
    /// By rule identity, not line: a reload that moves a rule keeps its throttle and queue.
    private var lanes: [RuleIdentity: Lane] = [:]
    /// The same lanes, for `pump` to go through without hashing (or copying) their keys.
    private var laneList: [Lane] = []
    private var sequence: UInt64 = 0
    private var inFlight: [ObjectIdentifier: HandlerRun] = [:]
    private(set) var running = 0
    /// `--jobs` slots in use, all lanes together: `running`, but for requests written ahead to a
    /// worker process, which share its slot.
    private var slotsInUse = 0
    private(set) var queued = 0
    private(set) var waitingForRetry = 0
    /// Jobs of `node` and `gone` events not finished (queued, running or waiting to be
    /// retried): they have a bound of their own (`NodeEvents`), so they are left out of `load`.
    private(set) var nodeEventJobs = 0
    private(set) var counters = DispatchCounters()
    /// SIGTERM: no new file message starts; lines (which have no file to wait in) still do.
    private var stopping = false
    /// The grace is over: nothing starts, and a handler that ends now was stopped by the daemon.
    private var graceOver = false
    /// Ends the grace when it is over, while the daemon stops.
    private var graceTimer: EventLoop.TimerID?
    private var pumping = false
    /// Deliveries not settled yet: what is put back when the daemon stops.
    private var unsettled: [ObjectIdentifier: Delivery] = [:]
    /// Set while stopping: called once nothing runs and nothing more can start.
    private var whenIdle: (() -> Void)?
    /// The lanes whose next job lacked a resource to start: none of their jobs starts until a
    /// job ends or `resourceTimer` fires. Other lanes go on: a shortage of one rule's user (its
    /// process limit) holds back only that rule, and a shortage of all costs each lane one
    /// failed start per round.
    private var held: Set<RuleIdentity> = []
    private var resourceTimer: EventLoop.TimerID?
    private var resourceDelay = Dispatcher.firstResourceDelay
    /// The current shortage: logged once when it begins and once when handlers start again.
    private var shortage: (resource: String, since: MonotonicInstant, deferrals: Int)?
    /// How long one attempt may be held back before it is spent as a failure: a shortage that
    /// does not pass for this job (a process limit its user stays at) must not hold it forever.
    private let shortageLimit: Duration
    static let firstResourceDelay: Duration = .milliseconds(50)
    static let longestResourceDelay: Duration = .seconds(2)
    static let longestShortage: Duration = .seconds(30)
    /// Called whenever a job ends, so the bus can admit more messages.
    var onJobEnded: () -> Void = {}

    init(context: RunContext, jobLimit: Int, shortageLimit: Duration = Dispatcher.longestShortage, runs: RunStarter) {
        self.context = context
        self.jobLimit = max(1, jobLimit)
        self.shortageLimit = shortageLimit
        self.runs = runs
    }

    /// Jobs of files and lines queued, running or waiting to be retried: what holds back the
    /// admission of files and the reading of channels. A flood of `node` events (which nothing
    /// can find again later) must not stall them, nor be stalled by them.
    var load: Int { running + queued + waitingForRetry - nodeEventJobs }

    func countReceived() { counters.received += 1 }
    func countNoMatch() { counters.nomatch += 1 }

    /// Queues one job per rule; `delivery.settle` runs once all of them succeeded or gave up.
    func deliver(_ delivery: Delivery, to rules: [Rule]) {
        if !rules.isEmpty { unsettled[ObjectIdentifier(delivery)] = delivery }
        if delivery.message.isNodeEvent { nodeEventJobs += rules.count }
        for rule in rules {
            sequence += 1
            // Made once: a rule's identity is hashed over its pattern, events and handler.
            let lane = self.lane(for: rule.identity)
            let pipeline = rule.worker ? rule.pipeline : 1
            if lane.pipeline != pipeline || lane.limit != rule.concurrency {
                // A reload changed `pipeline=` or `concurrency=`: the slots of the jobs running
                // are counted anew.
                slotsInUse -= lane.slots
                lane.pipeline = pipeline
                lane.limit = rule.concurrency
                slotsInUse += lane.slots
            }
            lane.waiting.append(Pending(job: Job(message: delivery.message, rule: rule, attempt: 1), delivery: delivery, sequence: sequence, lane: lane))
            queued += 1
        }
        pump()
    }

    private func lane(for key: RuleIdentity) -> Lane {
        if let lane = lanes[key] { return lane }
        let lane = Lane(key: key)
        lanes[key] = lane
        laneList.append(lane)
        return lane
    }

    /// Starts queued jobs while there is room, oldest arrival first among rules with room.
    private func pump() {
        // A run that ends at once (an inline Swift handler, a program that cannot start) ends
        // inside `launch`; the loop below picks up where it left, instead of recursing once
        // per queued job.
        guard !pumping else { return }
        pumping = true
        defer {
            pumping = false
            if running == 0, let idle = whenIdle {
                whenIdle = nil
                idle()
            }
        }
        while !graceOver {
            let slotFree = slotsInUse < jobLimit
            var best: (lane: Lane, sequence: UInt64)?
            for lane in laneList where lane.hasRoom && (slotFree || !lane.nextTakesASlot) && (held.isEmpty || !held.contains(lane.key)) {
                if let next = lane.next, !stopping || next.job.message.line != nil, best == nil || next.sequence < best!.sequence {
                    best = (lane, next.sequence)
                }
            }
            guard let lane = best?.lane, let pending = lane.take() else { break }
            queued -= 1
            if lane.nextTakesASlot { slotsInUse += 1 }
            lane.running += 1
            lane.active += 1
            running += 1
            launch(pending)
        }
        if held.isEmpty && shortage != nil { shortageEnded() }
    }

    private func launch(_ pending: Pending) {
        var finished = false
        var runKey: ObjectIdentifier?
        let run = runs.start(pending.job) { [weak self] outcome in
            finished = true
            if let runKey { self?.inFlight[runKey] = nil }
            self?.ended(pending, outcome)
        }
        if let run, !finished {
            runKey = ObjectIdentifier(run)
            inFlight[runKey!] = run
        }
    }

    /// Puts a job that could not start for want of descriptors, processes or memory back at the
    /// head of its lane, its attempt unspent, and holds that lane until a job ends (freeing what
    /// it held) or a timer with backoff fires. Returns the outcome to count as a failure instead
    /// once this attempt has been held back for `shortageLimit`.
    private func deferForResources(_ pending: Pending, _ error: SystemError) -> RunOutcome? {
        let now = MonotonicInstant.now()
        let heldSince = pending.heldSince ?? now
        let resource = error.exhaustedResource ?? "resources"
        if now.duration(since: heldSince) >= shortageLimit {
            let why = "\(error); short of \(resource) for \(formatDuration(shortageLimit))"
            return RunOutcome(result: .couldNotStart(why), milliseconds: now.duration(since: heldSince).milliseconds)
        }
        let key = pending.job.rule.identity
        var waiting = pending
        waiting.heldSince = heldSince
        pending.lane.running -= 1
        pending.lane.retries.insert(waiting, at: 0)
        queued += 1
        held.insert(key)
        if shortage == nil {
            shortage = (resource, now, 0)
            context.log.record("error", [
                ("resource", resource),
                ("err", "\(error); handlers wait to start and are tried again, no attempt is counted for \(formatDuration(shortageLimit))"),
            ])
        }
        shortage!.deferrals += 1
        // One timer for every held lane: each deferral of a round does not double the delay.
        guard resourceTimer == nil else { return nil }
        resourceTimer = context.loop.schedule(after: resourceDelay) { [weak self] in
            guard let self else { return }
            self.resourceTimer = nil
            self.held.removeAll()
            self.pump()
        }
        resourceDelay = min(resourceDelay * 2, Self.longestResourceDelay)
        return nil
    }

    /// A shortage is over once the jobs it held back have all started (or `--jobs` is reached)
    /// without another one: at the limit, a job that ends lets one start and the next one wait,
    /// which is the same shortage going on.
    private func shortageEnded() {
        resourceDelay = Self.firstResourceDelay
        guard let shortage else { return }
        self.shortage = nil
        context.log.record("error", [
            ("resource", shortage.resource), ("resolved", "handlers start again"),
            ("ms", MonotonicInstant.now().duration(since: shortage.since).milliseconds),
            ("deferrals", shortage.deferrals),
        ])
    }

    private func ended(_ pending: Pending, _ outcome: RunOutcome) {
        let job = pending.job
        let rule = job.rule
        let message = job.message
        let lane = pending.lane
        running -= 1
        lane.active -= 1
        if lane.nextTakesASlot { slotsInUse -= 1 }
        var outcome = outcome
        if case .lackedResources(let error) = outcome.result {
            guard let spent = deferForResources(pending, error) else { return }
            outcome = spent
        } else if !held.isEmpty {
            // What the run held is free again: try the jobs held back by a shortage now.
            held.removeAll()
            if let resourceTimer { context.loop.cancel(resourceTimer) }
            resourceTimer = nil
        }
        defer {
            onJobEnded()
            pump()
        }
        if outcome.succeeded {
            lane.running -= 1
            counters.ok += 1
            guard rule.log == .all else {
                context.unloggedSuccesses += 1
                finish(pending.delivery, rule, outcome, attempts: job.attempt)
                return
            }
            context.log.record("ok", name: message.name, [("id", message.id), ("rule", rule.line)] + outcome.logFields + [("ms", outcome.milliseconds)])
            finish(pending.delivery, rule, outcome, attempts: job.attempt)
            return
        }
        counters.failed += 1
        var fields: [(String, any LogValue)] = [("id", message.id), ("rule", rule.line)]
        // A line's `recv` is not logged when only `log=failures` rules take it: its failure names it.
        if rule.log == .failures { fields.append(("name", message.name)) }
        fields += outcome.logFields
        fields.append(("attempt", job.attempt))
        if stopping {
            // Not retried now: the message is put back once every handler has ended.
            lane.running -= 1
            if message.isNodeEvent { nodeEventJobs -= 1 }
            if graceOver {
                pending.delivery.interrupted.append(rule)
            } else {
                context.log.record("fail", name: message.name, fields + [("err", outcome.errorSummary)])
            }
            return
        }
        if job.attempt <= rule.retries {
            let delay = backoff(rule, afterAttempt: job.attempt)
            context.log.record("fail", name: message.name, fields + [("retry_in", formatDuration(delay)), ("err", outcome.errorSummary)])
            // A rule that keeps order holds its slot while it waits, so no later message overtakes.
            let holdsSlot = rule.concurrency == 1
            if holdsSlot { lane.holding += 1 } else { lane.running -= 1 }
            waitingForRetry += 1
            let retry = Pending(job: Job(message: message, rule: rule, attempt: job.attempt + 1), delivery: pending.delivery,
                                sequence: pending.sequence, lane: lane)
            context.loop.schedule(after: delay) { [weak self] in
                guard let self else { return }
                self.waitingForRetry -= 1
                if holdsSlot {
                    lane.running -= 1
                    lane.holding -= 1
                }
                lane.retries.append(retry)
                self.queued += 1
                self.pump()
            }
            return
        }
        lane.running -= 1
        context.log.record("fail", name: message.name, fields + [("err", outcome.errorSummary)])
        finish(pending.delivery, rule, outcome, attempts: job.attempt)
    }

    /// Counts a rule as done with the message; once the message is settled (its dead letter,
    /// if any, in place), each rule that gave up is logged `dead`.
    private func finish(_ delivery: Delivery, _ rule: Rule, _ outcome: RunOutcome, attempts: Int) {
        if delivery.message.isNodeEvent { nodeEventJobs -= 1 }
        guard delivery.ruleFinished(rule, outcome, attempts: attempts) else { return }
        unsettled[ObjectIdentifier(delivery)] = nil
        let message = delivery.message
        for failure in delivery.failures {
            counters.dead += 1
            var fields: [(String, any LogValue)] = [("id", message.id), ("rule", failure.rule.line)]
            if failure.rule.log == .failures { fields.append(("name", message.name)) }
            fields.append(("attempts", failure.attempts))
            if let kept = delivery.deadLetterName { fields.append(("kept", kept)) }
            fields += failure.outcome.logFields
            fields.append(("err", failure.outcome.errorSummary))
            context.log.record("dead", name: message.name, fields)
        }
    }

    private func backoff(_ rule: Rule, afterAttempt attempt: Int) -> Duration {
        let factor = Int64(1) << Int64(min(attempt - 1, 20))
        let (delay, overflow) = rule.backoff.nanoseconds.multipliedReportingOverflow(by: factor)
        return .nanoseconds(overflow ? .max : delay)
    }

    /// Stops starting jobs of file messages (they wait in `work/` for the next start) but goes on
    /// with lines for `grace`; then stops every running handler (SIGTERM, then SIGKILL). Once none
    /// is left, every message not settled is put back and logged `putback`, and `done` is called.
    func shutdown(grace: Duration, done: @escaping () -> Void) {
        stopping = true
        whenIdle = { [weak self] in
            self?.graceOver = true
            self?.putBackUnsettled()
            done()
        }
        pump()
        guard whenIdle != nil else { return }
        graceTimer = context.loop.schedule(after: grace) { [weak self] in self?.endGrace() }
    }

    /// Ends the grace now (its timer, or a second SIGTERM): running handlers are terminated,
    /// and killed 2 s later if they are still there.
    func endGrace() {
        if let graceTimer { context.loop.cancel(graceTimer) }
        graceTimer = nil
        guard stopping, !graceOver, running > 0 else { return }
        graceOver = true
        for run in inFlight.values { run.terminate() }
        context.loop.schedule(after: .seconds(2)) { [weak self] in
            for run in self?.inFlight.values ?? [:].values { run.kill() }
        }
    }

    /// Logs where each message the daemon could not finish is kept: `putback`, not `fail`, for
    /// a handler the daemon stopped, since the message is dispatched again (or retried by hand).
    private func putBackUnsettled() {
        let left = unsettled.values.sorted { $0.message.id.lexicographicallyPrecedes($1.message.id) }
        unsettled.removeAll()
        for delivery in left {
            let message = delivery.message
            let stopped = delivery.interrupted.map { String($0.line) }.joined(separator: ",")
            guard let kept = delivery.putBack(delivery) else {
                // A node or gone event has nothing to keep: its stopped handlers failed.
                if !stopped.isEmpty {
                    context.log.record("fail", name: message.name, [("id", message.id), ("rule", stopped), ("err", "stopped with the daemon")])
                }
                continue
            }
            var fields: [(String, any LogValue)] = [("id", message.id), ("name", message.name), ("kept", kept)]
            if !stopped.isEmpty { fields.append(("stopped", stopped)) }
            fields.append(("err", stopped.isEmpty ? "the daemon stopped before every rule was done with it" : "the daemon stopped its handlers"))
            context.log.record("putback", name: message.name, fields)
        }
    }
}
