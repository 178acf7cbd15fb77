/// One message's request to a worker of its rule: the run the dispatcher sees for a `worker`
/// rule. Its timeout is per request: the worker's process group is killed and the request fails
/// once the process is gone (the pool starts another for the next request).
final class WorkerRequest: HandlerRun {
    let job: Job
    private let context: RunContext
    private let completion: (RunOutcome) -> Void
    private let started = MonotonicInstant.now()
    private var timeoutTimer: EventLoop.TimerID?
    /// The process working on it.
    private var process: WorkerProcess?

    init(job: Job, context: RunContext, completion: @escaping (RunOutcome) -> Void) {
        self.job = job
        self.context = context
        self.completion = completion
    }

    private(set) var isFinished = false

    /// Starts the request's clock: it covers a wait for a worker's restart too.
    func startTimeout() {
        guard timeoutTimer == nil else { return }
        timeoutTimer = context.loop.schedule(after: job.rule.timeout) { [weak self] in
            guard let self else { return }
            self.timeoutTimer = nil
            let result = RunOutcome.Result.timedOut(self.job.rule.timeout)
            if let process = self.process { process.abandon(result) } else { self.finish(result, reply: nil) }
        }
    }

    /// Sends the request to `process`, an idle worker of the job's rule.
    func send(to process: WorkerProcess) {
        self.process = process
        context.logRun(job, handler: context.displayName(of: job.rule.handlerProgram), pid: process.pid)
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
        if let timeoutTimer { context.loop.cancel(timeoutTimer) }
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
