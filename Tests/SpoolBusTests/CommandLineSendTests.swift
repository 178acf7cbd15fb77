import Foundation
import Testing
@testable import SpoolBus

@Suite struct CommandLineSendTests {
    @Test func sendsTextJoinedBySpaces() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["send", "inbox/deep/hello.msg", "hi", "there", "--spool", folder.join("spool")])
        #expect(outcome.status == 0)
        #expect(outcome.errorText.hasPrefix("spoolbus: warning: no daemon has served '\(folder.join("spool"))'"), "a likely typo")
        #expect(outcome.outputText == folder.join("spool/inbox/deep/hello.msg") + "\n")
        #expect(try folder.read("spool/inbox/deep/hello.msg") == "hi there\n")
        #expect(!folder.exists("spool/.spoolbus"), "send never creates the daemon's state folder")
        #expect(folder.contents("spool/inbox/deep") == ["hello.msg"], "no temporary file is left")
    }

    @Test(arguments: [[], ["-"]])
    func readsStdinWithoutTextOrWithDash(_ texts: [String]) throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let body: [UInt8] = [0x00, 0xFF, 0x0A, 0x41]
        let outcome = runCommandLine(["send", "--spool=" + folder.join("spool"), "raw"] + texts, input: body)
        #expect(outcome.status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.join("spool/raw"))) == Data(body))
    }

    @Test func bodyRules() throws {
        let stdin: () throws -> [UInt8] = { Array("from stdin".utf8) }
        #expect(try SendCommand.body(texts: [], readInput: stdin) == Array("from stdin".utf8))
        #expect(try SendCommand.body(texts: [Array("-".utf8)], readInput: stdin) == Array("from stdin".utf8))
        #expect(try SendCommand.body(texts: [Array("-".utf8), Array("x".utf8)], readInput: stdin) == Array("- x\n".utf8))
        #expect(try SendCommand.body(texts: [Array("a".utf8), Array("".utf8), Array("b".utf8)], readInput: stdin) == Array("a  b\n".utf8))
    }

    @Test func textAfterDoubleDashMayStartWithDash() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["send", "--spool", folder.join("spool"), "--", "m", "--all", "-x"])
        #expect(outcome.status == 0)
        #expect(try folder.read("spool/m") == "--all -x\n")
    }

    @Test func nonUTF8NamePassesThrough() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let name: [UInt8] = [0x78, 0xFF, 0x20, 0x27, 0x24]  // x, 0xff, space, quote, dollar
        let spool = Array(folder.join("spool").utf8)
        let outcome = runCommandLine(bytes: [Array("send".utf8), name, Array("hi".utf8), Array("--spool".utf8), spool])
        #expect(outcome.status == 0)
        #expect(outcome.output == spool + [0x2F] + name + [0x0A])
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.join("spool"))
        #expect(entries.count == 1)  // the message, and no .spoolbus
    }

    @Test func replacesAnExistingMessage() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        #expect(runCommandLine(["send", "state", "1", "--spool", folder.join("s")]).status == 0)
        #expect(runCommandLine(["send", "state", "2", "--spool", folder.join("s")]).status == 0)
        #expect(try folder.read("s/state") == "2\n")
    }

    @Test(arguments: [
        ("/etc/passwd", "names are relative to the spool"),
        ("../x", "'..' would leave the spool"),
        ("inbox/../../x", "'..' would leave the spool"),
        (".hidden", "a component that starts with '.' is never dispatched"),
        ("inbox/.x.tmp", "a component that starts with '.' is never dispatched"),
        (".spoolbus/failed/x", "a component that starts with '.' is never dispatched"),
        ("inbox//x", "empty path component"),
        ("inbox/", "empty path component"),
        ("", "a name cannot be empty"),
    ])
    func refusesBadNames(_ name: String, reason: String) throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["send", name, "hi", "--spool", folder.join("spool")])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: invalid message name '\(name)': \(reason)
            Usage: spoolbus send NAME [TEXT...] [--spool DIR] [--via SOCKET] [--mq /QUEUE]
                                 [--priority N]
            See 'spoolbus help send'.

            """)
        #expect(outcome.output.isEmpty)
        #expect(!folder.exists("spool"))
    }

    @Test func runtimeFailureIsStatusOne() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        try folder.write("spool/inbox", "a file where a folder is needed")
        let outcome = runCommandLine(["send", "inbox/x", "hi", "--spool", folder.join("spool")])
        #expect(outcome.status == 1)
        #expect(outcome.errorText.contains("spoolbus: error: cannot send 'inbox/x': "))
        #expect(outcome.errorText.hasSuffix("(errno 17)\n") || outcome.errorText.hasSuffix("(errno 20)\n"))
        #expect(!outcome.errorText.contains("Usage:"))
    }
}

@Suite struct CommandLineRetryTests {
    /// A spool with dead letters made by hand, named as `ClaimStore` names them, in the state
    /// folders a daemon makes.
    private func spoolWithDeadLetters() throws -> CommandLineTestFolder {
        let folder = try CommandLineTestFolder()
        for name in ["tmp", "work", "done"] {
            try FileManager.default.createDirectory(atPath: folder.join("spool/.spoolbus/" + name), withIntermediateDirectories: true)
        }
        try folder.write("spool/.spoolbus/failed/0193b1f0c2a1-000001.inbox%2Fa.msg", "first\n")
        try folder.write("spool/.spoolbus/failed/0193b1f0c2a1-000001+reason", "exit 1")
        try folder.write("spool/.spoolbus/failed/0193b1f0c2a1-000002.b%25c", "second\n")
        try folder.write("spool/.spoolbus/failed/0193b1f0c2a1-000003.inbox%2Fa.msg", "third\n")
        return folder
    }

    @Test func retriesNamedLetters() throws {
        let folder = try spoolWithDeadLetters()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["retry", "b%c", "--spool", folder.join("spool")])
        #expect(outcome.status == 0)
        #expect(outcome.errorText == "")
        #expect(outcome.outputText == "put back b%c (id 0193b1f0c2a1-000002)\n")
        #expect(try folder.read("spool/b%c") == "second\n")
        #expect(folder.contents("spool/.spoolbus/failed") == [
            "0193b1f0c2a1-000001+reason", "0193b1f0c2a1-000001.inbox%2Fa.msg", "0193b1f0c2a1-000003.inbox%2Fa.msg",
        ])
    }

    @Test func twoLettersOfOneNameDoNotOverwriteEachOther() throws {
        let folder = try spoolWithDeadLetters()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["retry", "inbox/a.msg", "--spool", folder.join("spool")])
        #expect(outcome.status == 1)
        #expect(outcome.outputText == "put back inbox/a.msg (id 0193b1f0c2a1-000001)\n")
        #expect(outcome.errorText == "spoolbus: error: cannot put back 'inbox/a.msg' (0193b1f0c2a1-000003): a file of that name is in the spool already\n")
        #expect(try folder.read("spool/inbox/a.msg") == "first\n")
        #expect(folder.contents("spool/.spoolbus/failed") == ["0193b1f0c2a1-000002.b%25c", "0193b1f0c2a1-000003.inbox%2Fa.msg"])
    }

    @Test func retriesAll() throws {
        let folder = try spoolWithDeadLetters()
        defer { folder.cleanUp() }
        try FileManager.default.removeItem(atPath: folder.join("spool/.spoolbus/failed/0193b1f0c2a1-000003.inbox%2Fa.msg"))
        let outcome = runCommandLine(["retry", "--all", "--spool", folder.join("spool")])
        #expect(outcome.status == 0)
        #expect(outcome.outputText == """
            put back inbox/a.msg (id 0193b1f0c2a1-000001)
            put back b%c (id 0193b1f0c2a1-000002)

            """)
        #expect(folder.contents("spool/.spoolbus/failed") == [])
        #expect(try folder.read("spool/inbox/a.msg") == "first\n")
    }

    @Test func unknownNameIsAnErrorButOthersStillGoBack() throws {
        let folder = try spoolWithDeadLetters()
        defer { folder.cleanUp() }
        let outcome = runCommandLine(["retry", "nope", "b%c", "--spool", folder.join("spool")])
        #expect(outcome.status == 1)
        #expect(outcome.errorText == "spoolbus: error: no dead letter named 'nope'\n")
        #expect(outcome.outputText == "put back b%c (id 0193b1f0c2a1-000002)\n")
    }

    @Test func missingSpoolHasNoDeadLetters() throws {
        let folder = try CommandLineTestFolder()
        defer { folder.cleanUp() }
        let named = runCommandLine(["retry", "x", "--spool", folder.join("none")])
        #expect(named.status == 1)
        #expect(named.errorText == "spoolbus: error: no dead letter named 'x'\n")
        let all = runCommandLine(["retry", "--all", "--spool", folder.join("none")])
        #expect(all.status == 0)
        #expect(all.outputText == "")
        #expect(all.errorText == "spoolbus: no dead letters in '\(folder.join("none"))/.spoolbus/failed'\n")
    }

    @Test(arguments: [
        ([], "nothing to retry: give NAMEs or --all"),
        (["x", "--all"], "give NAMEs or --all, not both"),
    ] as [([String], String)])
    func usageErrors(_ words: [String], message: String) {
        let outcome = runCommandLine(["retry"] + words)
        #expect(outcome.status == 2)
        #expect(outcome.errorText == """
            spoolbus: error: \(message)
            Usage: spoolbus retry [NAME...] [--all] [--spool DIR]
            See 'spoolbus help retry'.

            """)
    }
}

@Suite struct CommandLineRulesFileTests {
    @Test func unreadableRulesFile() {
        let outcome = runCommandLine(["check", "/nonexistent/x.rules"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText == "spoolbus: error: cannot read rules file '/nonexistent/x.rules': No such file or directory (errno 2)\n")
    }

    @Test func explainChecksItsArgumentsBeforeReadingRules() {
        let event = runCommandLine(["explain", "x", "--on", "fil", "--rules", "/nonexistent"])
        #expect(event.status == 2)
        #expect(event.errorText.hasPrefix("""
            spoolbus: error: invalid value 'fil' for '--on': expected file, fifo, socket, node, gone, mq or signal; did you mean 'file'?
            Usage: spoolbus explain NAME [--on EVENT] [--rules FILE] [--spool DIR]

            """))
        let absolute = runCommandLine(["explain", "/x", "--rules", "/nonexistent"])
        #expect(absolute.status == 2)
        #expect(absolute.errorText.hasPrefix("spoolbus: error: invalid message name '/x': names are relative to the spool\n"))
        let missing = runCommandLine(["explain", "x", "--rules", "/nonexistent/r"])
        #expect(missing.errorText == "spoolbus: error: cannot read rules file '/nonexistent/r': No such file or directory (errno 2)\n")
    }
}
