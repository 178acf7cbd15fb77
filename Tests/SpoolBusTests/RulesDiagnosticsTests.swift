import Testing
@testable import SpoolBus

/// Every error message of the rules parser, with the exact place it points at.
struct RulesDiagnosticsTests {
    static let singleErrors: [(String, String)] = [
        // words
        ("x file h 'abc", "1:10: error: unterminated single quote"),
        ("x file h \"abc", "1:10: error: unterminated double quote"),
        ("x file h a\u{0}b", "1:11: error: NUL byte in rules file"),
        // patterns
        ("/abs file h", "1:1: error: pattern must be relative (no leading '/')"),
        ("'' file h", "1:1: error: empty pattern"),
        ("inbox/[ab file h", "1:7: error: unterminated '[' in pattern"),
        ("in[z-a] file h", "1:4: error: invalid range 'z-a' in pattern"),
        // events
        ("x", "1:2: error: missing events after the pattern (file, fifo, socket, node, gone, mq, signal)"),
        ("x   # comment", "1:2: error: missing events after the pattern (file, fifo, socket, node, gone, mq, signal)"),
        ("x files h", "1:3: error: unknown event 'files'; did you mean 'file'?"),
        ("x file,sockte h", "1:8: error: unknown event 'sockte'; did you mean 'socket'?"),
        ("x message h", "1:3: error: unknown event 'message'; expected file, fifo, socket, node, gone, mq or signal"),
        ("x file, h", "1:8: error: empty event in list"),
        ("x ,file h", "1:3: error: empty event in list"),
        ("x file,,fifo h", "1:8: error: empty event in list"),
        ("x '' h", "1:3: error: missing events after the pattern (file, fifo, socket, node, gone, mq, signal)"),
        ("x file,fifo,file h", "1:13: error: duplicate event 'file'"),
        // options
        ("x file tiemout=5s h", "1:8: error: unknown option 'tiemout'; did you mean 'timeout'?"),
        ("x file retry=5 h", "1:8: error: unknown option 'retry'; did you mean 'retries'?"),
        ("x file colour=red h", "1:8: error: unknown option 'colour'"),
        ("x file concur=2 h", "1:8: error: unknown option 'concur'; did you mean 'concurrency'?"),
        ("x file LANG=C h", "1:8: error: unknown option 'LANG'"),
        ("x file timeout=5 h", "1:16: error: invalid timeout '5'; expected an integer and a unit, like 250ms, 10s, 5m or 1h"),
        ("x file timeout= h", "1:16: error: invalid timeout ''; expected an integer and a unit, like 250ms, 10s, 5m or 1h"),
        ("x file timeout=0s h", "1:16: error: timeout must be greater than zero"),
        ("x file backoff=1.5s h", "1:16: error: invalid backoff '1.5s'; expected an integer and a unit, like 250ms, 10s, 5m or 1h"),
        ("x file retries=-1 h", "1:16: error: invalid retries '-1'; expected a whole number, 0 or more"),
        ("x file retries=many h", "1:16: error: invalid retries 'many'; expected a whole number, 0 or more"),
        ("x file concurrency=0 h", "1:20: error: invalid concurrency '0'; expected a whole number, 1 or more"),
        ("x file then=move h", "1:13: error: invalid then 'move'; expected delete, archive or keep"),
        ("x file stdin=file h", "1:14: error: invalid stdin 'file'; expected body or none"),
        ("x file output=stderr h", "1:15: error: invalid output 'stderr'; expected log or discard"),
        ("x file user= h", "1:13: error: invalid user ''; expected NAME or NAME:GROUP"),
        ("x file user=a: h", "1:13: error: invalid user 'a:'; expected NAME or NAME:GROUP"),
        ("x file user=:g h", "1:13: error: invalid user ':g'; expected NAME or NAME:GROUP"),
        ("x file user=a:b:c h", "1:13: error: invalid user 'a:b:c'; expected NAME or NAME:GROUP"),
        ("x socket reply=yes h", "1:10: error: 'reply' takes no value; write just 'reply'"),
        ("x file last=1 h", "1:8: error: 'last' takes no value; write just 'last'"),
        ("x file timeout=1s timeout=2s h", "1:19: error: duplicate option 'timeout'"),
        ("x socket reply reply h", "1:16: error: duplicate option 'reply'"),
        ("x file reply h", "1:8: error: 'reply' needs 'socket' among the events"),
        ("x fifo then=archive h", "1:8: error: then=archive needs 'file' among the events"),
        ("x fifo,socket then=keep h", "1:15: error: then=keep needs 'file' among the events"),
        // handler
        ("x file", "1:7: error: missing handler"),
        ("x file timeout=1s last  ", "1:23: error: missing handler"),
        ("x file swift:", "1:14: error: missing Swift handler name after 'swift:'"),
        ("x file '' a", "1:8: error: empty program name"),
        ("x file ./{name}.sh", "1:10: error: placeholder '{name}' is not allowed in the program; pass it as an argument"),
        ("x file h {nmae}", "1:10: error: unknown placeholder '{nmae}'; did you mean '{name}'?"),
        ("x file h \"--x={file}\"", "1:15: error: unknown placeholder '{file}'"),
        ("x file swift:log {Name}", "1:18: error: unknown placeholder '{Name}'; did you mean '{name}'?"),
        ("x file {foo}", "1:8: error: unknown placeholder '{foo}'"),
        // directives
        ("listen", "1:7: error: missing socket name after 'listen'"),
        ("mkfifo  # no name", "1:7: error: missing FIFO name after 'mkfifo'"),
        ("listen ''", "1:8: error: listen name must not be empty"),
        ("listen /run/x.sock", "1:8: error: listen name '/run/x.sock' must be relative"),
        ("listen a//b", "1:10: error: listen name 'a//b' must not have an empty component"),
        ("listen a/", "1:10: error: listen name 'a/' must not have an empty component"),
        ("mkfifo a/../b", "1:10: error: mkfifo name 'a/../b' must not contain '..'"),
        ("mkfifo a/.hidden", "1:10: error: mkfifo name 'a/.hidden' must not have a component starting with '.'"),
        ("mkfifo .spoolbus/x", "1:8: error: mkfifo name '.spoolbus/x' must not have a component starting with '.'"),
        ("listen *.sock", "1:8: error: listen name '*.sock' must not be a glob"),
        ("mkfifo ev[12]", "1:10: error: mkfifo name 'ev[12]' must not be a glob"),
        ("listen a.sock mode=0999", "1:20: error: invalid mode '0999'; expected an octal mode from 0 to 0777"),
        ("listen a.sock mode=01000", "1:20: error: invalid mode '01000'; expected an octal mode from 0 to 0777"),
        ("mkfifo f mode=rw", "1:15: error: invalid mode 'rw'; expected an octal mode from 0 to 0777"),
        ("listen a.sock type=udp", "1:20: error: invalid type 'udp'; expected stream, seqpacket or dgram"),
        ("listen a.sock typ=dgram", "1:15: error: unknown listen option 'typ'; did you mean 'type'?"),
        ("mkfifo f type=dgram", "1:10: error: unknown mkfifo option 'type'"),
        ("listen a.sock mode=0600 mode=0600", "1:25: error: duplicate option 'mode'"),
        ("listen a.sock extra", "1:15: error: unexpected word 'extra'; expected listen NAME [mode=MODE] [type=TYPE] [durable]"),
        ("mkfifo f g", "1:10: error: unexpected word 'g'; expected mkfifo NAME [mode=MODE] [durable]"),
    ]

    @Test(arguments: singleErrors)
    func reports(text: String, expected: String) {
        #expect(diagnostics(text) == ["spoolbus.rules:" + expected])
    }

    @Test func duplicateNamesPointAtTheSecond() {
        let text = """
        listen  ask.sock
        mkfifo  events
        mkfifo  ask.sock
        listen  "events"
        """
        #expect(diagnostics(text) == [
            "spoolbus.rules:3:9: error: duplicate name 'ask.sock' (already declared on line 1)",
            "spoolbus.rules:4:9: error: duplicate name 'events' (already declared on line 2)",
        ])
    }

    @Test func errorsOnContinuationLinesPointAtThePhysicalLine() {
        let text = """
        # comment
        inbox/*.msg file \\
            timeout=10x \\
              ./h {nope} \\
            "unterminated
        ok file h
        x fifo \\
          then=archive h
        """
        #expect(diagnostics(text) == [
            "spoolbus.rules:5:5: error: unterminated double quote",
            "spoolbus.rules:8:3: error: then=archive needs 'file' among the events",
        ])
        let noQuote = """
        inbox/*.msg file \\
            timeout=10x \\
              ./h {nope}
        """
        #expect(diagnostics(noQuote) == [
            "spoolbus.rules:2:13: error: invalid timeout '10x'; expected an integer and a unit, like 250ms, 10s, 5m or 1h",
            "spoolbus.rules:3:11: error: unknown placeholder '{nope}'",
        ])
    }

    @Test func missingHandlerOnAContinuedLinePointsPastTheLastWord() {
        #expect(diagnostics("x \\\n  file \\\n\n") == ["spoolbus.rules:2:7: error: missing handler"])
    }

    @Test func columnsCountBytes() {
        // "é" is two bytes, so the bad option starts at byte column 12, not 11.
        #expect(diagnostics("caf\u{E9} file bad=1 h") == ["spoolbus.rules:1:12: error: unknown option 'bad'"])
        let text: [UInt8] = bytes("x") + [0xFF] + bytes(" file h {bad}")
        guard case .failure(let error) = RulesParser.parse(text, file: "r", directory: rulesDirectory) else {
            Issue.record("parsed"); return
        }
        #expect(error.diagnostics == [Diagnostic(file: "r", line: 1, column: 11, message: "unknown placeholder '{bad}'")])
    }

    @Test func nonUTF8TokensAreShownEscaped() {
        let text: [UInt8] = bytes("x f") + [0xFF] + bytes(" h\nlisten /a") + [0xFE]
        guard case .failure(let error) = RulesParser.parse(text, file: "r", directory: rulesDirectory) else {
            Issue.record("parsed"); return
        }
        #expect(error.description == """
        r:1:3: error: unknown event 'f\\xff'; expected file, fifo, socket, node, gone, mq or signal
        r:2:8: error: listen name '/a\\xfe' must be relative
        """)
    }

    @Test func swiftHandlerNamesMustBeUTF8() {
        let text: [UInt8] = bytes("x file swift:a") + [0xFF]
        guard case .failure(let error) = RulesParser.parse(text, file: "r", directory: rulesDirectory) else {
            Issue.record("parsed"); return
        }
        #expect(error.description == "r:1:14: error: Swift handler name 'a\\xff' is not valid UTF-8")
    }

    @Test func allErrorsAreReportedInFileOrder() {
        let text = """
        listen
        a fil h
        good file h
        b file timeout=x retries=y {foo} {bar}
        c socket,fifo then=keep reply tiemout=1s
        """
        #expect(diagnostics(text) == [
            "spoolbus.rules:1:7: error: missing socket name after 'listen'",
            "spoolbus.rules:2:3: error: unknown event 'fil'; did you mean 'file'?",
            "spoolbus.rules:4:16: error: invalid timeout 'x'; expected an integer and a unit, like 250ms, 10s, 5m or 1h",
            "spoolbus.rules:4:26: error: invalid retries 'y'; expected a whole number, 0 or more",
            "spoolbus.rules:4:28: error: unknown placeholder '{foo}'",
            "spoolbus.rules:4:34: error: unknown placeholder '{bar}'",
            "spoolbus.rules:5:15: error: then=keep needs 'file' among the events",
            "spoolbus.rules:5:31: error: unknown option 'tiemout'; did you mean 'timeout'?",
            "spoolbus.rules:5:41: error: missing handler",
        ])
    }

    @Test func aLineWithAnErrorDoesNotHideTheNextRules() {
        #expect(diagnostics("x 'open\ny file h\nz nope h") == [
            "spoolbus.rules:1:3: error: unterminated single quote",
            "spoolbus.rules:3:3: error: unknown event 'nope'; did you mean 'node'?",
        ])
    }

    @Test func errorDescriptionIsOneDiagnosticPerLine() {
        let error = RulesError(diagnostics: [
            Diagnostic(file: "a.rules", line: 1, column: 2, message: "first"),
            Diagnostic(file: "a.rules", line: 3, column: 4, message: "second"),
        ])
        #expect(error.description == "a.rules:1:2: error: first\na.rules:3:4: error: second")
    }
}
