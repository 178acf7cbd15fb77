import Glibc
import Testing

/// The rules file is reloaded when it changes on disk and on SIGHUP; a broken edit changes nothing.
@Suite struct ReloadTests {
    static func rules(_ tag: String) -> String { "inbox/*.msg file ./h/record.sh \(tag) {name}\n" }

    /// Drops `inbox/<name>` and returns the tag of the rule that handled it.
    func dispatch(_ sb: Sandbox, _ name: String) async throws -> String {
        try sb.drop("inbox/\(name)", "\(name)\n")
        let run = try await sb.waitForRuns(1, "run of \(name)") { $0.name == Bytes(text: "inbox/\(name)") }
        return run.first?.tag ?? ""
    }

    @Test func rulesWrittenInPlaceTakeEffect() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules("OLD"))
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            #expect(try await dispatch(sb, "a.msg") == "OLD")

            try sb.writeRules(Self.rules("NEW"))
            try await sb.waitFor("a reload line") { sb.log.lines("reload").count >= 1 }
            #expect(try await dispatch(sb, "b.msg") == "NEW")
            #expect(sb.log.lines("error").isEmpty, "\(sb.log.lines("error"))")
        }
    }

    @Test func rulesReplacedByRenameTakeEffectEveryTime() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules("FIRST"))
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            #expect(try await dispatch(sb, "a.msg") == "FIRST")

            // Editors save by writing a new file and renaming it over the old one; the daemon must
            // keep following the name, not the first file's inode.
            for (round, tag) in ["SECOND", "THIRD", "FOURTH"].enumerated() {
                try sb.replaceRules(Self.rules(tag))
                try await sb.waitFor("reload number \(round + 1)") { sb.log.lines("reload").count >= round + 1 }
                #expect(try await dispatch(sb, "\(tag).msg") == tag)
            }
        }
    }

    @Test func brokenEditKeepsTheOldRules() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules("OLD"))
            try Files.makeDirectories(sb.spool + "/inbox")
            try await sb.startDaemon()
            #expect(try await dispatch(sb, "a.msg") == "OLD")

            try sb.writeRules("inbox/*.msg flie ./h/record.sh BROKEN {name}\n")
            try await sb.waitFor("an error line about the broken rules") { !sb.log.lines("error").isEmpty }
            #expect(try await dispatch(sb, "b.msg") == "OLD", "a broken rules file keeps the old rules in force")

            try sb.replaceRules(Self.rules("FIXED"))
            try await sb.waitFor("a reload line") { !sb.log.lines("reload").isEmpty }
            #expect(try await dispatch(sb, "c.msg") == "FIXED")
        }
    }

    @Test func sighupReloads() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules("ONLY"))
            try Files.makeDirectories(sb.spool + "/inbox")
            let daemon = try await sb.startDaemon()
            #expect(try await dispatch(sb, "a.msg") == "ONLY")

            for round in 1...2 {
                daemon.signal(SIGHUP)
                try await sb.waitFor("reload number \(round) after SIGHUP") { sb.log.lines("reload").count >= round }
            }
            #expect(daemon.isRunning)
            #expect(try await dispatch(sb, "b.msg") == "ONLY")
        }
    }
}

/// A rules file inside the spool (`--spool` is its own folder) is never a message, and both it
/// and the spool are still watched.
@Suite struct RulesInsideTheSpoolTests {
    @Test func theRulesFileIsWatchedAndNeverDispatched() async throws {
        try await withSandbox { sb in
            let app = sb.root + "/app"
            try Files.makeDirectories(app + "/in")
            let rules = app + "/spoolbus.rules"
            try Files.write(rules, "**  file  \(sb.handlers)/record.sh first {name}\n")
            try await sb.startDaemon(arguments: ["run", rules, "--spool", app, "--log", sb.logPath])
            // Written beside the rules file: the folder whose watch the rules file shares.
            try Files.write(app + "/a", "a\n")
            try await sb.waitForRun { $0.name == Bytes(text: "a") }
            try Files.write(rules, "**  file  \(sb.handlers)/record.sh second {name}\n")
            try await sb.waitForLine("reload") { $0.verb == "reload" }
            try Files.write(app + "/b", "b\n")
            let second = try await sb.waitForRun { $0.name == Bytes(text: "b") }
            #expect(second.tag == "second")
            #expect(Files.readText(rules)?.contains("second") == true, "the rules file is still there")
            #expect(sb.runs(named: "spoolbus.rules").isEmpty, "the rules file was never dispatched")
        }
    }
}
