import Foundation
import Testing

/// README's first command and its tour, run as written (with the built binary for `swift run
/// spoolbus`) in a copy of the example, as a new user on a fresh clone would.
@Suite struct TourTests {
    /// `swift run spoolbus ARGS` as the built binary; a command that never ends (`tail -f`,
    /// `watch`) is given two seconds.
    private func shellLine(_ line: String) -> String? {
        let command = line.components(separatedBy: "  #").first!.trimmingCharacters(in: .whitespaces)
        guard !command.isEmpty, !command.hasPrefix("#") else { return nil }
        let run = command.replacingOccurrences(of: "swift run spoolbus ", with: "'\(spoolbusBinary)' ")
        return command.hasPrefix("tail -f ") || command.contains("spoolbus watch") ? "timeout 2 " + run + "; [ $? = 124 ]" : run
    }

    @Test func theFirstCommandAndTheTourWorkAsWritten() async throws {
        try await withSandbox { sb in
            try Files.makeDirectories(sb.root + "/spool-example")
            Spawner.runToCompletion(["/bin/cp", "-R", Readme.repository + "/spool-example/handlers", Readme.repository + "/spool-example/spoolbus.rules",
                                     sb.root + "/spool-example/"])
            let spool = sb.root + "/spool-example/spool"
            try Files.makeDirectories(spool + "/inbox")  // spool-example/spool/inbox/.keep, as a clone has it

            let blocks = Readme.blocks(runBy: "TourTests")
            try #require(blocks.count >= 4)
            let first = blocks[0].lines.compactMap(shellLine)
            #expect(first.last == "swift test", "the second first command is this test run")
            let start = try #require(first.first)
            let binary = "'\(spoolbusBinary)' "
            try #require(start.hasPrefix(binary), "\(start)")
            let arguments = start.dropFirst(binary.count).split(separator: " ").map(String.init)
            #expect(arguments == ["run", "spool-example/spoolbus.rules", "--spool", "spool-example/spool"], "\(start)")
            let log = DispatchLog(path: spool + "/.spoolbus/dispatch.log")
            try await sb.startDaemon(arguments: arguments, log: log)

            // The tour's lines are typed into one terminal: what one exports, the later ones see.
            var exports = ""
            var outputs: [String] = []
            for line in blocks.dropFirst().flatMap(\.lines).compactMap(shellLine) {
                if line.hasPrefix("export ") {
                    exports += line + "; "
                    continue
                }
                let result = try await sb.runProgram(["/bin/sh", "-c", exports + line])
                #expect(result.status == .exited(0), "\(line)\n\(result)")
                outputs.append(result.out)
            }
            try await sb.waitFor("every tour message handled") {
                let names = Set(log.lines("recv").compactMap { $0["name"] })
                return ["inbox/hello.msg", "data.json", "battery", "newfolder", "inbox/note.msg", "events", "ask.sock", "USR1", "files.sock"]
                    .allSatisfy(names.contains) && log.lines("ok").count >= 10
            }
            #expect(log.lines("fail").isEmpty, "\(log.rawLines.map(\.lossy))")
            #expect(log.lines("out").contains { $0["line"]?.hasPrefix("notify: inbox/hello.msg says \"hello\"") == true })
            #expect(log.lines("out").contains { $0["line"]?.hasPrefix("signal USR1 from pid ") == true }, "\(log.rawLines.map(\.lossy))")
            #expect(log.lines("out").contains { $0["line"]?.hasPrefix("os-release: ") == true && $0["line"]?.hasSuffix(" bytes from a file") == true })
            #expect(outputs.contains { $0.hasPrefix("reply ") && $0.contains("\npong\n") }, "nc and python3 got the reply: \(outputs)")
            #expect(outputs.contains { $0.contains("uptime") }, "status answered: \(outputs)")
            #expect(Files.exists(sb.root + "/spool-example/json.log"), "swift:log wrote beside the rules file")
        }
    }
}
