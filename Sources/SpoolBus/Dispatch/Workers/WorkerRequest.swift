/// One message's request to a worker of its rule: the run the dispatcher sees for a `worker`
/// rule. Its timeout is per request and kept by its process (for the oldest request it holds);
/// a request that waits for a worker's restart keeps a timer of its own while it waits. At its
/// timeout the worker's process group is killed and the request fails once the process is gone
/// (the pool starts another for the next request).
final class WorkerRequest: HandlerRun {
    let job: Job
    private let context: RunContext
    private let completion: (RunOutcome) -> Void
    private let started = MonotonicInstant.now()
    /// While it waits for a worker's restart: when the wait began, and its timer.
    private var waitingSince: MonotonicInstant?
    private var waitTimer: EventLoop.TimerID?
    /// The process working on it.
    private var process: WorkerProcess?
    /// How long it waited for a worker's restart before it was sent: spent of its timeout.
    private(set) var waited: Duration = .zero

    init(job: Job, context: RunContext, completion: @escaping (RunOutcome) -> Void) {
        self.job = job
        self.context = context
        self.completion = completion
    }

    private(set) var isFinished = false

    /// Starts the request's clock while it waits for a worker's restart: the wait counts
    /// toward its timeout, which goes on in the process that takes it.
    func startWaiting() {
        guard waitTimer == nil else { return }
        if waitingSince == nil { waitingSince = MonotonicInstant.now() }
        let left = job.rule.timeout - MonotonicInstant.now().duration(since: waitingSince!)
        waitTimer = context.loop.schedule(after: max(.zero, left)) { [weak self] in
            guard let self else { return }
            self.waitTimer = nil
            self.finish(.timedOut(self.job.rule.timeout), reply: nil)
        }
    }

    /// Sends the request to `process`, a worker of the job's rule with room for it.
    func send(to process: WorkerProcess) {
        if let waitTimer { context.loop.cancel(waitTimer) }
        waitTimer = nil
        if let waitingSince { waited = MonotonicInstant.now().duration(since: waitingSince) }
        self.process = process
        context.logRun(job, handler: process.handlerShown, pid: process.pid)
        FaultInjection.reach(.start)
        process.send(self)
    }

    /// Stops the worker working on it; a request still waiting for a worker ends now.
    func terminate() {
        if let process { process.signal(ProcessSignal.terminate) } else { stopWaiting() }
    }

    func kill() {
        if let process { process.signal(ProcessSignal.kill) } else { stopWaiting() }
    }

    private func stopWaiting() {
        finish(.couldNotStart("the daemon stopped before a worker took it"), reply: nil)
    }

    /// Ends the request: called by its process, or by the pool when no process could take it.
    func finish(_ result: RunOutcome.Result, errorLines: [Bytes] = [], reply: Bytes?) {
        guard !isFinished else { return }
        isFinished = true
        if let waitTimer { context.loop.cancel(waitTimer) }
        waitTimer = nil
        process = nil
        var outcome = RunOutcome(result: result, milliseconds: MonotonicInstant.now().duration(since: started).milliseconds)
        outcome.lastErrorLines = errorLines
        if job.rule.reply { outcome.replyOutput = reply ?? [] }
        completion(outcome)
    }
}

extension Rule {
    /// The program of a program rule (empty for a Swift handler).
    var handlerProgram: Bytes {
        if case .program(let program, _) = handler { return program }
        return []
    }
}
