import Glibc
import Testing

/// The harness checks itself, so that a failure elsewhere is about the daemon, not the harness.
@Suite struct TestSupportTests {
    @Test func logLineWithPlainValues() throws {
        let line = try #require(LogLine.parse(Bytes(text: "2026-11-21T22:40:16.123Z recv    id=0193b1f0c2a1-000001 name=inbox/hello.msg event=file size=6")))
        #expect(line.verb == "recv")
        #expect(line["id"] == "0193b1f0c2a1-000001")
        #expect(line["name"] == "inbox/hello.msg")
        #expect(line["size"] == "6")
        #expect(line["missing"] == nil)
        #expect(line.milliseconds == 1_795_300_816_123)
    }

    @Test func logLineWithQuotedValues() throws {
        let text = #"2026-11-21T22:40:17.002Z fail    id=x rule=6 err="no such \"user\" \\ here" name="caf\xe9\n\tz" empty="""#
        let line = try #require(LogLine.parse(Bytes(text: text)))
        #expect(line["err"] == #"no such "user" \ here"#)
        #expect(line.bytes("name") == Bytes(text: "caf") + [0xE9, 10, 9] + Bytes(text: "z"))
        #expect(line.bytes("empty") == [])
        #expect(line["rule"] == "6")
    }

    @Test(arguments: [
        "",
        "2026-11-21T22:40:17.002Z",
        #"2026-11-21T22:40:17.002Z fail err="unterminated"#,
        #"2026-11-21T22:40:17.002Z fail err="bad \q escape""#,
        "2026-11-21T22:40:17.002Z fail novalue",
        #"2026-11-21T22:40:17.002Z fail a="x"b=1"#,
    ])
    func malformedLogLinesAreRejected(_ text: String) {
        #expect(LogLine.parse(Bytes(text: text)) == nil)
    }

    @Test func bytesHelpers() {
        #expect(Bytes(text: "a\u{0}b\u{0}").pieces(separatedBy: 0) == [Bytes(text: "a"), Bytes(text: "b")])
        #expect(Bytes(text: "a\u{0}\u{0}").pieces(separatedBy: 0) == [Bytes(text: "a"), []])
        #expect(Bytes().pieces(separatedBy: 0) == [])
        #expect(Bytes(text: "hello world").contains(Bytes(text: "o w")))
        #expect(!Bytes(text: "hello").contains(Bytes(text: "hello!")))
    }

    @Test func tearDownKillsWhatASandboxLeftBehind() async throws {
        var orphan: pid_t = 0
        try await withSandbox { sb in
            try sb.writeHandler("orphan.sh", """
                #!/bin/sh
                sleep 1000 &
                echo $! > "$OUT/orphan.pid"
                """)
            let child = try Spawner.spawn(
                [Bytes(text: sb.handlers + "/orphan.sh")], environment: sb.environment, directory: "/",
                stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null", label: "orphan.sh")
            try await sb.waitFor("orphan.sh to exit") { !child.isRunning }
            try await sb.waitFor("the orphan's pid") { Files.readText(sb.out + "/orphan.pid")?.hasSuffix("\n") == true }
            orphan = pid_t(Files.readText(sb.out + "/orphan.pid")!.dropLast())!
            #expect(!Leftovers.isGone(orphan))
        }
        #expect(orphan > 0 && Leftovers.isGone(orphan))
    }

    @Test func recorderRecordsBytesExactly() async throws {
        try await withSandbox { sb in
            let odd = Bytes(text: "x ") + [0xFF, 10] + Bytes(text: "$(y)")
            var environment = sb.environment
            environment["SPOOL_EVENT"] = "file"
            try Files.write(Bytes(text: sb.root + "/input"), Bytes(text: "in\n"))
            let child = try Spawner.spawn(
                [Bytes(text: sb.handlers + "/record.sh"), Bytes(text: "tag"), odd, []], environment: environment,
                directory: sb.root, stdin: sb.root + "/input", stdout: "/dev/null", stderr: sb.root + "/rec.err", label: "record.sh")
            let run = try await sb.waitForRun()
            #expect(run.argv == [Bytes(text: "tag"), odd, []])
            #expect(run.environment == ["SPOOL_EVENT": Bytes(text: "file")])
            #expect(run.stdin == Bytes(text: "in\n"))
            #expect(run.workingDirectory == sb.root)
            try await sb.waitFor("record.sh to exit") { !child.isRunning }
            #expect(child.poll() == .exited(0), "\(Files.readText(sb.root + "/rec.err") ?? "")")
        }
    }
}
