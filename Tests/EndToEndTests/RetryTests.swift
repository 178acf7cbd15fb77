import Testing

/// Failed runs are retried with backoff, then kept as dead letters that `spoolbus retry` revives.
@Suite struct RetryTests {
    static let failingScript = """
        #!/bin/sh
        # Always fails, after saying why on stderr.
        printf '%s\\n' "$SPOOL_ATTEMPT" >> "$OUT/attempts"
        echo "something went wrong early" >&2
        echo "the last words 42" >&2
        exit 3
        """

    /// Fails until `$OUT/heal` exists, then records the run.
    static let healingScript = """
        #!/bin/sh
        if [ -e "$OUT/heal" ]; then exec ./h/record.sh healed "$@"; fi
        echo "not yet healed" >&2
        exit 1
        """

    @Test func failedRunIsRetriedWithBackoffThenKeptAsDeadLetter() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("fail.sh", Self.failingScript)
            try sb.writeRules("inbox/*.msg file retries=2 backoff=100ms ./h/fail.sh {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/doomed.msg", "doomed body\n")
            let id = try await sb.waitForID(of: "inbox/doomed.msg")

            let dead = try await sb.waitForLine("dead id=\(id)") { $0.verb == "dead" && $0["id"] == id }
            #expect(Files.readText(sb.out + "/attempts") == "1\n2\n3\n", "SPOOL_ATTEMPT counts the runs")
            #expect(dead["rule"] == "1")
            #expect(dead["attempts"] == "3")

            let story = sb.log.story(of: id)
            let runs = story.filter { $0.verb == "run" }
            let fails = story.filter { $0.verb == "fail" }
            #expect(runs.count == 3)
            #expect(fails.count == 3)
            #expect(fails.map { $0["attempt"] } == ["1", "2", "3"])
            #expect(fails.allSatisfy { $0["exit"] == "3" })
            #expect(fails.prefix(2).allSatisfy { $0["retry_in"] != nil }, "a failure that will be retried says when")
            if runs.count == 3, fails.count == 3,
               let f1 = fails[0].milliseconds, let r2 = runs[1].milliseconds,
               let f2 = fails[1].milliseconds, let r3 = runs[2].milliseconds {
                // Backoff doubles: 100 ms, then 200 ms (a little slack for millisecond rounding).
                #expect(r2 - f1 >= 95, "first retry after \(r2 - f1) ms")
                #expect(r3 - f2 >= 195, "second retry after \(r3 - f2) ms")
            }

            // The dead letter: content kept under .spoolbus/failed/ with a readable reason.
            let kept = try #require(dead["kept"])
            #expect(kept.hasPrefix(".spoolbus/failed/") || kept.hasPrefix(sb.state("failed/")), "\(kept)")
            let keptPath = kept.hasPrefix("/") ? kept : sb.spool + "/" + kept
            // `dead` is logged when the rule gives up; the file lands in failed/ once the message settles.
            try await sb.waitFor("the dead letter at \(keptPath)") { Files.exists(keptPath) }
            #expect(Files.read(keptPath) == Bytes(text: "doomed body\n"))
            // The reason is the other file beside the kept message (its name is the daemon's choice).
            let keptName = Bytes(text: String(keptPath.dropFirst(sb.state("failed/").count)))
            let reasons = Files.walk(sb.state("failed")).filter { $0 != keptName }
            #expect(reasons.count == 1, "one reason file beside the dead letter: \(reasons.map { $0.lossy })")
            if let reason = reasons.first.flatMap({ Files.readText(sb.state("failed") + "/" + $0.lossy) }) {
                #expect(reason.contains("the last words 42"), "the reason holds the last stderr line:\n\(reason)")
                #expect(reason.contains("3"), "the reason holds the exit status:\n\(reason)")
                #expect(reason.contains("inbox/doomed.msg"), "the reason names the message:\n\(reason)")
            }
            try await sb.waitFor("nothing left in the spool or work/") {
                !sb.existsInSpool("inbox/doomed.msg") && sb.claimed.isEmpty
            }
        }
    }

    @Test func retryPutsDeadLettersBack() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("heal.sh", Self.healingScript)
            try sb.writeRules("inbox/*.msg file retries=0 ./h/heal.sh {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/a.msg", "body a\n")
            try sb.drop("inbox/b.msg", "body b\n")
            try sb.drop("inbox/c.msg", "body c\n")
            try await sb.waitFor("three dead letters") { sb.log.lines("dead").count == 3 }
            try Files.write(sb.out + "/heal", "")

            let one = try await sb.spoolbus(["retry", "inbox/a.msg", "--spool", sb.spool])
            #expect(one.status == .exited(0), "\(one)")
            let a = try await sb.waitForRun("healed run of a") { $0.name == Bytes(text: "inbox/a.msg") }
            #expect(a.stdin == Bytes(text: "body a\n"))
            try await sb.waitFor("a to finish") {
                sb.log.ids(of: "inbox/a.msg").contains { !sb.log.lines("ok", id: $0).isEmpty } && sb.claimed.isEmpty
            }
            #expect(sb.runs(named: "inbox/b.msg").isEmpty, "retry NAME revives only that message")

            let all = try await sb.spoolbus(["retry", "--all", "--spool", sb.spool])
            #expect(all.status == .exited(0), "\(all)")
            let rest = try await sb.waitForRuns(2, "healed runs of b and c") { $0.name != Bytes(text: "inbox/a.msg") }
            #expect(Set(rest.compactMap { $0.name?.lossy }) == ["inbox/b.msg", "inbox/c.msg"])
            #expect(Set(rest.map(\.stdin)) == [Bytes(text: "body b\n"), Bytes(text: "body c\n")])
            let kept = sb.log.lines("dead").compactMap { $0["kept"] }.map { $0.hasPrefix("/") ? $0 : sb.spool + "/" + $0 }
            #expect(kept.count == 3)
            try await sb.waitFor("every message finished and its dead letter gone from failed/") {
                sb.claimed.isEmpty && kept.allSatisfy { !Files.exists($0) }
                    && ["a", "b", "c"].allSatisfy { !sb.existsInSpool("inbox/\($0).msg") }
            }
            #expect(sb.runs.count == 3)
        }
    }
}
