/// A Swift handler running for one job, as a task on Swift's cooperative pool; its end is
/// posted back to the event loop.
///
/// A timeout cancels the task and counts the run as failed at once. Cancellation is
/// cooperative: a handler that awaits (`Task.sleep`, async I/O) stops there; one that blocks
/// a thread or loops without checking `Task.isCancelled` runs on in the background, and
/// whatever it does after the timeout no longer counts.
final class SwiftHandlerRun: HandlerRun {
    private let job: Job
    private let context: RunContext
    private let completion: (RunOutcome) -> Void
    private var task: Task<Void, Never>?
    private var timeoutTimer: EventLoop.TimerID?
    private var finished = false
    private let started = MonotonicInstant.now()

    init(job: Job, context: RunContext, completion: @escaping (RunOutcome) -> Void) {
        self.job = job
        self.context = context
        self.completion = completion
    }

    func start(_ entry: HandlerRegistry.Entry, name: String, arguments: [ArgumentTemplate]) {
        let message = job.message
        let layout = context.layout
        let services = HandlerServices(broadcaster: context.broadcaster)
        var value = SpoolMessage(
            name: message.name, event: message.event, type: message.type, id: text(message.id),
            attempt: job.attempt, rule: job.rule.line, peer: message.peer, spoolDirectory: layout.root,
            rulesDirectory: context.workingDirectory, path: message.path(in: layout),
            arguments: arguments.map { $0.expand { message.value(of: $0, in: layout) } }, services: services,
            bodyLoader: BodyLoader(message.body))
        value.priority = message.extras.priority
        value.signalValue = message.extras.signalValue
        value.descriptorType = message.extras.descriptor?.kind.rawValue
        context.logRun(job, handler: ("swift:" + name).bytes, pid: nil)
        FaultInjection.reach(.start)
        switch entry {
        case .inline(let handler):
            let result: RunOutcome.Result
            do {
                try handler(value)
                result = .succeeded
            } catch {
                result = .threw("\(error)")
            }
            // Only a `reply` rule's output is used: no lock and copy for the others.
            finish(result, reply: job.rule.reply ? services.replyOutput : [])
        case .task(let handler):
            let loop = context.loop
            let finish = LoopBound(self)
            task = Task {
                let result: RunOutcome.Result
                do {
                    try await handler(value)
                    result = .succeeded
                } catch {
                    result = .threw("\(error)")
                }
                let replies = services.replyOutput
                loop.post { finish.value?.finish(result, reply: replies) }
            }
            timeoutTimer = loop.schedule(after: job.rule.timeout) { [weak self] in self?.timeOut() }
        }
    }

    func terminate() { task?.cancel() }

    /// A task cannot be killed: it is cancelled and the run ends now, so that a handler stuck
    /// in a blocking call cannot keep the daemon from stopping.
    func kill() {
        task?.cancel()
        finish(.threw("cancelled at shutdown"), reply: [])
    }

    private func timeOut() {
        task?.cancel()
        finish(.timedOut(job.rule.timeout), reply: [])
    }

    private func finish(_ result: RunOutcome.Result, reply: [UInt8]) {
        guard !finished else { return }
        finished = true
        if let timeoutTimer { context.loop.cancel(timeoutTimer) }
        var outcome = RunOutcome(result: result, milliseconds: MonotonicInstant.now().duration(since: started).milliseconds)
        if job.rule.reply { outcome.replyOutput = reply }
        completion(outcome)
    }
}

/// Carries a loop-owned object through a task and back to the loop, where alone it is used.
extension MessageBody: @unchecked Sendable {
    /// The body's bytes: read from the file for file messages (off the event loop).
    func read() throws -> [UInt8] {
        switch self {
        case .claimedFile(let file): return try file.read()
        case .stateFile(let file):
            let fd = try file.open()
            defer { fd.close() }
            return try fd.readAll()
        case .line(let line): return line
        case .none: return []
        }
    }
}
