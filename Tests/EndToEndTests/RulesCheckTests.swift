import Foundation
import Testing

/// `spoolbus check`: what it understood, or every error as `FILE:LINE:COL: error: MESSAGE`.
@Suite struct RulesCheckTests {
    struct Diagnostic {
        let file: String
        let line: Int
        let column: Int
        let message: String
    }

    /// Parses `FILE:LINE:COL: error: MESSAGE` lines; other lines are returned as nil.
    static func diagnostics(_ stderr: String) -> [Diagnostic?] {
        stderr.nonEmptyLines.map { text in
            guard let marker = text.range(of: ": error: ") else { return nil }
            let location = text[..<marker.lowerBound].split(separator: ":", omittingEmptySubsequences: false)
            guard location.count >= 3, let line = Int(location[location.count - 2]), let column = Int(location[location.count - 1])
            else { return nil }
            return Diagnostic(
                file: location.dropLast(2).joined(separator: ":"), line: line, column: column,
                message: String(text[marker.upperBound...]))
        }
    }

    /// Each line of `broken`, with the columns (1-based) an error on it may point at.
    static let broken: [(text: String, acceptable: [Int]?)] = [
        ("# A rules file with mistakes on purpose; each bad line says which word is wrong.", nil),
        ("inbox/*.msg   file   ./h/record.sh fine", nil),
        ("inbox/*.msg   flie   ./h/record.sh typo-in-on", [15]),
        ("inbox/*.msg   file   timeout=soon ./h/record.sh bad-duration", [22, 30]),
        ("inbox/*.msg   file   retries=many ./h/record.sh bad-number", [22, 30]),
        ("inbox/*.msg   file   colour=red ./h/record.sh unknown-option", [22]),
        ("inbox/*.msg   file   ./h/record.sh 'unterminated quote", [36, 55]),
        ("inbox/*.msg   file", []),
        ("inbox/*.msg   file   \\", nil),
        ("                     then=sometimes ./h/record.sh continued", [22, 27]),
        ("inbox/*.msg   file,bogus   ./h/record.sh bad-second-event", [15, 20]),
    ]

    @Test func brokenFileReportsEveryErrorWithLineAndColumn() async throws {
        try await withSandbox { sb in
            try sb.writeRules(Self.broken.map(\.text).joined(separator: "\n") + "\n")
            let result = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(result.status == .exited(2), "\(result)")

            let parsed = Self.diagnostics(result.err)
            let diagnostics = parsed.compactMap { $0 }
            #expect(!diagnostics.isEmpty, "\(result)")
            for diagnostic in diagnostics {
                #expect(diagnostic.file == sb.rulesPath)
                #expect(!diagnostic.message.isEmpty)
            }
            for (index, line) in Self.broken.enumerated() {
                let number = index + 1
                let onLine = diagnostics.filter { $0.line == number }
                guard let acceptable = line.acceptable else {
                    #expect(onLine.isEmpty, "no error belongs on line \(number): \(onLine.map(\.message))")
                    continue
                }
                #expect(!onLine.isEmpty, "an error on line \(number) is missing: \(line.text)\n\(result.err)")
                if !acceptable.isEmpty {
                    for diagnostic in onLine {
                        #expect(acceptable.contains(diagnostic.column),
                                "line \(number): column \(diagnostic.column), expected one of \(acceptable): \(diagnostic.message)")
                    }
                }
            }
        }
    }

    @Test func goodFilePrintsOneLinePerRule() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                # Three rules, one of them on two lines.

                inbox/*.msg  file       timeout=10s retries=5 backoff=250ms ./h/record.sh {name}
                **/*.json    file       then=archive concurrency=1 \\
                             ./h/record.sh "json file" 'single quoted' back\\ slash {path}
                **           node,gone  last ./h/record.sh audit {event} {type}
                """)
            let result = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(result.status == .exited(0), "\(result)")
            let lines = result.out.nonEmptyLines
            #expect(lines.count == 3, "one line per rule:\n\(result.out)")
            #expect(lines.first?.contains("inbox/*.msg") == true)
            #expect(lines.dropFirst().first?.contains("**/*.json") == true)
            #expect(lines.dropFirst(2).first?.contains("node") == true)
        }
    }

    @Test func directivesAndEveryOptionAreAccepted() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                listen  ask.sock  mode=0666
                listen  dgram.sock type=dgram
                mkfifo  events    mode=0622
                inbox/*.msg  file  timeout=1m retries=0 backoff=1h concurrency=4 then=keep stdin=none output=discard ./h/record.sh
                events       fifo  concurrency=1 ./h/record.sh
                ask.sock     socket reply last ./h/record.sh
                """)
            let result = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.nonEmptyLines.count >= 3, "\(result)")
        }
    }

    @Test func checkReadsSpoolbusRulesInTheCurrentFolderByDefault() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg file ./h/record.sh\n")
            let result = try await sb.spoolbus(["check"], directory: sb.root)
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.nonEmptyLines.count == 1, "\(result)")
        }
    }

    @Test func runRefusesInvalidRulesAtStart() async throws {
        try await withSandbox { sb in
            try sb.writeRules("inbox/*.msg flie ./h/record.sh\n")
            let result = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath])
            #expect(result.status == .exited(2), "\(result)")
            let diagnostic = try #require(Self.diagnostics(result.err).compactMap { $0 }.first, "\(result)")
            #expect(diagnostic.line == 1)
            #expect(diagnostic.column == 13)
        }
    }

    @Test func checkOfMissingFileFails() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["check", sb.root + "/no-such.rules"])
            #expect(result.status != .exited(0), "\(result)")
            #expect(result.err.hasPrefix("spoolbus: error: ") || result.err.contains(": error: "), "\(result)")
        }
    }
}
