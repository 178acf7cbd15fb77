import Foundation
import Testing
@testable import SpoolBus

/// `status` and `watch`, in-process and without a daemon (the end-to-end tests run them
/// against one).
@Suite struct ChannelCommandLineTests {
    static let statusHelp = """
        OVERVIEW: Show what the running daemon is doing.

        Asks the daemon serving the spool, over SPOOL/.spoolbus/control.sock: its pid
        and uptime, the rules it loaded, how many messages it received and how they
        ended, what runs and waits now, its open FIFOs, sockets, clients and watchers,
        and the faults it is riding out (dispatch-log lines lost, folders without an
        inotify watch, messages not yet settled). Exits 1 when no daemon serves the
        spool.

        USAGE: spoolbus status [--spool DIR] [--raw] [--json]

        OPTIONS:
          --spool DIR             The spool folder. (default: $SPOOLBUS_SPOOL, else the
                                  enclosing spool, else ./spool)
          --raw                   Print the daemon's key=value lines as they came.
          --json                  Print one JSON object: each fact a member; counts are
                                  numbers, paused a boolean.
          -h, --help              Show help information.

        """

    static let watchHelp = """
        OVERVIEW: Print log lines of matching messages as they happen.

        Subscribes to the daemon serving the spool and prints each log line about a
        message whose name matches PATTERN, the moment it is written, until interrupted;
        without PATTERN, every line. Nothing polls. A watcher that falls more than 1 MiB
        behind is dropped by the daemon. Exits 0 when the daemon stops (its stop line is
        the last one printed); exits 1 when no daemon serves the spool, or when the
        connection ends without a stop line (the daemon died, or dropped this watcher
        for falling behind).

        USAGE: spoolbus watch [PATTERN] [--json] [--spool DIR]

        ARGUMENTS:
          PATTERN                 A rules-file glob over message names. (default: **)

        OPTIONS:
          --json                  Print each line as one JSON object: time, verb, then
                                  the line's keys, values unescaped.
          --spool DIR             The spool folder. (default: $SPOOLBUS_SPOOL, else the
                                  enclosing spool, else ./spool)
          -h, --help              Show help information.

        """

    @Test(arguments: [["help", "status"], ["status", "--help"], ["status", "-h"]])
    func statusHelp(_ words: [String]) {
        let outcome = runCommandLine(words)
        #expect(outcome.status == 0)
        #expect(outcome.outputText == Self.statusHelp)
    }

    @Test(arguments: [["help", "watch"], ["watch", "--help"], ["watch", "-h"]])
    func watchHelp(_ words: [String]) {
        let outcome = runCommandLine(words)
        #expect(outcome.status == 0)
        #expect(outcome.outputText == Self.watchHelp)
    }

    @Test(arguments: ["status", "watch"])
    func noDaemonIsARuntimeFailure(_ command: String) throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let spool = folder.join("spool")
        let outcome = runCommandLine([command, "--spool", spool])
        #expect(outcome.status == 1)
        #expect(outcome.output.isEmpty)
        #expect(outcome.errorText.hasPrefix("spoolbus: error: no daemon serves spool '\(spool)' (connect '\(spool)/.spoolbus/control.sock': "))
        #expect(outcome.errorText.hasSuffix("); a command's spool is --spool DIR, else $SPOOLBUS_SPOOL, else the enclosing spool, else ./spool\n"))
    }

    @Test func watchRefusesABadPatternBeforeAskingAnyone() {
        let outcome = runCommandLine(["watch", "inbox/[", "--spool", "/nonexistent"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: invalid pattern 'inbox/[': unterminated '[' in pattern
            Usage: spoolbus watch [PATTERN] [--json] [--spool DIR]
            See 'spoolbus help watch'.

            """)
    }

    @Test func statusTakesNoArgument() {
        let outcome = runCommandLine(["status", "extra"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText.hasPrefix("spoolbus: error: unexpected argument 'extra'\n"))
    }

    @Test func statusSummaryReadsTheDaemonsFacts() {
        let facts: [(key: String, value: [UInt8])] = [
            ("pid", "42"), ("uptime", "5m"), ("spool", "/srv/spool"), ("rules", "/srv/spoolbus.rules"),
            ("rules_loaded", "3"), ("received", "10"), ("ok", "8"), ("failed", "1"), ("dead", "1"), ("nomatch", "0"),
            ("running", "1"), ("queued", "2"), ("retrying", "0"), ("fifos", "1"), ("sockets", "2"), ("clients", "3"),
            ("watchers", "1"), ("paused", "no"), ("pauses", "0"), ("throttles", "4"), ("too_long", "1"),
            ("clients_refused", "0"), ("replies_dropped", "2"), ("watchers_dropped", "0"), ("node_events_dropped", "5"),
            ("log_lost", "7"), ("unwatched", "0"), ("unsettled", "1"), ("queues", "1"), ("signals", "3"),
            ("signals_by_name", "\"USR1:2 RTMIN+1:1\""), ("signals_ignored", "1"), ("signals_dropped", "0"), ("descriptors_refused", "2"),
            ("ok_unlogged", "6"), ("worker", "pid:9,rule:3,state:busy,served:12"), ("worker", "pid:11,rule:3,state:idle,served:0"),
        ].map { ($0.0, Array($0.1.utf8)) }
        #expect(StatusCommand.summary(facts) == """
            pid        42
            uptime     5m
            spool      /srv/spool
            rules      /srv/spoolbus.rules, 3 loaded
            messages   received 10, ok 8, failed 1, dead 1, nomatch 0, ok_unlogged 6
            in flight  running 1, queued 2, retrying 0
            channels   fifos 1, sockets 2, clients 3, watchers 1, queues 1
            signals    taken 3 (USR1:2 RTMIN+1:1), ignored 1, dropped 0
            paused     no (pauses 0, throttles 4)
            refused    too_long 1, clients_refused 0, replies_dropped 2, watchers_dropped 0, node_events_dropped 5, descriptors_refused 2
            faults     log_lost 7, unwatched 0, unsettled 1
            worker     pid 9, rule 3, state busy, served 12
            worker     pid 11, rule 3, state idle, served 0

            """)
    }
}
