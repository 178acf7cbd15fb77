import Glibc
import Testing
@testable import SpoolBus

/// What a restarted daemon reads to find the runs a killed one left.
@Suite struct RunRecordTests {
    @Test func procStatIsParsedAfterTheLastParenthesis() throws {
        let stat = "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100"
        let facts = try #require(ProcessTable.parse(Array(stat.utf8)))
        #expect(facts == ProcessFacts(state: UInt8(ascii: "S"), processGroup: 4242, startTicks: 987654))
    }

    @Test func thisProcessIsFoundWithItsStartTime() throws {
        let facts = try #require(ProcessTable.facts(of: getpid()))
        #expect(facts.startTicks > 0 && !facts.hasEnded)
        #expect(ProcessTable.facts(of: getpid())?.startTicks == facts.startTicks)
    }

    @Test func recordNamesOfEarlierVersionsAreRead() throws {
        let run = try #require(LegacyRunRecord(Array("01a22820e124-000001.14758.127262.30000".utf8)))
        #expect(run.id == Array("01a22820e124-000001".utf8))
        #expect(run.pid == 14758 && run.startTicks == 127262 && run.timeout == .seconds(30))
        #expect(LegacyRunRecord(Array("boot".utf8)) == nil)
        #expect(LegacyRunRecord(Array("x.1.2.3".utf8)) == nil, "pid 1 is never a handler")
    }

    /// What a daemon stores in the table is what the next one reads, whatever the number of runs;
    /// a slot freed is taken again, so the table does not grow with the runs made one by one.
    @Test func theTableKeepsEveryRunForTheNextDaemonAndReusesFreedSlots() throws {
        let folder = try TemporaryFolder()
        let state = try Directory.open(folder.path)
        defer { state.close() }
        let me = getpid()
        let myStart = try #require(ProcessTable.facts(of: me)?.startTicks)
        let table = folder.path + Array("/runs/table".utf8)
        do {
            let records = try RunRecords(state: state)
            _ = try records.leftovers()
            for _ in 0..<1000 {
                let made = try #require(records.started(id: Array("01a22820e124-000009".utf8), pid: me, startTicks: myStart, timeout: .seconds(1)))
                records.ended(made)
            }
            var status = stat()
            #expect(stat(String(decoding: table, as: UTF8.self), &status) == 0)
            #expect(Int(status.st_size) == RunRecords.slotSize * RunRecords.firstSlotCount)
            // More runs at once than the first table holds: it grows, and keeps them all.
            for index in 0..<100 {
                #expect(records.started(id: Array("01a22820e124-\(100_000 + index)".utf8), pid: me, startTicks: myStart, timeout: .seconds(1)) != nil)
            }
            #expect(records.started(id: Array("01a22820e124-000777".utf8), pid: me, startTicks: myStart + 1, timeout: .seconds(1)) != nil)
        }
        // The next daemon (this process, which is surely running) finds them; the record whose
        // start time is not this process's is a later process given the same pid: gone.
        let next = try RunRecords(state: state)
        let found = try next.leftovers()
        #expect(found.count == 100)
        #expect(Set(found.map(\.id)) == Set((0..<100).map { Array("01a22820e124-\(100_000 + $0)".utf8) }))
        #expect(found.allSatisfy { $0.pid == me && $0.startTicks == myStart && $0.timeout == .seconds(1) })
        for run in found { next.ended(run.record) }
        #expect(try RunRecords(state: state).leftovers().isEmpty)
    }

    /// A spool an earlier version served, killed with a run going: its record file is taken
    /// into the table (so a daemon killed in turn still knows of the run) and removed, and the
    /// run is a leftover like any other; a record file of an ended run is only removed.
    @Test func recordFilesOfAnEarlierVersionAreMovedIntoTheTable() throws {
        let folder = try TemporaryFolder()
        let state = try Directory.open(folder.path)
        defer { state.close() }
        let me = getpid()
        let myStart = try #require(ProcessTable.facts(of: me)?.startTicks)
        let runs = folder.path + Array("/runs".utf8)
        #expect(mkdir(String(decoding: runs, as: UTF8.self), 0o700) == 0)
        let boot = try #require(ProcessTable.bootID)
        let write = { (name: String, content: [UInt8]) in
            let fd = open(String(decoding: runs, as: UTF8.self) + "/" + name, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            #expect(fd >= 0)
            #expect(content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == content.count)
            close(fd)
        }
        write("boot", boot)
        write("01a22820e124-000042.\(me).\(myStart).30000", [])
        write("01a22820e124-000043.\(me).\(myStart + 1).30000", [])
        let found = try RunRecords(state: state).leftovers()
        #expect(found.map(\.id) == [Array("01a22820e124-000042".utf8)])
        #expect(found.first.map { $0.pid == me && $0.startTicks == myStart && $0.timeout == .seconds(30) } == true)
        #expect(Set(try entriesOf(runs).map { String(decoding: $0.name, as: UTF8.self) }) == ["boot", "table"], "the record files are gone")
        let again = try RunRecords(state: state).leftovers()
        #expect(again.map(\.id) == [Array("01a22820e124-000042".utf8)], "the table holds the run now")
    }

    @Test func aStartTimeYearsAfterBootGivesADeadlineWithoutOverflow() throws {
        // 10^8 seconds of uptime (three years): ticks times 10^9 would pass Int64.max.
        let perSecond = ProcessTable.ticksPerSecond
        let ticks = UInt64(perSecond) * 100_000_000 + UInt64(perSecond / 2)
        let run = LeftoverRun(record: RunRecord(slot: 0), id: Array("a".utf8), pid: 4242, startTicks: ticks, timeout: .milliseconds(1500))
        let half = Duration.nanoseconds(perSecond / 2 * 1_000_000_000 / perSecond)
        #expect(run.deadline == .seconds(100_000_000) + half + .milliseconds(1500))
    }

    @Test func aRecordThatCannotBeMadeIsLoggedOncePerEpisode() throws {
        let folder = try TemporaryFolder()
        let state = try Directory.open(folder.path)
        defer { state.close() }
        let logPath = folder.path + Array("/log".utf8)
        let log = try DispatchLog(path: logPath)
        let records = try RunRecords(state: state)
        _ = LeftoverRuns(records: records, loop: try EventLoop(), log: log)
        // An id longer than a slot holds cannot be recorded (ENAMETOOLONG).
        let tooLong = Array(repeating: UInt8(ascii: "i"), count: 300)
        let id = Array("01a22820e124-000001".utf8)
        #expect(records.started(id: tooLong, pid: 4242, startTicks: 1, timeout: .seconds(1)) == nil)
        #expect(records.started(id: tooLong, pid: 4243, startTicks: 1, timeout: .seconds(1)) == nil)
        let made = try #require(records.started(id: id, pid: 4244, startTicks: 1, timeout: .seconds(1)))
        records.ended(made)
        #expect(records.started(id: tooLong, pid: 4245, startTicks: 1, timeout: .seconds(1)) == nil)
        let lines = try loggedLines(log, at: logPath)
        let said = lines.filter { $0.contains("error") && $0.contains("cannot record a handler run") }
        #expect(said.count == 2, "one line per episode: \(lines)")
        #expect(said.allSatisfy { $0.contains("File name too long") }, "\(said)")
    }
}
