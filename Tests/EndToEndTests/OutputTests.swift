import Glibc
import Testing

/// What handlers print goes to the log, bounded; handlers that flood or crash hurt nobody else.
@Suite struct OutputTests {
    @Test func handlerOutputLinesAreLogged() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("talk.sh", """
                #!/bin/sh
                echo "hello from stdout"
                echo "warning from stderr" >&2
                """)
            try sb.writeRules("inbox/*.msg file ./h/talk.sh\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/talk.msg", "talk\n")
            let id = try await sb.waitForID(of: "inbox/talk.msg")
            try await sb.waitForLine("ok id=\(id)") { $0.verb == "ok" && $0["id"] == id }
            let out = sb.log.lines("out", id: id)
            let values = Set(out.flatMap { $0.fields.map { $0.value } })
            #expect(values.contains(Bytes(text: "hello from stdout")), "\(out)")
            #expect(values.contains(Bytes(text: "warning from stderr")), "\(out)")
        }
    }

    @Test func discardedOutputIsNotLogged() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("talk.sh", "#!/bin/sh\necho \"hello from stdout\"\necho \"to stderr\" >&2\n")
            try sb.writeRules("inbox/*.msg file output=discard ./h/talk.sh\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/quiet.msg", "quiet\n")
            let id = try await sb.waitForID(of: "inbox/quiet.msg")
            try await sb.waitForLine("ok id=\(id)") { $0.verb == "ok" && $0["id"] == id }
            #expect(sb.log.lines("out").isEmpty)
        }
    }

    @Test func floodingHandlerIsBoundedAndTheDaemonSurvives() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("flood.sh", """
                #!/bin/sh
                yes | head -c 50000000
                echo "flood is over" >&2
                """)
            try sb.writeRules("""
                inbox/flood.msg  file  timeout=5m ./h/flood.sh
                inbox/after.msg  file  ./h/record.sh after
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon()
            try sb.drop("inbox/flood.msg", "flood\n")
            let id = try await sb.waitForID(of: "inbox/flood.msg")

            let ok = try await sb.waitForLine("ok id=\(id)", timeout: .seconds(300)) {
                ($0.verb == "ok" || $0.verb == "fail") && $0["id"] == id
            }
            #expect(ok.verb == "ok", "the flooding run still succeeds: \(ok)")
            #expect(daemon.isRunning)
            let outLines = sb.log.lines("out", id: id).count
            #expect(outLines < 50_000, "25 million lines printed, \(outLines) logged: the log is bounded per run")
            #expect((Files.size(sb.logPath) ?? 0) < 8_000_000, "log size \(Files.size(sb.logPath) ?? 0)")

            try sb.drop("inbox/after.msg", "after\n")
            try await sb.waitForRuns(1) { $0.tag == "after" }
        }
    }

    @Test func handlerKilledBySignalIsAFailureNamingTheSignal() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("suicide.sh", "#!/bin/sh\nkill -KILL $$\n")
            try sb.writeRules("""
                inbox/die.msg    file  retries=0 ./h/suicide.sh
                inbox/live.msg   file  ./h/record.sh live
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon()
            try sb.drop("inbox/die.msg", "die\n")
            let id = try await sb.waitForID(of: "inbox/die.msg")

            let fail = try await sb.waitForLine("fail id=\(id)") { $0.verb == "fail" && $0["id"] == id }
            let text = fail.raw.lossy
            #expect(text.contains("KILL") || text.contains("signal=9"), "the failure names the signal: \(text)")
            try await sb.waitForLine("dead id=\(id)") { $0.verb == "dead" && $0["id"] == id }
            #expect(daemon.isRunning)
            try sb.drop("inbox/live.msg", "live\n")
            try await sb.waitForRuns(1) { $0.tag == "live" }
        }
    }
}

/// A flood far past the logged lines is only counted: it ends within its timeout, the log holds
/// the bounded lines and the exact count, and a failure's reason still has the last stderr line.
@Suite struct OutputFloodTests {
    @Test func twoHundredMegabytesOfEmptyLinesAreCountedNotLogged() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("flood.sh", """
                #!/bin/sh
                head -c 200M /dev/zero | tr '\\0' '\\n'
                i=0
                while [ $i -lt 150 ]; do echo "complaint $i" >&2; i=$((i+1)); done
                exit 3
                """)
            try sb.writeRules("flood.msg file timeout=20s retries=0 ./h/flood.sh\n")
            let daemon = try await sb.startDaemon()
            try sb.drop("flood.msg", "flood\n")
            let id = try await sb.waitForID(of: "flood.msg")
            let end = try await sb.waitForLine("the flood's end") {
                ($0.verb == "ok" || $0.verb == "fail") && $0["id"] == id
            }
            #expect(end.verb == "fail" && end["exit"] == "3", "\(end)")
            #expect(end["err"] == "complaint 149", "the last stderr line, read past the cap: \(end)")
            let out = sb.log.lines("out", id: id)
            #expect(sb.outputLines(of: id, stream: "stdout").count == 100)
            #expect(out.first { $0["stream"] == "stdout" && $0["truncated"] != nil }?["truncated"] == "\(200 * 1024 * 1024 - 100)")
            #expect(sb.outputLines(of: id, stream: "stderr").last == "complaint 99")
            try await daemon.stop()
        }
    }
}
