import Foundation
import Testing

/// `spoolbus send`: an atomic drop into the spool.
@Suite struct SendTests {
    @Test func textArgumentsBecomeTheBody() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["send", "inbox/x.msg", "hello", "world", "--spool", sb.spool])
            #expect(result.status == .exited(0), "\(result)")
            #expect(Files.read(sb.spoolPath("inbox/x.msg")) == Bytes(text: "hello world\n"))
            let printed = result.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(printed == sb.spoolPath("inbox/x.msg") || printed.hasSuffix("inbox/x.msg"), "prints the path: \(result)")
            #expect(Files.walk(sb.state("tmp")).isEmpty, "nothing left behind in .spoolbus/tmp")
        }
    }

    @Test(arguments: [["send", "inbox/y.msg"], ["send", "inbox/y.msg", "-"]])
    func stdinBecomesTheBody(_ arguments: [String]) async throws {
        try await withSandbox { sb in
            let body = Bytes(text: "line one\nline two without newline") + [0x00, 0xFF]
            let result = try await sb.spoolbus(arguments + ["--spool", sb.spool], stdin: body)
            #expect(result.status == .exited(0), "\(result)")
            #expect(Files.read(sb.spoolPath("inbox/y.msg")) == body)
        }
    }

    @Test(arguments: ["../x", "/abs", "a/.b", ".b", "a/../b", "a/./b"])
    func unsafeNamesAreRefused(_ name: String) async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["send", name, "text", "--spool", sb.spool])
            #expect(result.status == .exited(2), "\(result)")
            #expect(result.err.hasPrefix("spoolbus: error: "), "\(result)")
            #expect(Files.walk(sb.spool).allSatisfy { $0.hasPrefix(Bytes(text: ".spoolbus/")) }, "nothing was dropped")
            #expect(!Files.exists(sb.root + "/x") && !Files.exists("/abs"))
        }
    }

    @Test func sentMessageIsDispatchedOnce() async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh sent {name}\n")
            try await sb.startDaemon()
            let result = try await sb.spoolbus(["send", "deep/new/topic.msg", "sent", "text", "--spool", sb.spool])
            #expect(result.status == .exited(0), "\(result)")
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "deep/new/topic.msg"))
            #expect(run.stdin == Bytes(text: "sent text\n"))
            try await sb.waitFor("the message to finish") { sb.claimed.isEmpty && !sb.existsInSpool("deep/new/topic.msg") }
            #expect(sb.runs.count == 1, "the temporary file in .spoolbus/tmp is not a message")
        }
    }
}
