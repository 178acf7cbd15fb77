/// What starts a job's run, as the dispatcher sees it.
protocol RunStarter: AnyObject {
    /// Starts `job`; `completion` is called once, on the loop, when the run ends (perhaps before
    /// this returns). Returns the run while it goes on, for a stop at shutdown.
    func start(_ job: Job, completion: @escaping (RunOutcome) -> Void) -> HandlerRun?
}

/// The kinds of run a rule's handler can be, and the one place a job's kind is chosen: a
/// program started for the message, a Swift handler built into this binary, a request to a
/// long-lived worker process of the rule, or a message published to an MQTT broker.
final class HandlerRuns: RunStarter {
    private let context: RunContext
    private let handlers: HandlerRegistry
    private let brokers: MQTTBrokers
    /// The processes of `worker` rules.
    let workers: WorkerPools

    init(context: RunContext, handlers: HandlerRegistry, brokers: MQTTBrokers) {
        self.context = context
        self.handlers = handlers
        self.brokers = brokers
        workers = WorkerPools(context: context)
    }

    func start(_ job: Job, completion: @escaping (RunOutcome) -> Void) -> HandlerRun? {
        switch job.rule.handler {
        case .program where job.rule.worker:
            let request = WorkerRequest(job: job, context: context, completion: completion)
            workers.start(request)
            return request
        case .program(let program, let arguments):
            let run = ProgramRun(job: job, context: context, completion: completion)
            run.start(program: program, arguments: arguments)
            return run
        case .swift(let name, let arguments):
            guard let entry = handlers.entry(named: name) else {
                completion(RunOutcome(result: .couldNotStart("no Swift handler named '\(name)' in this binary"), milliseconds: 0))
                return nil
            }
            let run = SwiftHandlerRun(job: job, context: context, completion: completion)
            run.start(entry, name: name, arguments: arguments)
            return run
        case .mqtt(let spec):
            let run = MQTTPublishRun(job: job, context: context, completion: completion)
            run.start(spec, broker: brokers.connection(named: spec.broker))
            return run
        }
    }
}
