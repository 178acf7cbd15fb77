/// A handler program running for one job: spawned directly (never through a shell), its
/// output read line by line into the log, its exit seen through a pidfd, its timeout enforced
/// on its whole process group.
final class ProgramRun: HandlerRun {
    private let job: Job
    private let context: RunContext
    private let completion: (RunOutcome) -> Void
    private var child: ChildProcess?
    /// The daemon's ends of the output pipes, each closed at its end of file or when the run ends.
    private var outputs: [(descriptor: FileDescriptor, capture: OutputCapture, widened: Bool, open: Bool)] = []
    /// Where output is read into; one per run, grown for a flood.
    private var readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ProgramRun.readSize, alignment: 16)
    private var timeoutTimer: EventLoop.TimerID?
    private var killTimer: EventLoop.TimerID?
    private var exitPollTimer: EventLoop.TimerID?
    /// Pipes of a flood left to fill, and when they are watched again.
    private var fillTimers: [ObjectIdentifier: EventLoop.TimerID] = [:]
    /// This run's slot in `.spoolbus/runs/table`, freed once it is reaped.
    private var runRecord: RunRecord?
    private var timedOut = false
    private let started = MonotonicInstant.now()
    private var finished = false

    /// How long a handler has between SIGTERM and SIGKILL.
    static let killDelay: Duration = .seconds(5)

    init(job: Job, context: RunContext, completion: @escaping (RunOutcome) -> Void) {
        self.job = job
        self.context = context
        self.completion = completion
    }

    deinit { readBuffer.deallocate() }

    /// Spawns the program; reports a failure to start through `completion` like any other end,
    /// and a lack of descriptors, processes or memory before the spawn as `.lackedResources`, so
    /// the job waits instead of spending an attempt.
    func start(program: Bytes, arguments: [ArgumentTemplate]) {
        let message = job.message
        let layout = context.layout
        let argv = [program] + arguments.map { $0.expand { message.value(of: $0, in: layout) } }
        var childEnds: [FileDescriptor] = []
        // The parent's copies of what the child gets: closed once it has them, or on failure.
        defer { for fd in childEnds { fd.close() } }
        let child: ChildProcess
        do {
            let credentials = try job.rule.user.map(context.credentials)
            let stdin = try standardInput()
            if let stdin { childEnds.append(stdin) }
            var childOutput: [FileDescriptor?] = [nil, nil]
            if job.rule.output == .log || job.rule.reply {
                for (index, stream) in ["stdout", "stderr"].enumerated() {
                    if stream == "stderr" && job.rule.output == .discard { continue }
                    // Both ends non-blocking: the child clears its end's flag itself (`spawn`).
                    let pipe = try FileDescriptor.pipe(nonBlocking: true)
                    childEnds.append(pipe.writeEnd)
                    childOutput[index] = pipe.writeEnd
                    let limit = stream == "stdout" && job.rule.reply ? 65536 : nil
                    outputs.append((pipe.readEnd, OutputCapture(stream: stream, collectUpTo: limit), false, true))
                    // Watched before the spawn: after it, nothing may fail.
                    try context.loop.register(pipe.readEnd, for: .readable) { [weak self] _ in self?.drain(pipe.readEnd) }
                }
            }
            child = try ChildProcess.spawn(
                program: program, arguments: argv, environment: environment(runningAs: credentials), directory: context.workingDirectory,
                stdin: stdin, stdout: childOutput[0], stderr: childOutput[1], credentials: credentials,
                outputsNonBlocking: true)
        } catch {
            for output in outputs {
                context.loop.unregisterBeforeClosing(output.descriptor)
                output.descriptor.close()
            }
            outputs.removeAll()
            if let error = error as? SystemError, error.exhaustedResource != nil {
                finish(.lackedResources(error))
            } else {
                finish(.couldNotStart("\(error)"))
            }
            return
        }
        self.child = child
        FaultInjection.reach(.start)
        runRecord = context.runRecords?.started(id: message.id, pid: child.pid, startTicks: child.startTicks, timeout: job.rule.timeout)
        context.logRun(job, handler: context.displayName(of: program), pid: child.pid)
        timeoutTimer = context.loop.schedule(after: job.rule.timeout) { [weak self] in self?.timeOut() }
        if let pidfd = child.exitDescriptor, (try? context.loop.register(pidfd, for: .readable) { [weak self] _ in self?.exited() }) != nil {
            return
        }
        // No pidfd, or the loop could not watch it: the run goes on all the same, and its end
        // is looked for now and then.
        pollForExit(after: Self.firstExitPoll)
    }

    /// How often a child without a watched pidfd is looked at: at first, and at most.
    static let firstExitPoll: Duration = .milliseconds(10)
    static let slowestExitPoll: Duration = .milliseconds(500)

    private func pollForExit(after delay: Duration) {
        exitPollTimer = context.loop.schedule(after: delay) { [weak self] in
            guard let self, let child = self.child else { return }
            self.exitPollTimer = nil
            if let termination = child.exitStatusIfEnded() {
                self.ended(termination)
            } else {
                self.pollForExit(after: min(delay * 2, Self.slowestExitPoll))
            }
        }
    }

    func terminate() { child?.signalGroup(ProcessSignal.terminate) }

    func kill() { child?.signalGroup(ProcessSignal.kill) }

    private func timeOut() {
        timedOut = true
        child?.signalGroup(ProcessSignal.terminate)
        killTimer = context.loop.schedule(after: Self.killDelay) { [weak self] in self?.child?.signalGroup(ProcessSignal.kill) }
    }

    private func exited() {
        guard let child else { return }
        if let pidfd = child.exitDescriptor { context.loop.unregisterBeforeClosing(pidfd) }
        ended(child.reap())
    }

    private func ended(_ termination: Termination) {
        // Output written before the exit is still in the pipes; a grandchild that kept them
        // open does not hold the run up.
        for output in outputs where output.open { drain(output.descriptor) }
        if timedOut {
            finish(.timedOut(job.rule.timeout))
        } else {
            finish(termination.isSuccess ? .succeeded : .exited(termination))
        }
    }

    /// Reads what is waiting in one output pipe, a bounded number of reads at a time so that
    /// a flood does not starve the loop. Past the logged lines the pipe is widened and read a
    /// megabyte at a time: the bytes are only counted. A flood's pipe, once emptied, is left to
    /// fill for a moment, so that it costs a read per megabyte rather than one per write the
    /// handler makes.
    private func drain(_ fd: FileDescriptor) {
        guard let index = outputs.firstIndex(where: { $0.descriptor == fd }), outputs[index].open else { return }
        for _ in 0..<16 {
            if outputs[index].capture.isPastCap && !outputs[index].widened {
                outputs[index].widened = true
                fd.widenPipe(to: Self.floodReadSize)
                if readBuffer.count < Self.floodReadSize {
                    readBuffer.deallocate()
                    readBuffer = .allocate(byteCount: Self.floodReadSize, alignment: 16)
                }
            }
            let count: Int?
            do { count = try fd.read(into: readBuffer) } catch { count = 0 }
            guard let n = count else {
                // Emptied: more comes later.
                if outputs[index].widened && child != nil && !finished { letFill(fd) }
                return
            }
            if n == 0 {
                context.loop.unregisterBeforeClosing(fd)
                fd.close()
                outputs[index].open = false
                return
            }
            let stream = outputs[index].capture.stream
            outputs[index].capture.take(UnsafeRawBufferPointer(rebasing: readBuffer[..<n])) { logOutput($0, stream: stream) }
        }
    }

    /// Stops watching a flood's pipe for `floodPause`; the handler blocks once it is full.
    private func letFill(_ fd: FileDescriptor) {
        guard (try? context.loop.change(fd, to: [])) != nil else { return }
        fillTimers[ObjectIdentifier(fd)] = context.loop.schedule(after: Self.floodPause) { [weak self] in
            self?.fillTimers[ObjectIdentifier(fd)] = nil
            try? self?.context.loop.change(fd, to: .readable)
        }
    }

    /// How long a flood's emptied pipe is left to fill: at most a megabyte per pause, so a
    /// handler writing past its logged lines is held to about 500 MB/s.
    static let floodPause: Duration = .milliseconds(2)

    /// How much one read takes: a pipe's default capacity, then what a flood's pipe is widened to.
    static let readSize = 65536
    static let floodReadSize = 1 << 20

    private func logOutput(_ line: Bytes, stream: String) {
        guard job.rule.log == .all else { return }
        context.log.record("out", name: job.message.name, [
            ("id", job.message.id), ("rule", job.rule.line), ("stream", stream), ("line", line),
        ])
    }

    private func finish(_ result: RunOutcome.Result) {
        guard !finished else { return }
        finished = true
        if let timeoutTimer { context.loop.cancel(timeoutTimer) }
        if let killTimer { context.loop.cancel(killTimer) }
        if let exitPollTimer { context.loop.cancel(exitPollTimer) }
        if let runRecord { context.runRecords?.ended(runRecord) }
        for timer in fillTimers.values { context.loop.cancel(timer) }
        fillTimers.removeAll()
        var outcome = RunOutcome(result: result, milliseconds: MonotonicInstant.now().duration(since: started).milliseconds)
        for index in outputs.indices {
            let stream = outputs[index].capture.stream
            outputs[index].capture.finish { logOutput($0, stream: stream) }
            let capture = outputs[index].capture
            if capture.droppedBytes > 0 && job.rule.log == .all {
                context.log.record("out", name: job.message.name, [
                    ("id", job.message.id), ("rule", job.rule.line), ("stream", stream),
                    ("truncated", capture.droppedBytes),
                ])
            }
            if stream == "stderr" { outcome.lastErrorLines = capture.tail }
            if let collected = capture.collected { outcome.replyOutput = collected }
            if outputs[index].open {
                context.loop.unregisterBeforeClosing(outputs[index].descriptor)
                outputs[index].descriptor.close()
            }
        }
        outputs.removeAll()
        completion(outcome)
    }

    private func standardInput() throws -> FileDescriptor? {
        guard job.rule.stdin == .body else { return nil }
        if let passed = job.message.extras.descriptor { return try passed.forRun() }
        switch job.message.body {
        case .claimedFile(let file): return try file.open()
        case .stateFile(let file): return try file.open()
        case .line(let line): return try FileDescriptor.memoryFile(holding: line)
        case .none: return nil
        }
    }

    /// The variables passed on from the daemon's environment, HOME, USER and LOGNAME of the
    /// user the handler runs as, `--env`, and the `SPOOL_*` variables.
    private func environment(runningAs credentials: Credentials?) -> [Bytes] {
        let message = job.message
        var env = context.environment.forUser(credentials)
        env.set("SPOOL_DIR", context.layout.root)
        env.set("SPOOL_NAME", message.name)
        env.set("SPOOL_PATH", message.path(in: context.layout))
        env.set("SPOOL_EVENT", message.event.rawValue.bytes)
        env.set("SPOOL_TYPE", message.type.rawValue.bytes)
        env.set("SPOOL_ID", message.id)
        env.set("SPOOL_RULE", String(job.rule.line).bytes)
        env.set("SPOOL_ATTEMPT", String(job.attempt).bytes)
        if let line = message.line { env.set("SPOOL_MESSAGE", line) }
        if let passed = message.extras.descriptor { env.set("SPOOL_FD_TYPE", passed.kind.rawValue.bytes) }
        if let priority = message.extras.priority { env.set("SPOOL_PRIORITY", String(priority).bytes) }
        if let value = message.extras.signalValue { env.set("SPOOL_SIGNAL_VALUE", String(value).bytes) }
        if case .claimedFile(let file) = message.body {
            if let origin = file.origin {
                for (name, value) in origin { env.set(name, value) }
            } else if let fd = try? file.open() {
                for (name, value) in MessageOrigin.environment(of: fd) { env.set(name, value) }
                fd.close()
            }
        }
        if let peer = message.peer {
            if let pid = peer.pid { env.set("SPOOL_PEER_PID", String(pid).bytes) }
            env.set("SPOOL_PEER_UID", String(peer.uid).bytes)
            if let gid = peer.gid { env.set("SPOOL_PEER_GID", String(gid).bytes) }
        }
        return env.entries
    }
}
