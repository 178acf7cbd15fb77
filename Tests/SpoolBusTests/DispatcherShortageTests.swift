import Glibc
import Testing
@testable import SpoolBus

/// A handler that cannot start for lack of a resource waits without spending an attempt, but
/// not forever, and holds back only its own rule.
@Suite struct DispatcherShortageTests {
    @Test func aShortageThatNeverPassesSpendsAttemptsAndHoldsNoOtherRule() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let logPath = root.path + Array("/log".utf8)
        let log = try DispatchLog(path: logPath)
        let loop = try EventLoop()
        let context = RunContext(loop: loop, log: log, layout: layout, workingDirectory: root.path,
                                 environment: HandlerEnvironment(daemon: [], extra: []), runRecords: nil)
        let rules = try #require(ruleSet("""
            starved  file  retries=1  backoff=10ms  ./a
            fine     file  ./b
            """)).rules
        // The first rule's user is at its process limit for good; the second rule starts fine.
        let dispatcher = Dispatcher(context: context, jobLimit: 4, shortageLimit: .milliseconds(200), runs: StubRuns { job, done in
            if job.rule.line == rules[0].line {
                done(RunOutcome(result: .lackedResources(SystemError(errno: EAGAIN, operation: "fork")), milliseconds: 0))
            } else {
                done(RunOutcome(result: .succeeded, milliseconds: 0))
            }
            return nil
        })
        var settled: [String] = []
        func deliver(_ name: String, to rule: Rule) {
            let message = Message(id: Array("id-\(name)".utf8), name: Array(name.utf8), event: .file, type: .file, body: .none, peer: nil)
            let delivery = Delivery(message: message, ruleCount: 1, deadLetterName: nil) { _ in
                settled.append(name)
                if settled.count == 2 { loop.stop() }
            }
            dispatcher.deliver(delivery, to: [rule])
        }
        deliver("starved", to: rules[0])
        deliver("fine", to: rules[1])
        let giveUp = loop.schedule(after: .seconds(60)) { loop.stop() }  // a generous deadline, for a busy machine
        try loop.run()
        loop.cancel(giveUp)

        #expect(settled == ["fine", "starved"], "the other rule is not held back, and the starved job ends")
        let lines = try loggedLines(log, at: logPath)
        let fails = lines.filter { $0.contains("fail ") }
        #expect(fails.count == 2, "each attempt is spent once held back too long: \(lines)")
        #expect(fails.allSatisfy { $0.contains("Resource temporarily unavailable") && $0.contains("short of processes for 200ms") }, "\(fails)")
        #expect(lines.filter { $0.contains("dead ") }.count == 1, "\(lines)")
        #expect(dispatcher.load == 0)
    }
}

/// Runs that end as the test says, without starting anything.
private final class StubRuns: RunStarter {
    let body: (Job, @escaping (RunOutcome) -> Void) -> HandlerRun?
    init(_ body: @escaping (Job, @escaping (RunOutcome) -> Void) -> HandlerRun?) { self.body = body }
    func start(_ job: Job, completion: @escaping (RunOutcome) -> Void) -> HandlerRun? { body(job, completion) }
}
