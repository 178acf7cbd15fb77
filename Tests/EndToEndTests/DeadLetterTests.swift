import Foundation
import Testing

/// `spoolbus dead` lists dead letters (plain, `--names`, `--json`); `spoolbus drop` removes
/// them, through the daemon when one runs and directly when none does.
@Suite struct DeadLetterTests {
    /// A name that is not UTF-8 and holds a space: listed, quoted and dropped exactly.
    static let oddName: Bytes = Bytes(text: "inbox/b") + [0xFF] + Bytes(text: " c.msg")

    /// Starts a daemon whose rule always fails, drops `a.msg` and the odd name, and waits for
    /// both to be dead letters.
    @discardableResult
    private func twoDeadLetters(_ sb: Sandbox, _ extra: [String] = []) async throws -> Daemon {
        try sb.writeHandler("fail.sh", "#!/bin/sh\necho 'broken pipe dream' >&2\nexit 3\n")
        try sb.writeRules("inbox/* file retries=0 ./h/fail.sh\n")
        try Files.makeDirectories(sb.spool + "/inbox")
        let daemon = try await sb.startDaemon(extra)
        try sb.drop("inbox/a.msg", "body a\n")
        try sb.drop(Self.oddName, Bytes(text: "body b\n"))
        try await sb.waitFor("two dead letters in failed/") {
            sb.log.lines("dead").count == 2 && Files.list(sb.state("failed")).filter { !$0.contains(Bytes(text: "+")) }.count == 2
        }
        return daemon
    }

    @Test func deadListsEachLetterWithIdAgeAndReason() async throws {
        try await withSandbox { sb in
            try await twoDeadLetters(sb)
            let ids = sb.log.lines("dead").compactMap { $0["id"] }
            let listed = try await sb.spoolbus(["dead", "--spool", sb.spool])
            #expect(listed.status == .exited(0), "\(listed)")
            let lines = listed.out.nonEmptyLines
            #expect(lines.count == 2, "\(listed)")
            let a = try #require(lines.first { $0.hasPrefix("inbox/a.msg ") }, "\(listed)")
            #expect(a.contains("id=\(ids[0])") || a.contains("id=\(ids[1])"), "\(a)")
            #expect(a.contains(" age="), "\(a)")
            #expect(a.contains("reason=\"rule 1: exited with status 3 (1 attempt)\""), "\(a)")
            // Escaped as in the log: quoted, the byte that is not UTF-8 as \xff.
            #expect(lines.contains { $0.hasPrefix("\"inbox/b\\xff c.msg\" id=") }, "\(listed)")

            let names = try await sb.spoolbus(["dead", "--names", "--spool", sb.spool])
            #expect(names.out.nonEmptyLines.sorted() == ["$'inbox/b\\xff c.msg'", "inbox/a.msg"], "\(names)")
            // Each line, read by a shell, is the name's bytes exactly.
            let odd = try #require(names.out.nonEmptyLines.first { $0.hasPrefix("$") })
            let echoed = try await sb.runProgram(["/bin/bash", "-c", "printf %s " + odd])
            #expect(echoed.stdout == Self.oddName)
        }
    }

    @Test func deadJSONParsesAndKeepsNamesThatAreNotUTF8() async throws {
        try await withSandbox { sb in
            try await twoDeadLetters(sb)
            let result = try await sb.spoolbus(["dead", "--json", "--spool", sb.spool])
            #expect(result.status == .exited(0), "\(result)")
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any], "\(result)")
            #expect(document["spool"] as? String == sb.spool)
            let letters = try #require(document["dead"] as? [[String: Any]])
            #expect(letters.count == 2)
            let plain = try #require(letters.first { $0["name"] as? String == "inbox/a.msg" })
            #expect(plain["name_base64"] == nil, "a UTF-8 name is given as it is")
            #expect((plain["age_seconds"] as? Int).map { $0 >= 0 && $0 < 600 } == true)
            #expect((plain["reason"] as? String)?.hasPrefix("rule 1: exited with status 3") == true)
            #expect((plain["details"] as? String)?.contains("broken pipe dream") == true, "details hold the last stderr lines")
            let odd = try #require(letters.first { $0["name_base64"] != nil })
            let exact = try #require(Data(base64Encoded: odd["name_base64"] as? String ?? ""))
            #expect(Bytes(exact) == Self.oddName, "name_base64 holds the exact bytes")
        }
    }

    @Test func dropRemovesLettersThroughTheDaemonThenWithoutIt() async throws {
        try await withSandbox { sb in
            let daemon = try await twoDeadLetters(sb)
            let missing = try await sb.spoolbus(["drop", "inbox/nope.msg", "--spool", sb.spool])
            #expect(missing.status == .exited(1))
            #expect(missing.err.contains("no dead letter named 'inbox/nope.msg'"), "\(missing)")

            let listed = try await sb.spoolbus(["dead", "--spool", sb.spool])
            let oddLine = try #require(listed.out.nonEmptyLines.first { !$0.hasPrefix("inbox/a.msg") })
            let shown = try #require(oddLine.components(separatedBy: " id=").first)
            let dropped = try await sb.spoolbus(bytes: [Bytes(text: "drop"), Self.oddName, Bytes(text: "--spool"), Bytes(text: sb.spool)])
            #expect(dropped.status == .exited(0), "\(dropped)")
            #expect(dropped.out.hasPrefix("dropped \(shown) (id "), "drop prints the name as dead does (\(shown)): \(dropped)")
            let line = try await sb.waitForLine("drop of the odd name") { $0.verb == "drop" }
            #expect(line.bytes("name") == Self.oddName, "the daemon logs what it dropped")
            let left = try await sb.spoolbus(["dead", "--names", "--spool", sb.spool])
            #expect(left.out.nonEmptyLines == ["inbox/a.msg"], "\(left)")

            try await daemon.stop()
            let all = try await sb.spoolbus(["drop", "--all", "--spool", sb.spool])
            #expect(all.status == .exited(0), "\(all)")
            #expect(all.out.contains("dropped inbox/a.msg"), "\(all)")
            #expect(Files.list(sb.state("failed")).isEmpty, "entries and their sidecars are gone: \(Files.list(sb.state("failed")).map(\.lossy))")
            let none = try await sb.spoolbus(["dead", "--spool", sb.spool])
            #expect(none.status == .exited(0) && none.out.isEmpty, "\(none)")
        }
    }

    @Test func dropThroughTheDaemonIsOnlyForItsUserAndRoot() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            // Others may ask for status and watch, and so may try to drop.
            try await twoDeadLetters(sb, ["--control-mode", "0666"])
            let attempt = try Attacker.run([spoolbusBinary, "drop", "--all", "--spool", sb.spool])
            #expect(attempt.status == 1, "\(attempt)")
            #expect(attempt.stderr.contains("drop is only for the daemon's user"), "\(attempt)")
            let left = try await sb.spoolbus(["dead", "--names", "--spool", sb.spool])
            #expect(left.out.nonEmptyLines.count == 2, "nothing was dropped: \(left)")
            #expect(sb.log.lines("drop").isEmpty)
        }
    }

    @Test func dropNeedsNamesOrAll() async throws {
        try await withSandbox { sb in
            let bare = try await sb.spoolbus(["drop", "--spool", sb.spool])
            #expect(bare.status == .exited(2), "\(bare)")
            let both = try await sb.spoolbus(["drop", "--all", "x", "--spool", sb.spool])
            #expect(both.status == .exited(2), "\(both)")
        }
    }
}
