import Glibc
import Testing
@testable import SpoolBus

/// The `mq` and `signal` directives and the `mq` and `signal` events.
struct RulesIPCDirectiveTests {
    @Test func queueDirectivesKeepTheirLimitsAndNameTheirMessagesWithoutTheSlash() throws {
        let set = try parseRules("""
            mq /jobs mode=0620 maxmsg=50 msgsize=4096
            mq /defaults
            jobs mq ./job.sh {name}
            """).get()
        #expect(set.queues.map(\.queueName) == [bytes("/jobs"), bytes("/defaults")])
        #expect(set.queues[0].name == bytes("jobs"))
        #expect(set.queues[0].mode == 0o620 && set.queues[0].maxMessages == 50 && set.queues[0].messageSize == 4096)
        #expect(set.queues[1].mode == 0o600 && set.queues[1].maxMessages == nil && set.queues[1].messageSize == nil)
        #expect(set.queues[1].summary == "line 2: mq /defaults mode=0600 maxmsg=(system) msgsize=(system) name=defaults")
        #expect(set.rules(for: bytes("jobs"), event: .mq).map(\.line) == [3])
        #expect(set.rules(for: bytes("jobs"), event: .file).isEmpty)
    }

    @Test func signalDirectivesTakeUserAndRealTimeSignals() throws {
        let set = try parseRules("""
            signal USR1 SIGUSR2 RTMIN RTMIN+3
            signal WINCH
            RTMIN+* signal swift:discard
            """).get()
        let taken = set.signals.flatMap(\.signals)
        #expect(taken.map(\.name) == ["USR1", "USR2", "RTMIN", "RTMIN+3", "WINCH"])
        #expect(taken.map(\.number) == [SIGUSR1, SIGUSR2, __libc_current_sigrtmin(), __libc_current_sigrtmin() + 3, SIGWINCH])
        #expect(set.signalNumbers.count == 5)
        #expect(set.rules(for: bytes("RTMIN+3"), event: .signal).count == 1)
        #expect(set.rules(for: bytes("USR1"), event: .signal).isEmpty)
        #expect(set.signals[1].summary == "line 2: signal WINCH=\(SIGWINCH)")
    }

    @Test func theSignalsTheDaemonNeedsAreRefused() {
        for name in ["HUP", "TERM", "INT", "CHLD", "PIPE", "KILL", "STOP", "SIGHUP"] {
            #expect(diagnostics("signal \(name)").first?.contains("cannot be a message") == true, "\(name)")
        }
        #expect(diagnostics("signal USR1\nsignal USR1") == ["spoolbus.rules:2:8: error: duplicate signal 'USR1' (already declared on line 1)"])
    }

    @Test func aQueueDeclaredTwiceIsAnError() {
        #expect(diagnostics("mq /a\nmq /a maxmsg=3") == ["spoolbus.rules:2:4: error: duplicate queue '/a' (already declared on line 1)"])
    }
}
