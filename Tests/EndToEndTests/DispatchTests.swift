import Glibc
import Testing

/// A complete file in the spool reaches the handlers of the rules it matches, once, whole.
@Suite struct DispatchTests {
    @Test func fileIsDispatchedWithBodyArgvAndEnvironment() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                # line 1 is a comment; the rule is on line 2
                inbox/*.msg  file  ./h/record.sh tag {name} {event} {type} "two words" {id} {path}
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon()
            try sb.drop("inbox/hello.msg", "hello\n")

            let run = try await sb.waitForRun()
            #expect(run.argv.count == 7)
            #expect(Array(run.argv.prefix(5)) == ["tag", "inbox/hello.msg", "file", "file", "two words"].map { Bytes(text: $0) })
            #expect(run.variable("SPOOL_DIR") == sb.spool)
            #expect(run.variable("SPOOL_NAME") == "inbox/hello.msg")
            #expect(run.variable("SPOOL_EVENT") == "file")
            #expect(run.variable("SPOOL_TYPE") == "file")
            #expect(run.variable("SPOOL_RULE") == "2")
            #expect(run.variable("SPOOL_ATTEMPT") == "1")
            #expect(run.variable("SPOOL_PEER_UID") == "\(getuid())")
            #expect(run.variable("SPOOL_PEER_GID") == "\(getgid())")
            #expect((run.variable("SPOOL_PEER_PID") ?? "").isEmpty, "a file message has no sender pid")
            let id = try #require(run.variable("SPOOL_ID"))
            #expect(!id.isEmpty)
            #expect(run.argv.count > 5 && run.argv[5].lossy == id, "{id} is SPOOL_ID")
            let path = try #require(run.variable("SPOOL_PATH"))
            #expect(path.hasPrefix(sb.state("work/")), "SPOOL_PATH is the claimed file: \(path)")
            #expect(run.argv.count > 6 && run.argv[6].lossy == path, "{path} is SPOOL_PATH")
            #expect(run.stdin == Bytes(text: "hello\n"), "stdin is the body")
            #expect(run.pathContent == Bytes(text: "hello\n"), "the claimed file holds the body")
            #expect(run.workingDirectory == sb.root, "handlers run in the rules file's folder")

            try await sb.waitFor("the message to be removed after success") {
                !sb.existsInSpool("inbox/hello.msg") && sb.claimed.isEmpty && !sb.log.lines("ok", id: id).isEmpty
            }

            let start = try #require(sb.log.lines("start").first)
            #expect(start["pid"] == "\(daemon.pid)")
            #expect(start["spool"] == sb.spool)
            #expect(start["rules"] == sb.rulesPath)
            #expect(start["version"] != nil)
            let recv = try #require(sb.log.lines("recv", id: id).first)
            #expect(recv["name"] == "inbox/hello.msg")
            #expect(recv["event"] == "file")
            #expect(recv["size"] == "6")
            let started = try #require(sb.log.lines("run", id: id).first)
            #expect(started["rule"] == "2")
            #expect(started["handler"] == "./h/record.sh")
            #expect(Int32(started["pid"] ?? "") != nil)
            let ok = try #require(sb.log.lines("ok", id: id).first)
            #expect(ok["rule"] == "2")
            #expect(ok["exit"] == "0")

            for raw in sb.log.rawLines {
                #expect(LogLine.parse(raw)?.milliseconds != nil, "not a well-formed log line: \(raw.lossy)")
            }
        }
    }

    @Test func fileMovedInIsDispatched() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh moved {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.moveIn(Bytes(text: "inbox/moved.msg"), Bytes(text: "moved body\n"))

            let run = try await sb.waitForRun()
            #expect(run.argv == ["moved", "inbox/moved.msg"].map { Bytes(text: $0) })
            #expect(run.stdin == Bytes(text: "moved body\n"))
        }
    }

    @Test func dotFileIsIgnoredUntilRenamed() async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh any {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/.draft.msg", "being written\n")
            try sb.drop(".hidden/inner.msg", "in a dot folder\n")
            try sb.drop("inbox/barrier1.msg", "barrier\n")

            // The events are handled in order: once the barrier ran, the dot files were seen.
            try await sb.waitForRuns(1, "run of barrier1") { $0.name == Bytes(text: "inbox/barrier1.msg") }
            #expect(sb.runs.count == 1, "only the barrier ran: \(sb.runs)")
            #expect(sb.existsInSpool("inbox/.draft.msg"), "a dot file is not claimed")

            try Files.rename(sb.spoolPath("inbox/.draft.msg"), sb.spoolPath("inbox/draft.msg"))
            let run = try await sb.waitForRun("run of draft") { $0.name == Bytes(text: "inbox/draft.msg") }
            #expect(run.stdin == Bytes(text: "being written\n"))
            try sb.drop("inbox/barrier2.msg", "barrier\n")
            try await sb.waitForRuns(1, "run of barrier2") { $0.name == Bytes(text: "inbox/barrier2.msg") }
            let names = Set(sb.runs.compactMap { $0.name?.lossy })
            #expect(names == ["inbox/barrier1.msg", "inbox/draft.msg", "inbox/barrier2.msg"])
            #expect(sb.existsInSpool(".hidden/inner.msg"))
            #expect(sb.log.lines("recv").allSatisfy { !($0.bytes("name") ?? []).contains(Bytes(text: ".hidden")) })
        }
    }

    @Test func filesPresentBeforeStartAreDispatched() async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh early {name}\n")
            let names = ["inbox/a.msg", "inbox/b.msg", "deep/er/c.msg", "top.msg"]
            for name in names { try sb.drop(name, "early \(name)\n") }
            try await sb.startDaemon()

            let runs = try await sb.waitForRuns(names.count)
            #expect(Set(runs.compactMap { $0.name?.lossy }) == Set(names))
            for run in runs { #expect(run.stdin == Bytes(text: "early \(run.name?.lossy ?? "")\n")) }
            try await sb.waitFor("every file to be removed") { names.allSatisfy { !sb.existsInSpool($0) } }
        }
    }

    @Test func folderCreatedLaterWithFileWrittenAtOnce() async throws {
        try await withSandbox { sb in
            try sb.writeRules("**/*.msg file ./h/record.sh late {name}\n")
            try await sb.startDaemon()
            // A file written right after mkdir lands before the daemon can watch the new folder:
            // only the scan of the new folder finds it.
            let names = (0..<5).map { "late\($0)/sub/now.msg" }
            for name in names {
                try Files.makeDirectories(sb.spool + "/" + name.split(separator: "/").dropLast().joined(separator: "/"))
                try sb.drop(name, "now\n")
            }
            let runs = try await sb.waitForRuns(names.count)
            #expect(Set(runs.compactMap { $0.name?.lossy }) == Set(names))
            #expect(runs.allSatisfy { $0.stdin == Bytes(text: "now\n") })
        }
    }

    @Test func fileWrittenInTwoHalvesIsDispatchedOnceAndWhole() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh halves {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()

            let fd = try Files.openForWriting(Bytes(text: sb.spoolPath("inbox/halves.msg")))
            var open = true
            defer { if open { close(fd) } }
            try Files.writeAll(fd, Bytes(text: "first half, "))
            try sb.drop("inbox/barrier1.msg", "barrier\n")
            try await sb.waitForRuns(1, "run of barrier1") { $0.name == Bytes(text: "inbox/barrier1.msg") }
            // The pause is part of the scenario (a slow producer), not a synchronisation.
            try await Task.sleep(for: .milliseconds(300))
            #expect(sb.runs(named: "inbox/halves.msg").isEmpty, "a file open for writing is not dispatched")
            #expect(sb.existsInSpool("inbox/halves.msg"), "a file open for writing is not claimed")

            try Files.writeAll(fd, Bytes(text: "second half\n"))
            close(fd)
            open = false
            let run = try await sb.waitForRun("run of halves") { $0.name == Bytes(text: "inbox/halves.msg") }
            #expect(run.stdin == Bytes(text: "first half, second half\n"))

            try sb.drop("inbox/barrier2.msg", "barrier\n")
            try await sb.waitForRuns(1, "run of barrier2") { $0.name == Bytes(text: "inbox/barrier2.msg") }
            try await sb.waitFor("all messages finished") { sb.claimed.isEmpty }
            #expect(sb.runs(named: "inbox/halves.msg").count == 1)
            #expect(sb.log.ids(of: "inbox/halves.msg").count == 1)
        }
    }

    @Test func fanOutReachesEveryMatchingRuleUntilLast() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                inbox/*.msg  file        ./h/record.sh A {name}
                inbox/*      file        ./h/record.sh B {name}
                **           file  last  ./h/record.sh C {name}
                inbox/*.msg  file        ./h/record.sh D {name}
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/a.msg", "fan\n")
            let id = try await sb.waitForID(of: "inbox/a.msg")

            try await sb.waitFor("inbox/a.msg to finish") {
                !sb.existsInSpool("inbox/a.msg") && sb.claimed.isEmpty && sb.log.lines("ok", id: id).count >= 3
            }
            let runs = sb.runs(named: "inbox/a.msg")
            #expect(runs.map(\.tag).sorted() == ["A", "B", "C"], "\(runs)")
            #expect(runs.allSatisfy { $0.stdin == Bytes(text: "fan\n") })
            #expect(Set(sb.log.lines("ok", id: id).compactMap { $0["rule"] }) == ["1", "2", "3"])
            #expect(sb.log.lines("run", id: id).allSatisfy { $0["rule"] != "4" }, "rule 4 comes after a `last` rule")

            try sb.drop("other/z.txt", "only C\n")
            try await sb.waitForRuns(1, "run of other/z.txt") { $0.name == Bytes(text: "other/z.txt") }
            try await sb.waitFor("other/z.txt to finish") { !sb.existsInSpool("other/z.txt") && sb.claimed.isEmpty }
            #expect(sb.runs(named: "other/z.txt").map(\.tag) == ["C"])
        }
    }

    @Test func archiveWinsOverDelete() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                inbox/*.msg  file                ./h/record.sh A
                inbox/*.msg  file  then=archive  ./h/record.sh B
                """)
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/keepme.msg", "archived body\n")

            try await sb.waitForRuns(2)
            try await sb.waitFor("the message to be archived in .spoolbus/done/") {
                !sb.existsInSpool("inbox/keepme.msg") && sb.claimed.isEmpty
                    && Files.walk(sb.state("done")).contains { Files.read(Bytes(text: sb.state("done") + "/") + $0) == Bytes(text: "archived body\n") }
            }
        }
    }

    @Test func keptStateFileIsDispatchedAtStartAndOnEachRewrite() async throws {
        try await withSandbox { sb in
            try sb.writeRules("state/battery file then=keep ./h/record.sh state {name}\n")
            try sb.drop("state/battery", "50\n")
            try await sb.startDaemon()

            try await sb.waitForRuns(1, "run at start") { $0.stdin == Bytes(text: "50\n") }
            #expect(sb.existsInSpool("state/battery"), "a kept state file is never claimed or moved")
            try sb.drop("state/battery", "40\n")
            try await sb.waitForRuns(1, "run after the rewrite") { $0.stdin == Bytes(text: "40\n") }
            #expect(Files.read(sb.spoolPath("state/battery")) == Bytes(text: "40\n"))
            #expect(sb.claimed.isEmpty)
        }
    }

    @Test func fileMatchingNoRuleIsLoggedAsNomatch() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh msg {name}\n")
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            try sb.drop("inbox/stray.txt", "nobody wants me\n")
            try await sb.waitForLine("nomatch for inbox/stray.txt") { line in
                line.verb == "nomatch"
                    && (line.bytes("name") == Bytes(text: "inbox/stray.txt")
                        || sb.log.ids(of: "inbox/stray.txt").contains(line["id"] ?? "-"))
            }
            #expect(sb.runs.isEmpty)
        }
    }

    /// `send` into a folder that does not exist yet: the new folder's scan finds the file and
    /// the file's own event arrives after; one `nomatch`, counted once.
    @Test func aFileInANewFolderIsNomatchOnce() async throws {
        try await withSandbox { sb in
            try sb.writeRules("marker.msg file ./h/record.sh\n")
            try await sb.startDaemon()
            for folder in ["nd1", "nd2", "nd3"] {
                let sent = try await sb.spoolbus(["send", folder + "/q.txt", "x", "--spool", sb.spool])
                #expect(sent.status == .exited(0), "\(sent)")
            }
            // Whatever the daemon does about those files, it did before the marker's ok.
            try sb.drop("marker.msg", "m\n")
            try await sb.waitForLine("the marker's ok") { $0.verb == "ok" }
            for folder in ["nd1", "nd2", "nd3"] {
                let lines = sb.log.lines("nomatch").filter { $0["name"] == folder + "/q.txt" }
                #expect(lines.count == 1, "one nomatch for \(folder)/q.txt:\n\(sb.log.tail(20))")
            }
            let status = try await sb.spoolbus(["status", "--raw", "--spool", sb.spool])
            #expect(status.out.contains("nomatch=3\n"), "\(status)")
        }
    }
}
