import Foundation
import Testing

/// `spoolbus explain`: a dry run naming the rules a message would reach and their argv.
@Suite struct ExplainTests {
    static let rules = """
        inbox/*.msg   file        ./h/record.sh ALPHA {name}
        **/*.msg      file,gone   ./h/record.sh BRAVO "{name}-suffix" {event}
        inbox/a.*     file  last  ./h/record.sh CHARLIE
        inbox/*.msg   file        ./h/record.sh DELTA
        other/*       file        ./h/record.sh ECHO
        """

    /// Every file under ROOT with its content, to prove nothing changed.
    func snapshot(_ sb: Sandbox) -> [Bytes: Bytes] {
        var files: [Bytes: Bytes] = [:]
        for path in Files.walk(sb.root) where !path.hasPrefix(Bytes(text: "command-")) {
            files[path] = Files.read(Bytes(text: sb.root + "/") + path) ?? []
        }
        return files
    }

    @Test func listsMatchingRulesInOrderWithArgv() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules)
            try sb.drop("inbox/a.msg", "already here\n")
            let before = snapshot(sb)

            let result = try await sb.spoolbus(["explain", "inbox/a.msg", "--rules", sb.rulesPath])
            #expect(result.status == .exited(0), "\(result)")
            let text = result.out
            let positions = ["ALPHA", "BRAVO", "CHARLIE"].map { text.range(of: $0)?.lowerBound }
            #expect(positions.allSatisfy { $0 != nil }, "rules 1-3 are listed:\n\(text)")
            if let a = positions[0], let b = positions[1], let c = positions[2] {
                #expect(a < b && b < c, "in file order:\n\(text)")
            }
            #expect(!text.contains("DELTA"), "rule 4 comes after a `last` rule:\n\(text)")
            #expect(!text.contains("ECHO"), "rule 5 does not match:\n\(text)")
            #expect(text.contains("inbox/a.msg-suffix"), "placeholders are replaced in argv:\n\(text)")

            #expect(snapshot(sb) == before, "explain changes nothing")
            #expect(!Files.exists(sb.spool + "/.spoolbus"), "explain does not even create the daemon's state")
            #expect(sb.runs.isEmpty)
        }
    }

    @Test func onSelectsTheEvent() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules)
            let result = try await sb.spoolbus(["explain", "inbox/a.msg", "--on", "gone", "--rules", sb.rulesPath])
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.contains("BRAVO"), "\(result)")
            #expect(result.out.contains("gone"), "{event} is the chosen event: \(result)")
            for other in ["ALPHA", "CHARLIE", "DELTA", "ECHO"] {
                #expect(!result.out.contains(other), "\(other) is not a gone rule:\n\(result.out)")
            }
        }
    }

    @Test func readsSpoolbusRulesInTheCurrentFolderByDefault() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.rules)
            let result = try await sb.spoolbus(["explain", "other/thing"], directory: sb.root)
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.contains("ECHO"), "\(result)")
            #expect(!result.out.contains("ALPHA"), "\(result)")
        }
    }
}
