import Foundation
import Testing

/// `spoolbus completion bash|zsh`: scripts the shells accept, completing from the command tables.
@Suite struct CompletionTests {
    /// Sources the bash script in a fresh bash and completes `words` (the last one being typed);
    /// prints `complete -p spoolbus`, then each candidate on a line.
    private func completeInBash(_ sb: Sandbox, _ words: [String], directory: String? = nil) async throws -> CommandResult {
        let script = sb.root + "/completion.bash"
        let generated = try await sb.spoolbus(["completion", "bash"])
        #expect(generated.status == .exited(0), "\(generated)")
        try Files.write(Bytes(text: script), generated.stdout)
        let array = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let program = """
            source '\(script)' || exit 3
            complete -p spoolbus || exit 4
            PATH='\((spoolbusBinary as NSString).deletingLastPathComponent)':$PATH
            COMP_WORDS=(\(array)); COMP_CWORD=\(words.count - 1)
            _spoolbus
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        return try await sb.runProgram(["/bin/bash", "--norc", "-c", (directory.map { "cd '\($0)' && " } ?? "") + program])
    }

    @Test func bashAcceptsTheScriptAndCompletesCommandsOptionsAndValues() async throws {
        try await withSandbox { sb in
            let generated = try await sb.spoolbus(["completion", "bash"])
            try Files.write(Bytes(text: sb.root + "/c.bash"), generated.stdout)
            let syntax = try await sb.runProgram(["/bin/bash", "-n", sb.root + "/c.bash"])
            #expect(syntax.status == .exited(0), "\(syntax)")

            let command = try await completeInBash(sb, ["spoolbus", "re"])
            #expect(command.status == .exited(0), "\(command)")
            #expect(command.out.hasPrefix("complete -F _spoolbus spoolbus\n"), "\(command)")
            #expect(command.out.components(separatedBy: "\n").contains("retry"), "\(command)")

            let option = try await completeInBash(sb, ["spoolbus", "retry", "--sp"])
            #expect(option.out.components(separatedBy: "\n").contains("--spool"), "\(option)")
            let event = try await completeInBash(sb, ["spoolbus", "explain", "x", "--on", "fi"])
            #expect(event.out.components(separatedBy: "\n").filter { !$0.isEmpty && !$0.hasPrefix("complete") } == ["file", "fifo"], "\(event)")
            let topic = try await completeInBash(sb, ["spoolbus", "help", "ru"])
            #expect(topic.out.components(separatedBy: "\n").contains("rules"), "\(topic)")
            let shell = try await completeInBash(sb, ["spoolbus", "completion", "z"])
            #expect(shell.out.components(separatedBy: "\n").contains("zsh"), "\(shell)")
        }
    }

    @Test func retryAndDropCompleteTheSpoolsDeadLettersWithoutExpandingThem() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("** file retries=0 ./h/fail.sh\n")
            try await sb.startDaemon()
            try sb.drop("inbox/a.msg", "x")
            try sb.drop("x$(touch pwned).msg", "x")
            try await sb.waitFor("two dead letters") {
                Files.list(sb.state("failed")).filter { !$0.lossy.contains("+") }.count == 2
            }
            for command in ["retry", "drop"] {
                let named = try await completeInBash(sb, ["spoolbus", command, "--spool", sb.spool, "in"])
                #expect(named.status == .exited(0), "\(named)")
                #expect(named.out.components(separatedBy: "\n").dropFirst() == ["inbox/a.msg", ""], "\(command): \(named)")
                let all = try await completeInBash(sb, ["spoolbus", command, "--spool=" + sb.spool, ""])
                let offered = all.out.components(separatedBy: "\n").dropFirst().filter { !$0.isEmpty }
                #expect(offered.count == 2, "\(command): \(all)")
                #expect(offered.contains { $0.contains("touch pwned") && $0 != "x$(touch pwned).msg" }, "quoted: \(offered)")
            }
            #expect(!Files.exists(sb.root + "/pwned"), "a dead letter's name is never run")
        }
    }

    /// A name that needs quoting completes from its start typed plainly, as the shell would
    /// read it back: the candidate is the quoted form `dead --names` prints.
    @Test func bashCompletesADeadLetterThatNeedsQuotingFromItsPlainStart() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("fail.sh", "#!/bin/sh\nexit 1\n")
            try sb.writeRules("** file retries=0 ./h/fail.sh\n")
            try await sb.startDaemon()
            try sb.drop("spaced it's.msg", "x")
            try sb.drop(Bytes(text: "odd\n") + [0xFF] + Bytes(text: ".msg"), Bytes(text: "x"))
            try await sb.waitFor("two dead letters") {
                Files.list(sb.state("failed")).filter { !$0.lossy.contains("+") }.count == 2
            }
            let spaced = try await completeInBash(sb, ["spoolbus", "drop", "--spool", sb.spool, "spaced i"])
            #expect(spaced.out.components(separatedBy: "\n").dropFirst() == ["'spaced it'\\''s.msg'", ""], "\(spaced)")
            let odd = try await completeInBash(sb, ["spoolbus", "retry", "--spool", sb.spool, "odd"])
            #expect(odd.out.components(separatedBy: "\n").dropFirst() == ["$'odd\\n\\xff.msg'", ""], "\(odd)")
            let printed = try await completeInBash(sb, ["spoolbus", "retry", "--spool", sb.spool, "$'odd"])
            #expect(printed.out.components(separatedBy: "\n").dropFirst() == ["$'odd\\n\\xff.msg'", ""], "\(printed)")
        }
    }

    @Test func zshAcceptsTheScript() async throws {
        try await withSandbox { sb in
            #expect(Files.exists("/usr/bin/zsh") || Files.exists("/bin/zsh"), "zsh is needed (.ci/run installs it)")
            let generated = try await sb.spoolbus(["completion", "zsh"])
            #expect(generated.status == .exited(0), "\(generated)")
            #expect(generated.out.hasPrefix("#compdef spoolbus\n"))
            try Files.write(Bytes(text: sb.root + "/_spoolbus"), generated.stdout)
            let syntax = try await sb.runProgram(["/bin/sh", "-c", "zsh -n '\(sb.root)/_spoolbus'"])
            #expect(syntax.status == .exited(0), "\(syntax)")
            // As installed: a file `_spoolbus` in $fpath, which compinit binds to spoolbus.
            let bound = try await sb.runProgram(["/bin/sh", "-c", "zsh -fc 'fpath=(\(sb.root) $fpath); autoload -Uz compinit; compinit -u -d \(sb.root)/zcompdump; print -r -- ${_comps[spoolbus]}'"])
            #expect(bound.out == "_spoolbus\n", "\(bound)")
            for command in ["run", "send", "retry", "completion", "help"] {
                #expect(generated.out.contains("        \(command)) _arguments"), "\(command)")
            }
        }
    }

    @Test func anUnknownShellIsAUsageError() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["completion", "fish"])
            #expect(result.status == .exited(2), "\(result)")
            #expect(result.err.hasPrefix("spoolbus: error: unknown shell 'fish': expected bash or zsh"), "\(result)")
        }
    }
}
