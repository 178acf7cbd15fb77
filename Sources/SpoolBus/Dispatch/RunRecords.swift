/// The handler runs in progress, on disk, so that a daemon started after `kill -9` of another
/// one knows which runs that one left behind (handlers lead their own sessions and outlive it),
/// and starts a recovered message only once no run of it is left.
///
/// The runs are slots of `.spoolbus/runs/table`, a `RecordFile`: a slot holds the message id,
/// the handler's pid, its start time in clock ticks since boot (what tells it from a later
/// process given the same pid) and its timeout. Recording a run is one pwrite of its slot after
/// the spawn, forgetting it one pwrite of a zero pid once it is reaped: no file made or removed
/// per run (which on ext4 cost an inode and journal work twice per run), and what is written
/// outlives a `kill -9` of the daemon, since the kernel's page cache holds it. A slot counts
/// while its pid is not zero. A reboot may lose the table's unwritten pages, which holds
/// nothing then: `runs/boot` holds the boot id, and start times only compare within one boot.
///
/// A worker process has one record for its whole life (id `worker`) rather than one per
/// request: a daemon started after `kill -9` of this one holds every recovered message back
/// until the workers it left are gone, and stops them at once (their answers can reach no one;
/// the messages they held are recovered and run again).
///
/// Spools served by an earlier version have one empty file per run, `ID.PID.START.TIMEOUT`:
/// they are moved into the table at the start, before it is read.
final class RunRecords {
    private let folder: Directory
    private let table: RecordFile
    /// Slots not in use, the last taken first.
    private var freeSlots: [Int] = []
    /// Where a record that could not be made is said; given by `LeftoverRuns`, which the daemon
    /// makes with its log right after this.
    fileprivate var log: DispatchLog?
    /// Records are failing now: said once when that begins, not once per run.
    private var failing = false

    static let folderName = "runs".bytes
    static let bootName = "boot".bytes
    static let tableName = "table".bytes

    /// A slot: pid (Int32; 0: free) at 0, id length (UInt8) at 4, start ticks (UInt64) at 8,
    /// timeout in milliseconds (Int64) at 16, the id from 24 to the end.
    static let slotSize = 64
    static let idCapacity = slotSize - 24
    /// A page of slots at first; doubled when they are all taken.
    static let firstSlotCount = 64

    /// Opens (and makes, 0700) `runs/` in the state folder and reads its table. Only the daemon
    /// needs it: `retry` works on a spool whose daemon never made it.
    init(state: Directory) throws {
        try state.makeDirectory(Self.folderName, mode: 0o700)
        folder = try state.openDirectory(Self.folderName)
        do {
            let fd = try folder.open(Self.tableName, [.readWrite, .create], mode: 0o600)
            table = try RecordFile(fd, path: folder.path.appendingPathComponent(Self.tableName),
                                   minimumSize: Self.slotSize * Self.firstSlotCount)
        } catch {
            folder.close()
            throw error
        }
        freeSlots = (0..<slotCount).reversed().filter { pid(at: $0) == 0 }
    }

    deinit { folder.close() }

    private var slotCount: Int { table.bytes.count / Self.slotSize }

    private func load<T: FixedWidthInteger>(_ type: T.Type, slot index: Int, at offset: Int) -> T {
        table.bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index * Self.slotSize + offset, as: T.self) }
    }

    private func pid(at index: Int) -> Int32 { load(Int32.self, slot: index, at: 0) }

    private static func bytes(of value: some FixedWidthInteger) -> Bytes { withUnsafeBytes(of: value) { Bytes($0) } }

    /// Records a started run; returns its record, or nil when it could not be made (the run
    /// goes on, unrecorded: a crash now could let its message run twice at once).
    func started(id: Bytes, pid: Int32, startTicks: UInt64?, timeout: Duration) -> RunRecord? {
        do {
            guard let startTicks else {
                throw SystemError(errno: SystemError.noEntry, operation: "read the start time of the handler from /proc", path: "/proc/\(pid)/stat".bytes)
            }
            guard id.count <= Self.idCapacity else {
                throw SystemError(errno: SystemError.nameTooLong, operation: "record a run of message \(String(decoding: id, as: UTF8.self))", path: folder.path.appendingPathComponent(Self.tableName))
            }
            if freeSlots.isEmpty {
                let count = slotCount
                try table.grow(to: 2 * count * Self.slotSize)
                freeSlots = (count..<slotCount).reversed()
            }
            let index = freeSlots.last!
            var slot = Self.bytes(of: pid) + [UInt8(id.count), 0, 0, 0] + Self.bytes(of: startTicks) + Self.bytes(of: timeout.milliseconds) + id
            slot += Bytes(repeating: 0, count: Self.slotSize - slot.count)
            try table.write(slot, at: index * Self.slotSize)
            freeSlots.removeLast()
            failing = false
            return RunRecord(slot: index)
        } catch {
            if !failing {
                failing = true
                log?.record("error", [("err", "cannot record a handler run in .spoolbus/runs (\(error)): should the daemon be killed, a recovered message could run beside it; said once until a record is made again")])
            }
            return nil
        }
    }

    /// Records a started worker process; nil as for `started`.
    func workerStarted(pid: Int32, startTicks: UInt64?) -> RunRecord? {
        started(id: LeftoverRun.workerID, pid: pid, startTicks: startTicks, timeout: .zero)
    }

    /// Forgets a run that was reaped.
    func ended(_ record: RunRecord) {
        guard pid(at: record.slot) != 0 else { return }
        do {
            try table.write(Self.bytes(of: Int32(0)), at: record.slot * Self.slotSize)
            freeSlots.append(record.slot)
        } catch {
            // The slot stays taken (the next start sees its pid is no run of this one's) and is
            // not reused, so no later run's record is lost to it.
            log?.record("error", [("err", "cannot forget a handler run in .spoolbus/runs (\(error))")])
        }
    }

    /// The run recorded in slot `index`, if any.
    private func entry(at index: Int) -> LeftoverRun? {
        let pid = self.pid(at: index)
        let length = Int(load(UInt8.self, slot: index, at: 4))
        guard pid > 1, length <= Self.idCapacity else { return nil }
        let start = index * Self.slotSize + 24
        let id = Bytes(table.bytes[start..<(start + length)])
        return LeftoverRun(record: RunRecord(slot: index), id: id, pid: pid,
                           startTicks: load(UInt64.self, slot: index, at: 8),
                           timeout: .milliseconds(load(Int64.self, slot: index, at: 16)))
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
        for item in try folder.entries() where item.name != Self.bootName && item.name != Self.tableName {
            if sameBoot, let run = LegacyRunRecord(item.name) {
                guard started(id: run.id, pid: run.pid, startTicks: run.startTicks, timeout: run.timeout) != nil else { continue }
            }
            try? folder.removeIfPresent(item.name)
        }
        var found: [LeftoverRun] = []
        for index in 0..<slotCount where pid(at: index) != 0 {
            if sameBoot, let run = entry(at: index), run.isRunning {
                found.append(run)
            } else {
                ended(RunRecord(slot: index))
            }
        }
        return found
    }
}

/// A run's place in `RunRecords`' table.
struct RunRecord: Equatable {
    let slot: Int
}

/// What an earlier version's record file `ID.PID.START.TIMEOUT` says.
struct LegacyRunRecord {
    let id: Bytes
    let pid: Int32
    let startTicks: UInt64
    let timeout: Duration

    init?(_ name: Bytes) {
        let parts = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4,
              let pid = Int32(String(decoding: parts[1], as: UTF8.self)), pid > 1,
              let start = UInt64(String(decoding: parts[2], as: UTF8.self)),
              let milliseconds = Int64(String(decoding: parts[3], as: UTF8.self)) else { return nil }
        id = Bytes(parts[0])
        self.pid = pid
        startTicks = start
        timeout = .milliseconds(milliseconds)
    }
}

/// A handler run an earlier daemon started and did not see end.
struct LeftoverRun {
    let record: RunRecord
    let id: Bytes
    let pid: Int32
    let startTicks: UInt64
    let timeout: Duration

    /// The id of a worker process's record: message ids are hex digits and a dash, never this.
    static let workerID = "worker".bytes

    /// A worker process, which may be working on any recovered message.
    var isWorker: Bool { id == Self.workerID }

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
    private var terminated: Set<Int> = []
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
            let firstTime = terminated.insert(run.record.slot).inserted
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
