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

    @Test func recordNamesRoundTrip() throws {
        let run = try #require(LeftoverRun(record: Array("01a22820e124-000001.14758.127262.30000".utf8)))
        #expect(run.id == Array("01a22820e124-000001".utf8))
        #expect(run.pid == 14758 && run.startTicks == 127262 && run.timeout == .seconds(30))
        #expect(LeftoverRun(record: Array("boot".utf8)) == nil)
        #expect(LeftoverRun(record: Array("x.1.2.3".utf8)) == nil, "pid 1 is never a handler")
    }

    @Test func aStartTimeYearsAfterBootGivesADeadlineWithoutOverflow() throws {
        // 10^8 seconds of uptime (three years): ticks times 10^9 would pass Int64.max.
        let perSecond = ProcessTable.ticksPerSecond
        let ticks = UInt64(perSecond) * 100_000_000 + UInt64(perSecond / 2)
        let run = try #require(LeftoverRun(record: Array("a.4242.\(ticks).1500".utf8)))
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
        // A name longer than NAME_MAX makes mknod fail (ENAMETOOLONG) without touching the folder.
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
