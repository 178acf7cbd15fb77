import Glibc
import Testing

/// The Swift handlers built into the stock binary, run by the real daemon.
@Suite struct SwiftHandlerTests {
    @Test func logAppendsOneEscapedLinePerMessageOrTheRawBody() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                in/*   file   swift:log seen.log
                in/*   file   swift:log bodies.log body
                """)
            try Files.makeDirectories(sb.spool + "/in")
            try await sb.startDaemon()
            try sb.drop(Bytes(text: "in/two words") + [0xFF], Bytes(text: "line one\nline \"two\""))
            try await sb.waitFor("two ok lines") { sb.log.lines("ok").count == 2 }
            let lines = (Files.readText(sb.root + "/seen.log") ?? "").split(separator: "\n")
            #expect(lines.count == 1, "one line per message, whatever the body holds")
            let line = try #require(LogLine.parse(Bytes(text: String(lines[0]))))
            #expect(line.verb == "message")
            #expect(line.bytes("name") == Bytes(text: "in/two words") + [0xFF])
            #expect(line.bytes("body") == Bytes(text: "line one\nline \"two\""))
            #expect(Files.read(sb.root + "/bodies.log") == Bytes(text: "line one\nline \"two\"\n"))
        }
    }

    @Test func forwardRepublishesDurablyUnderANewName() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                in/*         file   swift:forward archive/{name}
                archive/**   file   ./h/record.sh forwarded {name}
                """)
            try Files.makeDirectories(sb.spool + "/in")
            try await sb.startDaemon()
            try sb.drop("in/a.msg", "payload\n")
            let run = try await sb.waitForRun { $0.tag == "forwarded" }
            #expect(run.name == Bytes(text: "archive/in/a.msg"))
            #expect(run.stdin == Bytes(text: "payload\n"))
            #expect(Files.list(sb.state("tmp")).isEmpty, "nothing left half-written")
        }
    }

    @Test func discardWithLastSilencesLaterRules() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                noise/*   file   last swift:discard
                **        file   ./h/record.sh all {name}
                """)
            try Files.makeDirectories(sb.spool + "/noise")
            try await sb.startDaemon()
            try sb.drop("noise/x", "x")
            try sb.drop("signal", "y")
            try await sb.waitForRun { $0.name == Bytes(text: "signal") }
            try await sb.waitFor("noise/x handled and removed") {
                !sb.log.lines("ok").filter { $0["rule"] == "1" }.isEmpty && !sb.existsInSpool("noise/x")
            }
            #expect(sb.runs(named: "noise/x").isEmpty, "the rule after `last` never ran for noise/x")
        }
    }

    @Test func aThrowingSwiftHandlerIsRetriedThenDeadLettered() async throws {
        try await withSandbox { sb in
            // swift:log without its FILE option throws on every run.
            try sb.writeRules("**  file  retries=1 backoff=50ms swift:log")
            try await sb.startDaemon()
            try sb.drop("m", "body\n")
            let dead = try await sb.waitForLine("dead") { $0.verb == "dead" }
            #expect(dead["attempts"] == "2")
            #expect(dead["err"] == "threw: swift:log needs a file: swift:log FILE [line|body]")
            let fails = sb.log.lines("fail")
            #expect(fails.map { $0["attempt"] } == ["1", "2"])
            #expect(fails.first?["retry_in"] == "50ms")
            let kept = try #require(dead["kept"])
            try await sb.waitFor("the dead letter") { Files.read(sb.spool + "/" + kept) == Bytes(text: "body\n") }
        }
    }

    @Test func aRuleNamingAMissingSwiftHandlerIsRefusedAtStart() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                # a handler this binary does not have
                **  file  retries=1 swift:no-such-handler
                """)
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath])
            #expect(result.status == .exited(2))
            #expect(result.err.hasPrefix(sb.rulesPath + ":2:21: error: no Swift handler named 'no-such-handler' in this binary"))
        }
    }

    @Test func aTimedOutSwiftHandlerDoesNotHoldUpOthers() async throws {
        // swift:log to a FIFO nobody reads blocks in open(2): a handler that never returns.
        try await withSandbox { sb in
            try sb.writeRules("""
                stuck/*   file   timeout=1s retries=0 swift:log \(sb.root)/nobody-reads
                quick/*   file   ./h/record.sh quick {name}
                """)
            #expect(mkfifo(sb.root + "/nobody-reads", 0o600) == 0 || errno == EEXIST)
            try Files.makeDirectories(sb.spool + "/stuck")
            try Files.makeDirectories(sb.spool + "/quick")
            try await sb.startDaemon()
            try sb.drop("stuck/a", "x")
            let fail = try await sb.waitForLine("a timeout") { $0.verb == "fail" && $0["timeout"] == "1s" }
            #expect(fail["err"] == "timed out after 1s")
            try sb.drop("quick/b", "y")
            try await sb.waitForRun { $0.tag == "quick" }
            // Unblock the stuck task so the sandbox can be torn down cleanly.
            let fd = open(sb.root + "/nobody-reads", O_RDONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
    }
}
