/// What every handler run shares: the loop it reports on, the log, the spool, and the
/// environment handler programs start from.
final class RunContext {
    let loop: EventLoop
    let log: DispatchLog
    let layout: SpoolLayout
    /// Handler programs run here: the rules file's folder, against which relative paths in
    /// the rules are resolved too.
    let workingDirectory: Bytes
    /// What handler programs' environments are made from.
    let environment: HandlerEnvironment
    /// Where runs in progress are written down, for a daemon started after this one is killed.
    let runRecords: RunRecords?
    /// Runs of `log=failures` rules not logged `ok` (`ok_unlogged` in `status`).
    var unloggedSuccesses = 0
    /// Hands a record to the `watch` subscribers, from any thread (`swift:broadcast`).
    let broadcaster: @Sendable (LogRecord) -> Void

    init(loop: EventLoop, log: DispatchLog, layout: SpoolLayout, workingDirectory: Bytes, environment: HandlerEnvironment,
         runRecords: RunRecords?) {
        self.loop = loop
        let box = LogBox(log)
        broadcaster = { record in loop.post { box.log.publish(record) } }
        self.log = log
        self.layout = layout
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.runRecords = runRecords
    }
}

extension RunContext {
    /// The program as the rules file wrote it: relative to the rules folder when it is inside it.
    func displayName(of program: Bytes) -> Bytes {
        let prefix = workingDirectory + [UInt8(ascii: "/")]
        return program.starts(with: prefix) ? "./".bytes + program.dropFirst(prefix.count) : program
    }

    /// Logs the start of a run, unless its rule logs only failures.
    func logRun(_ job: Job, handler: Bytes, pid: Int32?) {
        guard job.rule.log == .all else { return }
        var fields: [(String, any LogValue)] = [("id", job.message.id), ("rule", job.rule.line), ("handler", handler)]
        if let pid { fields.append(("pid", pid)) }
        fields.append(("attempt", job.attempt))
        log.record("run", name: job.message.name, fields)
    }

    /// Whom a `user=` rule's handler runs as.
    func credentials(for user: UserSpec) throws -> Credentials {
        guard SystemInfo.isRoot else {
            throw SpoolBusError("user=\(user.user) needs the daemon to run as root")
        }
        guard let credentials = Credentials.lookUp(user: user.user, group: user.group) else {
            throw SpoolBusError("no such user or group: \(user.user)\(user.group.map { ":" + $0 } ?? "")")
        }
        return credentials
    }
}

/// The log, carried to the loop from another thread and used only there.
private final class LogBox: @unchecked Sendable {
    let log: DispatchLog
    init(_ log: DispatchLog) { self.log = log }
}

/// One run of one rule's handler for one message. A class, though it never changes: a job is
/// handed from queue to run to completion, and a copy of a rule and a message is a dozen
/// reference counts each time, one of a job a single one.
final class Job {
    let message: Message
    let rule: Rule
    let attempt: Int

    init(message: Message, rule: Rule, attempt: Int) {
        self.message = message
        self.rule = rule
        self.attempt = attempt
    }
}

/// How a handler run ended.
struct RunOutcome {
    enum Result {
        case succeeded
        case exited(Termination)
        case timedOut(Duration)
        case couldNotStart(String)
        case threw(String)
        /// Descriptors, processes or memory ran out before the handler started: the job waits
        /// and is tried again, without spending an attempt for up to `Dispatcher.longestShortage`.
        case lackedResources(SystemError)
        /// A worker answered `fail`, with its reason (perhaps empty).
        case answeredFail(Bytes)
        /// A worker ended before it answered.
        case workerEnded(Termination)
        /// A worker wrote something that is not an answer, and was killed.
        case protocolError(String)
        /// A request written ahead (`pipeline=`) to a worker that ended before answering it:
        /// `cause` says how the oldest request unanswered ended, `unanswered` how many there were.
        case behindEnded(cause: String, unanswered: Int)
    }

    var result: Result
    var milliseconds: Int64
    /// The last lines the handler wrote to stderr, for `err=` and a dead letter's reason.
    var lastErrorLines: [Bytes] = []
    /// Stdout, for `reply` rules.
    var replyOutput: Bytes?

    var succeeded: Bool {
        if case .succeeded = result { return true }
        return false
    }

    /// The cause in plain words: "exited with status 3", "timed out after 10s", …
    var cause: String {
        switch result {
        case .succeeded: return "exited with status 0"
        case .exited(let termination): return termination.description
        case .timedOut(let limit): return "timed out after " + formatDuration(limit)
        case .couldNotStart(let why): return "could not start: " + why
        case .threw(let why): return "threw: " + why
        case .lackedResources(let error): return "could not start yet: \(error)"
        case .answeredFail(let reason): return reason.isEmpty ? "the worker answered fail" : "the worker answered fail: " + text(reason)
        case .workerEnded(let termination): return "the worker \(termination) before it answered"
        case .protocolError(let why): return "protocol error: " + why
        case .behindEnded(let cause, let unanswered):
            return "the worker ended with \(unanswered) requests unanswered, this one written ahead (the oldest: \(cause))"
        }
    }

    /// The log fields that say how it ended: `exit=N`, `signal=NAME`, `timeout=D` or `err=…`.
    var logFields: [(String, any LogValue)] {
        switch result {
        case .succeeded: return [("exit", 0)]
        case .exited(.exited(let status)), .workerEnded(.exited(let status)): return [("exit", Int(status))]
        case .exited(.signaled(let signal)), .workerEnded(.signaled(let signal)): return [("signal", signalName(signal))]
        case .timedOut(let limit): return [("timeout", formatDuration(limit))]
        case .couldNotStart, .threw, .lackedResources, .answeredFail, .protocolError, .behindEnded: return []
        }
    }

    /// A short error for the `err=` field: the handler's last stderr line, or the cause.
    var errorSummary: Bytes {
        switch result {
        case .couldNotStart, .threw, .timedOut, .lackedResources, .protocolError, .behindEnded: return cause.bytes
        case .answeredFail(let reason) where !reason.isEmpty: return reason
        default: return lastErrorLines.last ?? cause.bytes
        }
    }
}

/// A handler run in progress, which the dispatcher can stop at shutdown.
protocol HandlerRun: AnyObject {
    /// Asks the handler to stop now (SIGTERM to a program's group, cancellation of a task).
    func terminate()
    /// Stops it without further notice (SIGKILL).
    func kill()
}
