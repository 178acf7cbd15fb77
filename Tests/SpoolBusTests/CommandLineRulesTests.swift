import Foundation
import Testing
@testable import SpoolBus

/// `check` and `explain` against the real rules parser (these need the rules branch).
@Suite struct CommandLineRulesTests {
    static let sampleRules = """
        # spoolbus.rules
        listen  ask.sock  mode=0666
        mkfifo  events

        inbox/*.msg   file             timeout=10s  ./handlers/notify.sh {name} {path}
        **/*.json     file             then=archive swift:log {event}
        events        fifo             concurrency=1 ./handlers/on-event.sh {type}
        ask.sock      socket           reply        ./handlers/answer.sh
        inbox/*       file             last         sh -c 'echo "$1"' _ {name}
        **            node,gone,file                ./handlers/audit.sh {event} {type} {id}

        """

    /// A folder holding `spoolbus.rules` with `sampleRules` and its handler programs.
    private func folderWithRules(_ text: String = sampleRules) throws -> CommandLineTestFolder {
        let folder = try CommandLineTestFolder()
        try folder.write("spoolbus.rules", text)
        for handler in ["notify.sh", "on-event.sh", "answer.sh", "audit.sh"] {
            try folder.write("handlers/" + handler, "#!/bin/sh\n")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.join("handlers/" + handler))
        }
        return folder
    }

    @Test func checkReportsWhatOnlyThisSystemCanTell() throws {
        let folder = try folderWithRules("""
            a   file   user=no-such-user-here ./handlers/notify.sh
            b   file   swift:no-such-handler
            c   file   ./handlers/missing.sh
            d   file   ./spoolbus.rules
            e   file   sh -c 'exit 0'
            """)
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["check", folder.join("spoolbus.rules")])
        #expect(outcome.status == 2)
        let file = folder.join("spoolbus.rules")
        #expect(outcome.errorText == """
            \(file):1:12: error: no such user 'no-such-user-here'
            \(file):2:12: error: no Swift handler named 'no-such-handler' in this binary (it has broadcast, discard, forward, log)
            \(file):3:12: error: handler program '\(folder.path)/handlers/missing.sh' does not exist
            \(file):4:12: error: handler program '\(folder.path)/spoolbus.rules' is not executable (chmod +x)

            """)
    }

    private func defaults(_ folder: CommandLineTestFolder, _ line: Int, _ pattern: String, on events: String, _ options: [String: String] = [:]) -> String {
        var values = ["timeout": "30s", "retries": "3", "backoff": "1s", "concurrency": "unlimited", "then": "delete",
                      "user": "(daemon)", "stdin": "body", "output": "log", "reply": "off", "last": "off",
                      "worker": "off", "log": "all"]
        values.merge(options) { $1 }
        let order = ["timeout", "retries", "backoff", "concurrency", "then", "user", "stdin", "output", "reply", "last", "worker", "log"]
        return "line \(line): \(pattern) on \(events) " + order.map { "\($0)=\(values[$0]!)" }.joined(separator: " ")
    }

    @Test func checkPrintsDirectivesAndRulesInFileOrder() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["check", folder.join("spoolbus.rules")])
        #expect(outcome.status == 0)
        #expect(outcome.errorText == "")
        let root = folder.path
        #expect(outcome.outputText == """
            line 2: listen ask.sock mode=0666 type=stream
            line 3: mkfifo events mode=0622
            \(defaults(folder, 5, "inbox/*.msg", on: "file", ["timeout": "10s"])) -> \(root)/handlers/notify.sh {name} {path}
            \(defaults(folder, 6, "**/*.json", on: "file", ["then": "archive"])) -> swift:log {event}
            \(defaults(folder, 7, "events", on: "fifo", ["concurrency": "1"])) -> \(root)/handlers/on-event.sh {type}
            \(defaults(folder, 8, "ask.sock", on: "socket", ["reply": "on", "retries": "0"])) -> \(root)/handlers/answer.sh
            \(defaults(folder, 9, "inbox/*", on: "file", ["last": "on"])) -> sh -c "echo \\"$1\\"" _ {name}
            \(defaults(folder, 10, "**", on: "node,gone,file")) -> \(root)/handlers/audit.sh {event} {type} {id}

            """)
    }

    @Test func checkReportsEveryErrorWithThePathAsWritten() throws {
        let folder = try folderWithRules("inbox/*  file  tmeout=1s  ./x\n** fil ./y\n")
        defer { folder.cleanUp() }
        let path = folder.join("spoolbus.rules")
        let outcome = runCommandLine(["check", path])
        #expect(outcome.status == 2)
        #expect(outcome.output.isEmpty)
        let lines = outcome.errorText.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("\(path):1:16: error: ") == true)
        #expect(lines.last?.hasPrefix("\(path):2:4: error: ") == true)
    }

    @Test func explainFollowsTheFanOutUntilLast() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let root = folder.path
        let outcome = runCommandLine(["explain", "inbox/a.msg", "--rules", folder.join("spoolbus.rules"), "--spool", folder.join("spool")])
        #expect(outcome.status == 0)
        #expect(outcome.errorText == "")
        #expect(outcome.outputText == """
            inbox/a.msg on file reaches 2 rules, in this order:

            \(defaults(folder, 5, "inbox/*.msg", on: "file", ["timeout": "10s"])) -> \(root)/handlers/notify.sh {name} {path}
              argv: \(root)/handlers/notify.sh inbox/a.msg '\(root)/spool/.spoolbus/work/<id>.inbox%2Fa.msg'

            \(defaults(folder, 9, "inbox/*", on: "file", ["last": "on"])) -> sh -c "echo \\"$1\\"" _ {name}
              argv: sh -c 'echo "$1"' _ inbox/a.msg
              last: no later rule is tried (skips line 10)

            """)
    }

    @Test func explainQuotesNonUTF8Names() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let name: [UInt8] = Array("inbox/x".utf8) + [0xFF, 0x20] + Array("$(id).msg".utf8)
        let outcome = runCommandLine(bytes: [Array("explain".utf8), name, Array("--rules".utf8), Array(folder.join("spoolbus.rules").utf8)])
        #expect(outcome.status == 0)
        let lines = outcome.outputText.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "$'inbox/x\\xff $(id).msg' on file reaches 2 rules, in this order:")
        #expect(lines.contains("  argv: sh -c 'echo \"$1\"' _ $'inbox/x\\xff $(id).msg'"))
    }

    @Test func explainOtherEvents() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let rules = folder.join("spoolbus.rules")
        let fifo = runCommandLine(["explain", "events", "--on", "fifo", "--rules", rules])
        #expect(fifo.outputText.hasPrefix("events on fifo reaches 1 rule:\n\nline 7: "))
        #expect(fifo.outputText.hasSuffix("\n  argv: \(folder.path)/handlers/on-event.sh fifo\n"))

        let json = runCommandLine(["explain", "a/b.json", "--on=file", "--rules", rules])
        #expect(json.outputText.contains("\n  argv: swift:log file\n"))
        #expect(json.outputText.contains("\n  argv: \(folder.path)/handlers/audit.sh file file '<id>'\n"))

        let node = runCommandLine(["explain", "x.json", "--on", "node", "--rules", rules])
        #expect(node.outputText.hasSuffix("\n  argv: \(folder.path)/handlers/audit.sh node '<type>' '<id>'\n"))
    }

    @Test func explainWithoutMatch() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["explain", "zz", "--on", "socket", "--rules", folder.join("spoolbus.rules")])
        #expect(outcome.status == 0)
        #expect(outcome.outputText == "no rule matches zz on socket\n")
    }

    @Test func explainDotNames() throws {
        let folder = try folderWithRules()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["explain", "inbox/.a.tmp", "--rules", folder.join("spoolbus.rules")])
        #expect(outcome.status == 0)
        #expect(outcome.outputText.hasPrefix("inbox/.a.tmp is never dispatched: "))
    }

    @Test func explainWithInvalidRules() throws {
        let folder = try folderWithRules("** fil ./y\n")
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["explain", "a", "--rules", folder.join("spoolbus.rules")])
        #expect(outcome.status == 2)
        #expect(outcome.output.isEmpty)
        #expect(outcome.errorText.hasPrefix(folder.join("spoolbus.rules") + ":1:4: error: "))
    }
}
