import Testing

/// A name the shell would mangle; it must reach argv and the environment exactly.
struct HostileName: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: Bytes
    /// What the raw log line must contain for this name (its escaped form), if anything specific.
    let escapedInLog: [String]

    var testDescription: String { label }

    static let all: [HostileName] = [
        HostileName(label: "not UTF-8", bytes: Bytes(text: "caf") + [0xE9] + Bytes(text: "-") + [0xFF, 0xFE] + Bytes(text: ".msg"),
                    escapedInLog: ["\\xe9", "\\xff", "\\xfe"]),
        HostileName(label: "spaces", bytes: Bytes(text: "two  spaces and a trailing one .msg"), escapedInLog: ["\""]),
        HostileName(label: "newline", bytes: Bytes(text: "new\nline.msg"), escapedInLog: ["\\n"]),
        HostileName(label: "tab and control byte", bytes: Bytes(text: "tab\there") + [0x01] + Bytes(text: ".msg"),
                    escapedInLog: ["\\t", "\\x01"]),
        HostileName(label: "quotes", bytes: Bytes(text: #"say "hi" 'there'.msg"#), escapedInLog: [#"\""#]),
        HostileName(label: "command substitution", bytes: Bytes(text: "$(touch pwned) `touch pwned2`.msg"), escapedInLog: []),
        HostileName(label: "leading dash", bytes: Bytes(text: "-rf"), escapedInLog: []),
        HostileName(label: "leading double dash", bytes: Bytes(text: "--help.msg"), escapedInLog: []),
        HostileName(label: "glob, backslash, equals", bytes: Bytes(text: #"a*b?[c]\d=e.msg"#), escapedInLog: [#"\\"#]),
        HostileName(label: "valid UTF-8", bytes: Bytes(text: "héllo wörld ☃.msg"), escapedInLog: []),
    ]
}

@Suite struct HostileNameTests {
    @Test(arguments: HostileName.all)
    func nameReachesHandlerExactly(_ hostile: HostileName) async throws {
        try await withSandbox { sb in
            try sb.writeRules("* file ./h/record.sh {name} --also={name}\n")
            try await sb.startDaemon()
            let body = Bytes(text: "body of ") + hostile.bytes + [10]
            try sb.drop(hostile.bytes, body)

            let id = try await sb.waitForID(of: hostile.bytes)
            try await sb.waitFor("the message to finish") {
                !sb.log.lines("ok", id: id).isEmpty && !sb.existsInSpool(hostile.bytes) && sb.claimed.isEmpty
            }
            let runs = sb.runs
            #expect(runs.count == 1, "\(runs)")
            let run = try #require(runs.first)
            #expect(run.argv == [hostile.bytes, Bytes(text: "--also=") + hostile.bytes])
            #expect(run.name == hostile.bytes)
            #expect(run.stdin == body)
            #expect(Bytes(text: run.variable("SPOOL_PATH") ?? "").hasPrefix(Bytes(text: sb.state("work/"))))

            // Nothing was ever given to a shell.
            let everything = Files.walk(sb.root)
            #expect(!everything.contains { $0.hasSuffix(Bytes(text: "pwned")) || $0.hasSuffix(Bytes(text: "pwned2")) })

            // One event is one line: every line parses, the name comes back exact, the log is UTF-8.
            let raw = sb.log.rawLines
            #expect(raw.allSatisfy { LogLine.parse($0) != nil }, "\(raw.map { $0.lossy })")
            #expect(sb.log.lines("recv").count == 1)
            let recv = try #require(sb.log.lines("recv", id: id).first)
            #expect(recv.bytes("name") == hostile.bytes)
            #expect(isValidUTF8(Files.read(sb.logPath) ?? []), "log bytes that are not UTF-8 must be \\xNN escapes")
            let recvText = recv.raw.lossy.lowercased()
            for escaped in hostile.escapedInLog {
                #expect(recvText.contains(escaped.lowercased()), "\(escaped) missing in: \(recv.raw.lossy)")
            }
            #expect(!recv.raw.contains { $0 < 0x20 || $0 == 0x7f }, "control bytes must be escaped")
        }
    }
}
