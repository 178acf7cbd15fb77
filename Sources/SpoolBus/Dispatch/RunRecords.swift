/// The handler runs in progress, on disk, so that a daemon started after `kill -9` of another
/// one knows which runs that one left behind (handlers lead their own sessions and outlive it),
/// and starts a recovered message only once no run of it is left.
///
/// A run is an empty file `.spoolbus/runs/ID.PID.START.TIMEOUT`: the message id, the handler's
/// pid, its start time in clock ticks since boot (what tells it from a later process given the
/// same pid) and its timeout in milliseconds. It is made with mknod after the spawn (no
/// descriptor needed) and removed once the run is reaped: two system calls per run. `runs/boot`
/// holds the boot id: start times only compare within one boot.
///
/// A worker process has one record for its whole life, `worker.PID.START.0`, rather than two
/// system calls per request: a daemon started after `kill -9` of this one holds every recovered
/// message back until the workers it left are gone, and stops them at once (their answers can
/// reach no one; the messages they held are recovered and run again).
final class RunRecords {
    private let folder: Directory
    /// Where a record that could not be made is said; given by `LeftoverRuns`, which the daemon
    /// makes with its log right after this.
    fileprivate var log: DispatchLog?
    /// Records are failing now: said once when that begins, not once per run.
    private var failing = false

    static let folderName = "runs".bytes
    static let bootName = "boot".bytes

    /// Opens (and makes, 0700) `runs/` in the state folder. Only the daemon needs it: `retry`
    /// works on a spool whose daemon never made it.
    init(state: Directory) throws {
        try state.makeDirectory(Self.folderName, mode: 0o700)
        folder = try state.openDirectory(Self.folderName)
    }

    /// Records a started run; returns the record's name, or nil when it could not be made (the
    /// run goes on, unrecorded: a crash now could let its message run twice at once).
    func started(id: Bytes, pid: Int32, startTicks: UInt64?, timeout: Duration) -> Bytes? {
        guard let startTicks else { return nil }
        let name = id + ".\(pid).\(startTicks).\(timeout.milliseconds)".bytes
        do {
            try folder.makeEmptyFile(name)
            failing = false
            return name
        } catch {
            if !failing {
                failing = true
                log?.record("error", [("err", "cannot record a handler run in .spoolbus/runs (\(error)): should the daemon be killed, a recovered message could run beside it; said once until a record is made again")])
            }
            return nil
        }
    }

    /// Records a started worker process; nil as for `started`.
    func workerStarted(pid: Int32, startTicks: UInt64?) -> Bytes? {
        started(id: LeftoverRun.workerID, pid: pid, startTicks: startTicks, timeout: .zero)
    }

    /// Forgets a run that was reaped.
    func ended(_ record: Bytes) {
        try? folder.removeIfPresent(record)
    }

    /// The runs an earlier daemon of this spool left that are still going; the records of the
    /// others (and all of them after a reboot) are removed.
    func leftovers() throws -> [LeftoverRun] {
        let boot = ProcessTable.bootID ?? []
        let sameBoot = (try? folder.read(Self.bootName, limit: 64)) == boot
        if !sameBoot {
            try? folder.removeIfPresent(Self.bootName)
            let fd = try folder.open(Self.bootName, [.writeOnly, .create, .exclusive], mode: 0o600)
            defer { fd.close() }
            try fd.writeAll(boot)
        }
        var found: [LeftoverRun] = []
        for entry in try folder.entries() where entry.name != Self.bootName {
            if sameBoot, let run = LeftoverRun(record: entry.name), run.isRunning {
                found.append(run)
            } else {
                ended(entry.name)
            }
        }
        return found
    }
}

/// A handler run an earlier daemon started and did not see end.
struct LeftoverRun {
    let record: Bytes
    let id: Bytes
    let pid: Int32
    let startTicks: UInt64
    let timeout: Duration

    /// The id of a worker process's record: message ids are hex digits and a dash, never this.
    static let workerID = "worker".bytes

    /// A worker process, which may be working on any recovered message.
    var isWorker: Bool { id == Self.workerID }

    init?(record: Bytes) {
        let parts = record.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4,
              let pid = Int32(String(decoding: parts[1], as: UTF8.self)), pid > 1,
              let start = UInt64(String(decoding: parts[2], as: UTF8.self)),
              let milliseconds = Int64(String(decoding: parts[3], as: UTF8.self)) else { return nil }
        self.record = record
        id = Bytes(parts[0])
        self.pid = pid
        startTicks = start
        timeout = .milliseconds(milliseconds)
    }

    /// Whether the run, or a process of its group, is still going. The pid is the group's id,
    /// and the kernel does not give that number to a new process while the group has members:
    /// so a live process with this pid but another start time means the group is gone.
    var isRunning: Bool {
        if let facts = ProcessTable.facts(of: pid) {
            return facts.startTicks == startTicks && !facts.hasEnded
                || facts.startTicks == startTicks && ProcessTable.hasLiveMember(ofGroup: pid)
        }
        return ProcessTable.hasLiveMember(ofGroup: pid)
    }

    /// When the earlier daemon would have stopped it (SIGTERM at its timeout), since boot.
    var deadline: Duration {
        // Whole seconds first: ticks times 10^9 passes Int64 after about three years of uptime.
        let perSecond = UInt64(ProcessTable.ticksPerSecond)
        let seconds = Duration.seconds(Int64(clamping: startTicks / perSecond))
        return seconds + .nanoseconds(Int64(startTicks % perSecond) * 1_000_000_000 / Int64(perSecond)) + timeout
    }
}

/// Holds recovered messages back until the runs of them an earlier daemon left have ended, and
/// stops such a run at its timeout, as the daemon that started it would have.
final class LeftoverRuns {
    private let records: RunRecords
    private let loop: EventLoop
    private let log: DispatchLog
    private var runs: [LeftoverRun] = []
    private var waiting: [Bytes: [() -> Void]] = [:]
    private var terminated: Set<Bytes> = []
    private var delay = LeftoverRuns.firstPoll

    static let firstPoll: Duration = .milliseconds(20)
    static let slowestPoll: Duration = .milliseconds(500)

    /// Reads what an earlier daemon left; call before recovering claimed messages.
    init(records: RunRecords, loop: EventLoop, log: DispatchLog) {
        self.records = records
        self.loop = loop
        self.log = log
        records.log = log
        do {
            runs = try records.leftovers()
        } catch {
            log.record("error", [("err", "cannot read the runs a previous daemon left: \(error)")])
        }
    }

    /// Calls `work` once no run of message `id` left by an earlier daemon is going: now, when
    /// there is none.
    func afterLeftovers(of id: Bytes, _ work: @escaping () -> Void) {
        guard runs.contains(where: { $0.id == id || $0.isWorker }) else { return work() }
        if waiting.isEmpty { poll(after: delay) }
        waiting[id, default: []].append(work)
    }

    private func poll(after delay: Duration) {
        loop.schedule(after: delay) { [weak self] in self?.check() }
    }

    private func check() {
        let now = ProcessTable.sinceBoot()
        var ended: [LeftoverRun] = []
        runs.removeAll { run in
            guard !run.isRunning else { return false }
            ended.append(run)
            return true
        }
        for run in ended { records.ended(run.record) }
        for run in runs where now >= run.deadline {
            // Its group, as the daemon that started it would have at its timeout.
            let firstTime = terminated.insert(run.record).inserted
            let signal = now >= run.deadline + ProgramRun.killDelay ? ProcessSignal.kill : ProcessSignal.terminate
            if firstTime || signal == ProcessSignal.kill { ProcessSignal.sendToGroup(run.pid, signal) }
            if firstTime && run.isWorker {
                log.record("error", [
                    ("pid", run.pid), ("err", "a worker left by a previous daemon is stopped: its answers can reach no one, and its messages are run again"),
                ])
            } else if firstTime {
                log.record("error", [
                    ("id", run.id), ("pid", run.pid),
                    ("err", "a handler run left by a previous daemon passed its timeout of \(formatDuration(run.timeout)); stopped"),
                ])
            }
        }
        for id in Array(waiting.keys) where !runs.contains(where: { $0.id == id || $0.isWorker }) {
            for work in waiting.removeValue(forKey: id) ?? [] { work() }
        }
        guard !waiting.isEmpty else { return }
        delay = min(delay * 2, Self.slowestPoll)
        poll(after: delay)
    }
}
