import Testing
@testable import SpoolBus

/// The completion scripts come from the command tables: whatever a table holds, they complete.
@Suite struct CompletionScriptTests {
    private let commands = SpoolBusCommandLine.subcommands.map { $0.spec }

    /// The lines of `script` from `start` up to the next line at the same indentation.
    private func section(of script: String, startingWith start: String) -> String {
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = lines.firstIndex(where: { $0.hasPrefix(start) }) else { return "" }
        let indent = start.prefix { $0 == " " }
        let end = lines[(first + 1)...].firstIndex { $0.hasPrefix(indent) && !$0.hasPrefix(indent + " ") } ?? lines.count
        return lines[first..<end].joined(separator: "\n")
    }

    @Test func everyCommandAndOptionOfTheTablesIsInBothScripts() {
        let bash = CompletionScript.bash(commands, topLevel: SpoolBusCommandLine.topLevelSpec)
        let zsh = CompletionScript.zsh(commands, topLevel: SpoolBusCommandLine.topLevelSpec)
        for command in commands {
            let bashCase = section(of: bash, startingWith: "        \(command.name))")
            let zshCase = section(of: zsh, startingWith: "        \(command.name)) _arguments")
            #expect(!bashCase.isEmpty && !zshCase.isEmpty, "\(command.name)")
            for option in command.allOptions {
                #expect(bashCase.contains("--" + option.name), "bash: \(command.name) --\(option.name)")
                #expect(zshCase.contains("--" + option.name), "zsh: \(command.name) --\(option.name)")
            }
            #expect(bash.contains(" " + command.name + " ") || bash.contains("'" + command.name + " "), "bash lists \(command.name)")
            #expect(zsh.contains("'\(command.name):"), "zsh describes \(command.name)")
        }
    }

    @Test func valuesAreCompletedByWhatTheyAre() {
        #expect(ValueKind(named: "DIR") == .directories)
        #expect(ValueKind(named: "FILE|-") == .files)
        #expect(ValueKind(named: "EVENT") == .words(["file", "fifo", "socket", "node", "gone", "mq", "signal"]))
        #expect(ValueKind(named: "N") == .anything)
        let letters = commands.filter { $0.arguments.contains { $0.values == .deadLetters } }.map(\.name)
        #expect(letters == ["retry", "drop"])
    }
}
