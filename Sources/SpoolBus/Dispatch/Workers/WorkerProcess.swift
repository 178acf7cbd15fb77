/// One worker process of a rule: started once, given requests on its stdin (one at a time, or
/// up to `pipeline=` written ahead), its answers read from its stdout in order, its stderr
/// logged as `out` lines (bounded per request, as a one-shot run's are, and attributed to the
/// oldest request unanswered when they are read), its end seen through a pidfd.
///
/// A request ends when the worker answers it, or when the process has ended (reaped): a timeout
/// or a protocol error kills the process group first, so no request of a rule's slot overlaps
/// the process that may still be working on the one before. The end of a process ends every
/// request it holds.
final class WorkerProcess {
    enum State: String {
        /// Waiting for a request.
        case idle
        /// Requests are in flight.
        case busy
        /// Its stdin is closed, or will be once its requests are answered (reload, shutdown):
        /// it finishes and exits.
        case retiring
    }

    let pid: Int32
    /// What it was started from: a reload that changes this retires it.
    let settings: WorkerSettings
    let started = MonotonicInstant.now()
    private(set) var state = State.idle
    /// Requests answered.
    private(set) var served = 0
    /// Called once the process has ended and been reaped, with whether the daemon ended it.
    var onExit: (WorkerProcess, Termination, _ endedByDaemon: Bool) -> Void = { _, _, _ in }

    private let context: RunContext
    private let rule: Rule
    private let child: ChildProcess
    private var input: FileDescriptor?
    private let answers: FileDescriptor
    private var errors: FileDescriptor?
    private var readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    /// What the worker wrote on stdout and no answer took yet, from `inboxStart` on.
    private var inbox = Bytes()
    private var inboxStart = 0
    /// Request lines not written yet, from `unsentOffset` on: those queued in one iteration of the
    /// loop go in one `write`.
    private var unsent = Bytes()
    private var unsentOffset = 0
    private var watchingInput = false
    private var flushQueued = false
    /// The requests written and not answered, oldest first: answers come in this order.
    private var requests = FIFOQueue<WorkerRequest>()
    /// Since when the oldest of `requests` has been the oldest: its `timeout=` runs from there.
    private var oldestSince = MonotonicInstant.now()
    /// One timer for the process, not one per request: when it fires it checks the oldest
    /// request's deadline and, if that is not reached, waits again for what is left. An answer
    /// only moves `oldestSince`; a process still idle at the end of the loop's iteration (not handed
    /// the next request in the same iteration) cancels it, so an idle daemon keeps no timer.
    private var clockTimer: EventLoop.TimerID?
    private var clockDue: MonotonicInstant?
    private var idleCheckQueued = false
    /// Its entry in `.spoolbus/runs/`, for its whole life (`RunRecords`).
    private var record: RunRecord?
    /// A `reply LENGTH` line was read: its bytes follow.
    private var replyLength: Int?
    /// Why the daemon killed it, for the oldest request in flight.
    private var fault: RunOutcome.Result?
    private var endedByDaemon = false
    private var errorCapture = OutputCapture(stream: "stderr")
    private var stopTimer: EventLoop.TimerID?
    private var exitPollTimer: EventLoop.TimerID?
    private var reaped = false

    /// Requests written to it and not answered yet.
    var inFlight: Int { requests.count }
    /// Its program as each request's `run` line shows it: made once, not per request.
    let handlerShown: Bytes

    /// Starts the rule's program with pipes on stdin, stdout and (unless `output=discard`)
    /// stderr. Throws when it could not be started.
    init(rule: Rule, settings: WorkerSettings, context: RunContext) throws {
        self.rule = rule
        self.settings = settings
        self.context = context
        handlerShown = context.displayName(of: rule.handlerProgram)
        guard case .program(let program, let arguments) = rule.handler else {
            throw SpoolBusError("a worker needs a program")
        }
        let credentials = try rule.user.map(context.credentials)
        var ends: [FileDescriptor] = []
        var kept: [FileDescriptor] = []
        defer { for fd in ends { fd.close() } }
        do {
            let requests = try FileDescriptor.pipe(nonBlocking: false)
            ends.append(requests.readEnd)
            kept.append(requests.writeEnd)
            let replies = try FileDescriptor.pipe(nonBlocking: false)
            ends.append(replies.writeEnd)
            kept.append(replies.readEnd)
            var stderrEnd: FileDescriptor?
            if rule.output == .log {
                let pipe = try FileDescriptor.pipe(nonBlocking: false)
                ends.append(pipe.writeEnd)
                kept.append(pipe.readEnd)
                stderrEnd = pipe.writeEnd
                errors = pipe.readEnd
            }
            for fd in kept { try fd.setNonBlocking() }
            var environment = context.environment.forUser(credentials)
            environment.set("SPOOL_DIR", context.layout.root)
            environment.set("SPOOL_RULE", String(rule.line).bytes)
            child = try ChildProcess.spawn(
                program: program, arguments: [program] + arguments.map { $0.expand { _ in [] } }, environment: environment.entries,
                directory: context.workingDirectory, stdin: requests.readEnd, stdout: replies.writeEnd, stderr: stderrEnd,
                credentials: credentials)
            input = requests.writeEnd
            answers = replies.readEnd
        } catch {
            for fd in kept { fd.close() }
            readBuffer.deallocate()
            throw error
        }
        pid = child.pid
        record = context.runRecords?.workerStarted(pid: pid, startTicks: child.startTicks)
        // After the spawn nothing may fail the start. A worker whose answers or stderr the loop
        // cannot watch (epoll out of memory, max_user_watches) would hang on a full pipe: it is
        // killed, said, and its requests fail and are retried like a crash's. Its end is polled
        // for when the pidfd cannot be watched.
        do {
            try context.loop.register(answers, for: .readable) { [weak self] _ in self?.readAnswers() }
            if let errors { try context.loop.register(errors, for: .readable) { [weak self] _ in self?.readErrors() } }
        } catch {
            cannotWatch(error)
        }
        if let pidfd = child.exitDescriptor, (try? context.loop.register(pidfd, for: .readable) { [weak self] _ in self?.exited() }) != nil {
            return
        }
        pollForExit(after: ProgramRun.firstExitPoll)
    }

    deinit { readBuffer.deallocate() }

    /// Hands the worker a request: written at once when none is in flight, else queued behind
    /// the others and written with them at the end of the loop's iteration.
    func send(_ request: WorkerRequest) {
        let wasEmpty = requests.isEmpty
        requests.append(request)
        if state == .idle { state = .busy }
        WorkerProtocol.appendRequest(for: request.job.message, in: context.layout, to: &unsent)
        if wasEmpty {
            oldestSince = Self.clockStart(of: request)
            armClock(for: request)
            writeRequests()
        } else if !flushQueued && !watchingInput {
            flushQueued = true
            context.loop.atEndOfIteration { [weak self] in
                guard let self else { return }
                self.flushQueued = false
                self.writeRequests()
            }
        }
    }

    /// Ends the process because of its oldest request (its timeout, a protocol error): the group
    /// is killed, and the request ends with `result` once the process is reaped.
    func abandon(_ result: RunOutcome.Result) {
        // Once reaped, its pid (and group id) may be another process's.
        guard !reaped else { return }
        if fault == nil { fault = result }
        endedByDaemon = true
        child.signalGroup(ProcessSignal.kill)
    }

    /// Signals the process group (shutdown's SIGTERM and SIGKILL).
    func signal(_ signal: Int32) {
        guard !reaped else { return }
        endedByDaemon = true
        child.signalGroup(signal)
    }

    /// Closes its stdin so that it exits once done; SIGTERM to its group if it has not after
    /// `patience`, SIGKILL after `ProgramRun.killDelay` more. `restart`: replaces a countdown
    /// already running with this one.
    func retire(patience: Duration, restart: Bool = false) {
        guard !reaped else { return }
        if requests.isEmpty { closeInput() }
        state = .retiring
        endedByDaemon = true
        if restart, let stopTimer {
            context.loop.cancel(stopTimer)
            self.stopTimer = nil
        }
        if stopTimer == nil {
            stopTimer = context.loop.schedule(after: patience) { [weak self] in
                guard let self else { return }
                self.child.signalGroup(ProcessSignal.terminate)
                self.stopTimer = self.context.loop.schedule(after: ProgramRun.killDelay) { [weak self] in
                    self?.child.signalGroup(ProcessSignal.kill)
                }
            }
        }
    }

    // MARK: - Requests out

    private func writeRequests() {
        guard let input else { return }
        while unsentOffset < unsent.count {
            let written: Int?
            do {
                written = try unsent.withUnsafeBytes { try input.write(UnsafeRawBufferPointer(rebasing: $0[unsentOffset...])) }
            } catch {
                // The worker closed its stdin or ended: its end says what became of the requests.
                closeInput()
                return
            }
            guard let written else {
                // The pipe is full (a pipeline deeper than its buffer, a worker that does not
                // read): the rest goes when the worker has read some.
                if !watchingInput {
                    do {
                        try context.loop.register(input, for: .writable) { [weak self] _ in self?.writeRequests() }
                        watchingInput = true
                    } catch {
                        cannotWatch(error)
                    }
                }
                return
            }
            unsentOffset += written
        }
        unsent.removeAll(keepingCapacity: unsent.capacity <= 65536)
        unsentOffset = 0
        if watchingInput {
            context.loop.unregister(input)
            watchingInput = false
        }
    }

    // MARK: - Timeouts

    /// Makes sure the clock fires by the deadline of `oldest`, the oldest request now.
    private func armClock(for oldest: WorkerRequest) {
        let due = oldestSince.advanced(by: oldest.job.rule.timeout)
        if let clockDue, clockDue <= due { return }
        if let clockTimer { context.loop.cancel(clockTimer) }
        clockDue = due
        clockTimer = context.loop.schedule(after: max(.zero, due.duration(since: MonotonicInstant.now()))) { [weak self] in
            self?.clockFired()
        }
    }

    private func stopClockIfIdle() {
        idleCheckQueued = false
        guard requests.isEmpty, let clockTimer else { return }
        context.loop.cancel(clockTimer)
        self.clockTimer = nil
        clockDue = nil
    }

    private func clockFired() {
        clockTimer = nil
        clockDue = nil
        guard !reaped, fault == nil, let oldest = requests.first else { return }
        let timeout = oldest.job.rule.timeout
        if MonotonicInstant.now().duration(since: oldestSince) >= timeout {
            abandon(.timedOut(timeout))
        } else {
            armClock(for: oldest)
        }
    }

    /// The loop cannot watch one of its pipes: it is killed, and that is said.
    private func cannotWatch(_ error: any Error) {
        context.log.record("error", [("rule", rule.line), ("pid", pid), ("err", "cannot watch the worker's pipes (\(error)); killed")])
        endedByDaemon = true
        child.signalGroup(ProcessSignal.kill)
    }

    private func closeInput() {
        guard let input else { return }
        if watchingInput { context.loop.unregister(input) }
        watchingInput = false
        input.close()
        self.input = nil
    }

    // MARK: - Answers in

    private func readAnswers() {
        for _ in 0..<16 {
            let count: Int?
            do { count = try answers.read(into: readBuffer) } catch { count = 0 }
            guard let n = count else { return }
            if n == 0 {
                context.loop.unregister(answers)
                return
            }
            inbox.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[..<n]))
            // What the worker wrote on stderr before these answers is in its pipe now: read
            // once for the batch, it is the oldest request's.
            readErrors()
            takeAnswers()
            // A pipe's read returns all it holds up to the buffer's size: a short one emptied it,
            // and the loop says when more comes (no read that finds nothing).
            if fault != nil || n < readBuffer.count { return }
        }
    }

    /// Takes every complete answer in the inbox, in order.
    private func takeAnswers() {
        while fault == nil, inboxStart < inbox.count {
            guard let request = requests.first else {
                return protocolError("it wrote \(describe(inbox[inboxStart...])) with no request in flight")
            }
            if let length = replyLength {
                guard inbox.count - inboxStart >= length else { break }
                let reply = Bytes(inbox[inboxStart..<(inboxStart + length)])
                inboxStart += length
                replyLength = nil
                answered(request, .succeeded, reply: reply)
                continue
            }
            guard let newline = inbox[inboxStart...].firstIndex(of: UInt8(ascii: "\n")) else {
                if inbox.count - inboxStart > WorkerProtocol.longestAnswerLine {
                    protocolError("an answer line longer than \(WorkerProtocol.longestAnswerLine) bytes")
                }
                break
            }
            let line = inbox[inboxStart..<newline]
            inboxStart = newline + 1
            switch WorkerProtocol.answer(line) {
            case .ok: answered(request, .succeeded, reply: nil)
            case .fail(let reason): answered(request, .answeredFail(reason), reply: nil)
            case .reply(let length) where length <= WorkerProtocol.longestReply: replyLength = length
            case .reply(let length): protocolError("a reply of \(length) bytes, more than \(WorkerProtocol.longestReply)")
            case nil: protocolError("it answered \(describe(line)), not ok, fail [REASON] or reply LENGTH")
            }
        }
        if inboxStart == inbox.count {
            inbox.removeAll(keepingCapacity: inbox.capacity <= 65536)
            inboxStart = 0
        }
    }

    private func answered(_ request: WorkerRequest, _ result: RunOutcome.Result, reply: Bytes?) {
        _ = requests.removeFirst()
        served += 1
        let tail = closeErrorCapture(for: request)
        if requests.isEmpty {
            if state == .busy { state = .idle }
            if state == .retiring { closeInput() }
            if clockTimer != nil && !idleCheckQueued {
                idleCheckQueued = true
                context.loop.atEndOfIteration { [weak self] in self?.stopClockIfIdle() }
            }
        } else {
            // The next one's clock starts now, less what it waited for a restart (which counts
            // toward its timeout wherever it is queued); the process's timer finds it when it fires.
            oldestSince = requests.first.map(Self.clockStart) ?? MonotonicInstant.now()
            if let next = requests.first { armClock(for: next) }
        }
        request.finish(result, errorLines: tail, reply: reply)
    }

    /// When `request`'s timeout began, as it becomes the oldest: now, less its wait for a restart.
    private static func clockStart(of request: WorkerRequest) -> MonotonicInstant {
        MonotonicInstant.now().advanced(by: .zero - request.waited)
    }

    private func protocolError(_ why: String) {
        context.log.record("error", name: requests.first?.job.message.name, [
            ("rule", rule.line), ("pid", pid), ("err", "worker protocol error: \(why); killed"),
        ])
        abandon(.protocolError(why))
    }

    /// Up to 64 bytes of what the worker wrote, in the log's escapes.
    private func describe(_ bytes: ArraySlice<UInt8>) -> String {
        var shown = Bytes()
        LogEscaping.append(Bytes(bytes.prefix(64)), to: &shown)
        return text(shown) + (bytes.count > 64 ? "…" : "")
    }

    // MARK: - Stderr

    private func readErrors() {
        guard let errors else { return }
        for _ in 0..<16 {
            let count: Int?
            do { count = try errors.read(into: readBuffer) } catch { count = 0 }
            guard let n = count else { return }
            if n == 0 {
                context.loop.unregister(errors)
                return
            }
            errorCapture.take(UnsafeRawBufferPointer(rebasing: readBuffer[..<n])) { logError($0) }
            if n < readBuffer.count { return }
        }
    }

    private func logError(_ line: Bytes) {
        guard rule.log == .all else { return }
        let request = requests.first
        var fields: [(String, any LogValue)] = []
        if let request { fields.append(("id", request.job.message.id)) }
        fields += [("rule", rule.line), ("pid", pid), ("stream", "stderr"), ("line", line)]
        context.log.record("out", name: request?.job.message.name, fields)
    }

    /// Ends the stderr lines of one request (its last partial line, its truncation) and returns
    /// their tail; the next request starts a fresh count. The lines were read with its answer.
    private func closeErrorCapture(for request: WorkerRequest) -> [Bytes] {
        errorCapture.finish { logError($0) }
        if errorCapture.droppedBytes > 0 && rule.log == .all {
            context.log.record("out", name: request.job.message.name, [
                ("id", request.job.message.id), ("rule", rule.line), ("pid", pid), ("stream", "stderr"),
                ("truncated", errorCapture.droppedBytes),
            ])
        }
        let tail = errorCapture.tail
        errorCapture = OutputCapture(stream: "stderr")
        return tail
    }

    // MARK: - End

    private func pollForExit(after delay: Duration) {
        exitPollTimer = context.loop.schedule(after: delay) { [weak self] in
            guard let self else { return }
            self.exitPollTimer = nil
            if let termination = self.child.exitStatusIfEnded() {
                self.ended(termination)
            } else {
                self.pollForExit(after: min(delay * 2, ProgramRun.slowestExitPoll))
            }
        }
    }

    private func exited() {
        if let pidfd = child.exitDescriptor { context.loop.unregister(pidfd) }
        ended(child.reap())
    }

    private func ended(_ termination: Termination) {
        reaped = true
        state = .retiring
        // Answers written before the end are still in the pipe.
        if fault == nil { readAnswers() }
        if let stopTimer { context.loop.cancel(stopTimer) }
        if let exitPollTimer { context.loop.cancel(exitPollTimer) }
        if let clockTimer { context.loop.cancel(clockTimer) }
        clockTimer = nil
        closeInput()
        context.loop.unregister(answers)
        answers.close()
        if let record { context.runRecords?.ended(record) }
        record = nil
        readErrors()
        if let oldest = requests.removeFirst() {
            let result = fault ?? .workerEnded(termination)
            let unanswered = requests.count + 1
            let tail = closeErrorCapture(for: oldest)
            oldest.finish(result, errorLines: tail, reply: nil)
            // Those behind it were written ahead and may have been read: each is failed (and
            // retried) as one the worker may not have finished.
            let cause = RunOutcome(result: result, milliseconds: 0).cause
            while let behind = requests.removeFirst() {
                behind.finish(.behindEnded(cause: cause, unanswered: unanswered), reply: nil)
            }
        } else {
            errorCapture.finish { logError($0) }
        }
        if let errors {
            context.loop.unregister(errors)
            errors.close()
            self.errors = nil
        }
        onExit(self, termination, endedByDaemon)
    }
}

/// What a worker process is started from; a reload that changes it restarts the worker.
struct WorkerSettings: Equatable {
    let handler: HandlerSpec
    let user: UserSpec?
    let output: OutputMode
    let log: LogMode
    let line: Int

    init(_ rule: Rule) {
        handler = rule.handler
        user = rule.user
        output = rule.output
        log = rule.log
        line = rule.line
    }
}
