import Testing

/// `--keep-done` and `--keep-failed` remove archived messages and dead letters by age.
@Suite struct RetentionTests {
    @Test func expiredDeadLettersArePrunedAndYoungArchivesKept() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("""
                keep/* file then=archive ./h/record.sh
                bad/* file retries=0 ./h/fail.sh

                """)
            try await sb.startDaemon(["--keep-failed", "1s", "--keep-done", "1h"])
            try sb.drop("keep/a", "archived\n")
            try sb.drop("bad/b", "doomed\n")
            // Archived first, so that the check below sees it kept, not yet to come.
            try await sb.waitFor("keep/a archived") { Files.list(sb.state("done")).count == 1 }
            let id = try await sb.waitForID(of: "bad/b")
            let prune = try await sb.waitForLine("prune of bad/b") { $0.verb == "prune" }
            #expect(prune["id"] == id)
            #expect(prune.bytes("name") == Bytes(text: "bad/b"))
            #expect(prune["from"]?.hasPrefix(".spoolbus/failed/") == true, "\(prune)")
            #expect(prune["age"] != nil, "\(prune)")
            try await sb.waitFor("failed/ empty, sidecars too") { Files.list(sb.state("failed")).isEmpty }
            #expect(Files.list(sb.state("done")).count == 1, "an archive younger than --keep-done stays")
            #expect(sb.log.lines("prune").count == 1)
        }
    }

    @Test func archivesPrunedAtStartAndAfterArrival() async throws {
        try await withSandbox { sb in
            try sb.writeRules("keep/* file then=archive ./h/record.sh\n")
            // First without retention: the archive stays.
            let first = try await sb.startDaemon()
            try sb.drop("keep/old", "x\n")
            try await sb.waitFor("keep/old archived") { Files.list(sb.state("done")).count == 1 }
            try await first.stop()
            // Then with it: the start finds what is there and arms the timer for it; a new
            // arrival is pruned in its turn.
            try await sb.startDaemon(["--keep-done", "2s"])
            try await sb.waitForLine("prune of keep/old, found at start") { $0.verb == "prune" && $0["name"] == "keep/old" }
            try sb.drop("keep/new", "y\n")
            // Archived for only 2 s: the prune line says where it was, a poll of done/ can miss it.
            let prune = try await sb.waitForLine("prune of keep/new") { $0.verb == "prune" && $0["name"] == "keep/new" }
            #expect(prune["from"]?.hasPrefix(".spoolbus/done/") == true, "keep/new was archived, then pruned: \(prune)")
            try await sb.waitFor("done/ empty") { Files.list(sb.state("done")).isEmpty }
        }
    }
}
