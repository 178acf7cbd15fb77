/// The worker processes of every `worker` rule: started on a rule's first message, reused for
/// the next, restarted with backoff when they keep dying, retired when the rule changes, and
/// stopped with the daemon.
final class WorkerPools {
    private let context: RunContext
    private var pools: [RuleIdentity: WorkerPool] = [:]
    /// Set while stopping: called once no worker process is left.
    private var whenGone: (() -> Void)?

    init(context: RunContext) {
        self.context = context
    }

    /// Hands `request` to a worker of its rule, starting one if none is idle.
    func start(_ request: WorkerRequest) {
        let rule = request.job.rule
        let pool = pools[rule.identity] ?? {
            let pool = WorkerPool(context: context) { [weak self] in self?.poolEmptied() }
            pools[rule.identity] = pool
            return pool
        }()
        pool.start(request)
    }

    /// After a reload: the workers of a rule that is gone or changed finish their request and
    /// exit (their stdin closed); the next message starts a new one.
    func rulesChanged(_ rules: RuleSet) {
        let current = Dictionary(rules.rules.filter(\.worker).map { ($0.identity, WorkerSettings($0)) }, uniquingKeysWith: { first, _ in first })
        for (identity, pool) in pools {
            pool.retire(unless: current[identity])
        }
    }

    /// At shutdown, once no request is left: every worker's stdin is closed; one still there at
    /// `deadline` is sent SIGTERM, then SIGKILL. `done` is called once all have exited.
    func stop(by deadline: MonotonicInstant, done: @escaping () -> Void) {
        let patience = max(.zero, deadline.duration(since: MonotonicInstant.now()))
        for pool in pools.values { pool.retire(unless: nil, patience: patience) }
        whenGone = done
        poolEmptied()
    }

    /// A second SIGTERM: workers retiring at shutdown get SIGTERM now rather than at the grace's end.
    func hurry() {
        guard whenGone != nil else { return }
        for process in pools.values.flatMap(\.processes) { process.retire(patience: .zero, restart: true) }
    }

    /// `worker=pid:P,rule:N,state:S,served:C,inflight:K` for each process, for `status`.
    var statusFacts: [(String, any LogValue)] {
        pools.values.flatMap(\.processes).sorted { $0.pid < $1.pid }.map { process in
            ("worker", "pid:\(process.pid),rule:\(process.settings.line),state:\(process.state.rawValue),served:\(process.served),inflight:\(process.inFlight)")
        }
    }

    private func poolEmptied() {
        guard let whenGone, pools.values.allSatisfy(\.processes.isEmpty) else { return }
        self.whenGone = nil
        whenGone()
    }
}

/// The worker processes of one rule.
final class WorkerPool {
    private let context: RunContext
    private(set) var processes: [WorkerProcess] = []
    /// Deaths in a row of processes that never answered: what the restart's backoff grows with.
    /// A worker that answered once and then died is started again at once.
    private var deaths = 0
    private var restartAt: MonotonicInstant?
    private var restartTimer: EventLoop.TimerID?
    /// Requests waiting for the restart of a worker that keeps dying.
    private var waiting: [WorkerRequest] = []
    /// What the last reload wants this rule's workers started from (`.some(nil)`: the rule is
    /// gone, or the daemon stops); `nil` until a reload or stop says.
    private var wanted: WorkerSettings??
    private let emptied: () -> Void

    /// The first restart's delay after a worker died without answering, doubled for each
    /// further one, up to `longestRestartDelay`.
    static let firstRestartDelay: Duration = .milliseconds(100)
    static let longestRestartDelay: Duration = .seconds(30)

    init(context: RunContext, emptied: @escaping () -> Void) {
        self.context = context
        self.emptied = emptied
    }

    /// Gives `request` to an idle process; else starts another while fewer than `concurrency=`
    /// are there; else queues it behind the requests of the least busy one with room in its
    /// `pipeline=`. The dispatcher lets no more requests in flight than all of them hold.
    func start(_ request: WorkerRequest) {
        if restartTimer != nil {
            request.startWaiting()
            waiting.append(request)
            return
        }
        let rule = request.job.rule
        let settings = WorkerSettings(rule)
        var live = 0
        var idle: WorkerProcess?
        var leastBusy: WorkerProcess?
        for process in processes where process.state != .retiring && process.settings == settings {
            live += 1
            if process.inFlight == 0 {
                idle = process
                break
            }
            if process.inFlight < rule.pipeline, leastBusy.map({ process.inFlight < $0.inFlight }) ?? true { leastBusy = process }
        }
        if let idle { return request.send(to: idle) }
        if let leastBusy, live >= (rule.concurrency ?? 1) { return request.send(to: leastBusy) }
        if let restartAt, MonotonicInstant.now() < restartAt {
            // A worker that keeps dying is started again only after the backoff; the request
            // waits for it (within its timeout) rather than spend an attempt.
            request.startWaiting()
            waiting.append(request)
            restartTimer = context.loop.schedule(after: restartAt.duration(since: MonotonicInstant.now())) { [weak self] in
                self?.restartWaiting()
            }
            return
        }
        spawn(for: request)
    }

    private func restartWaiting() {
        restartTimer = nil
        restartAt = nil
        let requests = waiting
        waiting.removeAll()
        for request in requests where !request.isFinished {
            start(request)
        }
    }

    private func spawn(for request: WorkerRequest) {
        let rule = request.job.rule
        let process: WorkerProcess
        do {
            process = try WorkerProcess(rule: rule, settings: WorkerSettings(rule), context: context)
        } catch let error as SystemError where error.exhaustedResource != nil {
            return request.finish(.lackedResources(error), reply: nil)
        } catch {
            return request.finish(.couldNotStart("\(error)"), reply: nil)
        }
        process.onExit = { [weak self] process, termination, endedByDaemon in
            self?.exited(process, termination, endedByDaemon: endedByDaemon)
        }
        processes.append(process)
        context.log.record("worker", [("rule", rule.line), ("pid", process.pid), ("state", "started")])
        request.send(to: process)
        // A request that waited out a restart across a reload still runs as its rule was; its
        // worker then exits.
        if let wanted, wanted != process.settings { process.retire(patience: ProgramRun.killDelay) }
    }

    /// Retires the processes not started from `settings` (all when nil): idle ones now, busy
    /// ones once their request is done.
    func retire(unless settings: WorkerSettings?, patience: Duration = ProgramRun.killDelay) {
        wanted = .some(settings)
        for process in processes where process.settings != settings {
            process.retire(patience: patience)
        }
    }

    private func exited(_ process: WorkerProcess, _ termination: Termination, endedByDaemon: Bool) {
        processes.removeAll { $0 === process }
        var fields: [(String, any LogValue)] = [("rule", process.settings.line), ("pid", process.pid), ("state", "exited")]
        fields += RunOutcome(result: .exited(termination), milliseconds: 0).logFields
        fields.append(("served", process.served))
        if !endedByDaemon {
            if process.served == 0 {
                deaths += 1
                let factor = Int64(1) << Int64(min(deaths - 1, 20))
                let delay = min(Self.firstRestartDelay * factor, Self.longestRestartDelay)
                restartAt = MonotonicInstant.now().advanced(by: delay)
                fields.append(("restart_in", formatDuration(delay)))
                fields.append(("err", "the worker \(termination) without answering (\(deaths) in a row)"))
            } else {
                deaths = 0
                restartAt = nil
                fields.append(("err", "the worker \(termination)"))
            }
        }
        context.log.record(endedByDaemon ? "worker" : "error", fields)
        if processes.isEmpty { emptied() }
    }
}
