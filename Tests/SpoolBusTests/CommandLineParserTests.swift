import Testing
@testable import SpoolBus

/// A table like a subcommand's, to test the parser by itself.
private let sample = CommandSpec(
    "sample",
    abstract: "A command for tests.",
    arguments: [
        ArgumentSpec("NAME", help: "A name."),
        ArgumentSpec("TEXT", help: "Words.", optional: true, repeating: true),
    ],
    options: [
        OptionSpec("name", value: "N", help: "A value."),
        OptionSpec("spool", value: "DIR", help: "A folder."),
        OptionSpec("all", help: "A flag."),
    ])

private func parse(_ words: [String]) throws -> ParsedArguments {
    try ParsedArguments.parse(words.map { Array($0.utf8) }, as: sample)
}

private func parseError(_ words: [String]) -> UsageError? {
    do {
        _ = try parse(words)
        return nil
    } catch {
        return error as? UsageError
    }
}

@Suite struct CommandLineParserTests {
    @Test(arguments: [
        ["x", "--spool", "/s"],
        ["x", "--spool=/s"],
        ["--spool", "/s", "x"],
        ["--spool=/x", "x", "--spool", "/s"],  // the last one wins
    ])
    func optionValueForms(_ words: [String]) throws {
        let parsed = try parse(words)
        #expect(parsed.value("spool") == Array("/s".utf8))
        #expect(parsed.positionals == [Array("x".utf8)])
    }

    @Test func valueMayContainEqualsAndDashWithEqualsForm() throws {
        let parsed = try parse(["x", "--name=a=b", "--spool=-odd"])
        #expect(parsed.value("name") == Array("a=b".utf8))
        #expect(parsed.value("spool") == Array("-odd".utf8))
    }

    @Test func doubleDashEndsOptions() throws {
        let parsed = try parse(["x", "--", "--all", "-h", "--spool"])
        #expect(parsed.positionals.map { String(decoding: $0, as: UTF8.self) } == ["x", "--all", "-h", "--spool"])
        #expect(!parsed.has("all"))
        #expect(!parsed.wantsHelp)
    }

    @Test func loneDashIsPositional() throws {
        let parsed = try parse(["x", "-"])
        #expect(parsed.positionals == [Array("x".utf8), Array("-".utf8)])
    }

    @Test func flags() throws {
        let parsed = try parse(["x", "--all"])
        #expect(parsed.has("all"))
        #expect(parseError(["x", "--all=yes"])?.message == "option '--all' takes no value")
    }

    @Test(arguments: [["-h"], ["--help"], ["x", "--nme", "-h"], ["--bogus", "--help", "y"]])
    func helpAnywhereWins(_ words: [String]) throws {
        #expect(try parse(words).wantsHelp)
    }

    @Test func nonUTF8PositionalPassesThrough() throws {
        let name: [UInt8] = [0x66, 0xFF, 0x0A, 0x2D]
        let parsed = try ParsedArguments.parse([name], as: sample)
        #expect(parsed.positionals == [name])
    }

    @Test(arguments: [
        (["x", "--nme"], "unknown option '--nme'", "--name"),
        (["x", "--nme=3"], "unknown option '--nme'", "--name"),
        (["x", "--spol", "/s"], "unknown option '--spol'", "--spool"),
        (["x", "--al"], "unknown option '--al'", "--all"),
        (["x", "--zzzzzz"], "unknown option '--zzzzzz'", nil),
        (["x", "-q"], "unknown option '-q'", nil),
        (["x", "--spool"], "option '--spool' needs a value", nil),
        (["x", "--spool", "--all"], "option '--spool' needs a value", nil),
        (["x", "--spool="], "option '--spool' needs a value", nil),
        (["x", "--spool", "--", "y"], "option '--spool' needs a value", nil),
        ([], "missing argument NAME", nil),
    ] as [([String], String, String?)])
    func errors(_ words: [String], message: String, suggestion: String?) throws {
        let error = try #require(parseError(words))
        #expect(error.message == message)
        #expect(error.suggestion == suggestion)
    }

    @Test func unprintableTokenIsEscapedInErrors() throws {
        let error = try #require(try? { () throws -> UsageError? in
            do { _ = try ParsedArguments.parse([Array("x".utf8), [0x2D, 0x2D, 0xFF, 0x0A]], as: sample); return nil }
            catch let error as UsageError { return error }
        }())
        #expect(error.message == "unknown option '--\\xff\\x0a'")
    }

    @Test func tooManyPositionals() throws {
        let check = CheckCommand.spec
        #expect(throws: UsageError("unexpected argument 'b'")) {
            try ParsedArguments.parse([Array("a".utf8), Array("b".utf8)], as: check)
        }
    }

    @Test func errorReportHasUsageAndHint() {
        let report = UsageError("unknown option '--nme'", suggestion: "--name").report(for: ExplainCommand.spec)
        #expect(report == """
            spoolbus: error: unknown option '--nme'; did you mean '--name'?
            Usage: spoolbus explain NAME [--on EVENT] [--rules FILE] [--spool DIR]
            See 'spoolbus help explain'.

            """)
    }
}

@Suite struct CommandLineTopLevelTests {
    @Test func version() {
        let outcome = runCommandLine(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.outputText == "spoolbus 0.1.0\n")
        #expect(outcome.error.isEmpty)
    }

    @Test func noCommand() {
        let outcome = runCommandLine([])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: missing command
            Usage: spoolbus COMMAND [ARG...]
            See 'spoolbus --help'.

            """)
    }

    @Test func unknownCommandSuggests() {
        let outcome = runCommandLine(["chek", "x"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: unknown command 'chek'; did you mean 'check'?
            Usage: spoolbus COMMAND [ARG...]
            See 'spoolbus --help'.

            """)
        #expect(outcome.output.isEmpty)
    }

    @Test func unknownTopLevelOption() {
        let outcome = runCommandLine(["--verison"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText.hasPrefix("spoolbus: error: unknown option '--verison'; did you mean '--version'?\n"))
    }

    @Test(arguments: [["--help"], ["-h"], ["help"]])
    func topLevelHelp(_ words: [String]) {
        let outcome = runCommandLine(words)
        #expect(outcome.status == 0)
        #expect(outcome.error.isEmpty)
        #expect(outcome.outputText == """
            OVERVIEW: A local message bus: a daemon watches a spool folder and hands each
            message to the handlers its rules name.

            USAGE: spoolbus COMMAND [ARG...]

            OPTIONS:
              --version               Show the version.
              -h, --help              Show help information.

            SUBCOMMANDS:
              run                     Run the daemon in the foreground.
              check                   Check a rules file and print each rule as understood.
              explain                 Show which rules a message would reach, and each argv.
              send                    Drop a message into the spool, atomically.
              status                  Show what the running daemon is doing.
              watch                   Print log lines of matching messages as they happen.
              retry                   Put dead letters back into the spool.
              dead                    List dead letters.
              drop                    Remove dead letters for good.
              completion              Print a shell completion script.
              help                    Show help for a command, or for the rules file.

              See 'spoolbus help COMMAND' for detailed help, 'spoolbus help rules' for the
              rules file.

            """)
    }

    static let runHelp = """
        OVERVIEW: Run the daemon in the foreground.

        Watches the spool and dispatches every message to the handlers the rules name,
        until SIGTERM or SIGINT (a second one stops running handlers at once). SIGHUP
        reopens the log and reloads the rules. Under systemd (NOTIFY_SOCKET set) it
        reports readiness, reloads, stopping, its counters and watchdog pings.

        USAGE: spoolbus run [RULES] [--spool DIR] [--log FILE|-] [--log-max SIZE]
                            [--keep-done DURATION] [--keep-failed DURATION] [--jobs N]
                            [--grace DURATION] [--max-line BYTES] [--control-mode MODE]
                            [--env NAME[=VALUE]]

        ARGUMENTS:
          RULES                   The rules file. (default: ./spoolbus.rules)

        OPTIONS:
          --spool DIR             The spool folder, created if missing. (default:
                                  $SPOOLBUS_SPOOL, else the enclosing spool, else
                                  ./spool)
          --log FILE|-            Where the dispatch log goes; - for stdout. (default:
                                  SPOOL/.spoolbus/dispatch.log)
          --log-max SIZE          Past SIZE (10M, 512K) the log becomes FILE.1 and a new
                                  one starts. (default: no limit)
          --keep-done DURATION    Remove archived messages (.spoolbus/done/) this long
                                  after. (default: kept)
          --keep-failed DURATION  Remove dead letters (.spoolbus/failed/) this long
                                  after. (default: kept)
          --jobs N                Handlers running at once, all rules together.
                                  (default: twice the processors)
          --grace DURATION        How long running handlers may finish after SIGTERM.
                                  (default: 10s)
          --max-line BYTES        The longest FIFO or socket line. (default: 65536)
          --control-mode MODE     Permissions of the control socket, in octal. (default:
                                  0600)
          --env NAME[=VALUE]      Give handlers NAME: this daemon's value, or VALUE.
                                  Repeatable. (default: none)
          -h, --help              Show help information.

        """

    @Test(arguments: [["help", "run"], ["run", "--help"], ["run", "-h"], ["--help", "run"], ["run", "x.rules", "--jobs", "0", "-h"]])
    func runHelpIsTheSameEverywhere(_ words: [String]) {
        let outcome = runCommandLine(words)
        #expect(outcome.status == 0)
        #expect(outcome.outputText == Self.runHelp)
    }

    @Test func everyCommandHasHelp() {
        for command in SpoolBusCommandLine.subcommands {
            let outcome = runCommandLine(["help", command.spec.name])
            #expect(outcome.status == 0)
            #expect(outcome.outputText.hasPrefix("OVERVIEW: " + command.spec.abstract))
            #expect(outcome.outputText.contains("  -h, --help              Show help information.\n"))
            for line in outcome.outputText.split(separator: "\n") { #expect(line.count <= 80) }
        }
    }

    @Test func helpForUnknownCommand() {
        let outcome = runCommandLine(["help", "sned"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: unknown command 'sned'; did you mean 'send'?
            Usage: spoolbus help [COMMAND] [--man]
            See 'spoolbus help help'.

            """)
    }
}

@Suite struct CommandLineRunOptionsTests {
    private func options(_ words: [String]) throws -> DaemonOptions {
        try RunCommand.options(from: ParsedArguments.parse(words.map { Array($0.utf8) }, as: RunCommand.spec))
    }

    @Test func defaults() throws {
        let options = try options([])
        #expect(options.rulesFile == Array("spoolbus.rules".utf8))
        #expect(options.spool == nil)
        #expect(options.log == .spoolDefault)
        #expect(options.jobs == DaemonOptions.defaultJobs)
        #expect(options.grace == .seconds(10))
        #expect(options.maxLine == 65536)
        #expect(options.controlMode == 0o600)
    }

    @Test func everyOption() throws {
        let options = try options(["/etc/bus.rules", "--spool=/srv/spool", "--log", "-", "--jobs", "3",
                                   "--max-line=1024", "--control-mode", "0660"])
        #expect(options.rulesFile == Array("/etc/bus.rules".utf8))
        #expect(options.spool == Array("/srv/spool".utf8))
        #expect(options.log == .standardOutput)
        #expect(options.jobs == 3)
        #expect(options.maxLine == 1024)
        #expect(options.controlMode == 0o660)
        #expect(try self.options(["--log", "/var/log/bus.log"]).log == .file(Array("/var/log/bus.log".utf8)))
    }

    @Test(arguments: [
        (["--jobs", "0"], "invalid value '0' for '--jobs': expected a whole number above 0"),
        (["--jobs=many"], "invalid value 'many' for '--jobs': expected a whole number above 0"),
        (["--max-line", "-1"], "option '--max-line' needs a value"),
        (["--grace", "10"], "invalid value '10' for '--grace': expected a duration like 250ms, 10s, 5m or 1h"),
        (["--control-mode", "0800"], "invalid value '0800' for '--control-mode': expected an octal mode like 0600"),
        (["--control-mode", "7777"], "invalid value '7777' for '--control-mode': expected an octal mode like 0600"),
        (["a.rules", "b.rules"], "unexpected argument 'b.rules'"),
    ] as [([String], String)])
    func badValues(_ words: [String], message: String) {
        let outcome = runCommandLine(["run"] + words)
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: \(message)
            Usage: spoolbus run [RULES] [--spool DIR] [--log FILE|-] [--log-max SIZE]
                                [--keep-done DURATION] [--keep-failed DURATION] [--jobs N]
                                [--grace DURATION] [--max-line BYTES] [--control-mode MODE]
                                [--env NAME[=VALUE]]
            See 'spoolbus help run'.

            """)
    }
}

@Suite struct ShellQuotingTests {
    @Test(arguments: [
        ([UInt8]("inbox/a.msg".utf8), "inbox/a.msg"),
        ([], "''"),
        ([UInt8]("a b".utf8), "'a b'"),
        ([UInt8]("it's".utf8), "'it'\\''s'"),
        ([UInt8]("$(rm -rf /)".utf8), "'$(rm -rf /)'"),
        ([UInt8]("<id>".utf8), "'<id>'"),
        ([UInt8]("café".utf8), "'café'"),
        ([0x66, 0xFF, 0x2E, 0x6D], "$'f\\xff.m'"),
        ([UInt8]("a\nb's\\".utf8), "$'a\\nb\\'s\\\\'"),
        ([0x01], "$'\\x01'"),
        // zsh reads a bare `=ls` as the path of the command ls.
        ([UInt8]("=ls".utf8), "'=ls'"),
        ([UInt8]("a=ls".utf8), "a=ls"),
    ] as [([UInt8], String)])
    func quoting(_ word: [UInt8], _ expected: String) {
        #expect(ShellQuoting.quote(word) == expected)
    }
}

@Suite struct SpoolLocationRuleTests {
    @Test func explicitThenEnvironmentThenCurrentFolder() {
        let cwd = FileSystem.currentDirectory()
        #expect(SpoolLocation.resolve(explicit: Array("/srv/a".utf8), environment: [Array("SPOOLBUS_SPOOL=/srv/b".utf8)]) == Array("/srv/a".utf8))
        #expect(SpoolLocation.resolve(explicit: nil, environment: [Array("SPOOLBUS_SPOOL=/srv/b".utf8)]) == Array("/srv/b".utf8))
        #expect(SpoolLocation.resolve(explicit: nil, environment: [Array("SPOOLBUS_SPOOL=".utf8)]) == cwd + Array("/spool".utf8))
        #expect(SpoolLocation.resolve(explicit: nil, environment: []) == cwd + Array("/spool".utf8))
        #expect(SpoolLocation.resolve(explicit: nil, environment: [Array("SPOOLBUS_SPOOL=rel".utf8)]) == cwd + Array("/rel".utf8))
    }

    @Test func everyCommandThatReachesASpoolTakesTheSameOption() {
        let spoolOptions = SpoolBusCommandLine.subcommands.compactMap { $0.spec.options.first { $0.name == "spool" } }
        #expect(spoolOptions.count >= 6, "run, explain, send, status, watch, retry")
        for option in spoolOptions { #expect(option.defaultText == "$SPOOLBUS_SPOOL, else the enclosing spool, else ./spool") }
    }
}
