import Foundation
import Testing
@testable import SpoolBus

/// `spoolbus help --man [rules]` and `spoolbus help rules`: made from the command tables and
/// `RulesReference`, rendered by groff without a warning.
@Suite struct ManPageTests {
    /// What `groff -man -ww` writes to stdout and stderr for `page`.
    /// `hyphenating: false` (`-rHY=0`) keeps words whole, for comparing text.
    private func render(_ page: String, hyphenating: Bool = true) throws -> (out: String, err: String, status: Int32) {
        let groff = Process()
        groff.executableURL = URL(fileURLWithPath: "/usr/bin/groff")
        groff.arguments = ["-man", "-ww", "-Tutf8", "-P", "-cbou"] + (hyphenating ? [] : ["-rHY=0"])
        let input = Pipe(), output = Pipe(), errors = Pipe()
        groff.standardInput = input
        groff.standardOutput = output
        groff.standardError = errors
        try groff.run()
        input.fileHandleForWriting.write(Data(page.utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        groff.waitUntilExit()
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self), groff.terminationStatus)
    }

    @Test(arguments: [["help", "--man"], ["help", "--man", "rules"], ["help", "rules", "--man"]])
    func pagesRenderWithoutWarnings(_ words: [String]) throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/groff"), "groff is needed (.ci/run installs groff-base)")
        let outcome = runCommandLine(words)
        #expect(outcome.status == 0)
        #expect(outcome.outputText.hasPrefix(".TH SPOOLBUS"))
        let rendered = try render(outcome.outputText)
        #expect(rendered.status == 0)
        #expect(rendered.err == "", "groff -ww warned")
        #expect(rendered.out.contains("NAME"))
    }

    @Test func spoolbusPageHasEveryCommandAndOption() throws {
        let rendered = try render(runCommandLine(["help", "--man"]).outputText, hyphenating: false).out
        for command in SpoolBusCommandLine.subcommands.map({ $0.spec }) {
            #expect(rendered.contains(command.commandPath), "\(command.name)")
            #expect(rendered.contains(command.abstract), "\(command.name)")
            for option in command.options {
                #expect(rendered.contains("--" + option.name), "\(command.name) --\(option.name)")
            }
        }
        #expect(rendered.contains("SPOOLBUS_SPOOL"))
    }

    @Test func rulesPageAndHelpRulesHaveEveryOptionWithItsDefault() throws {
        // Justified lines: compare words.
        let page = try render(runCommandLine(["help", "--man", "rules"]).outputText, hyphenating: false).out
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let help = runCommandLine(["help", "rules"])
        #expect(help.status == 0)
        for entry in RulesReference.options + RulesReference.directives {
            #expect(page.contains(entry.term), "\(entry.term) in spoolbus.rules(5)")
            #expect(help.outputText.contains("  " + entry.term), "\(entry.term) in help rules")
            if let text = entry.defaultText {
                let plain = RulesReference.plain(text)
                #expect(page.contains("Default: " + plain), "\(entry.term)")
            }
        }
        for variable in RulesReference.environment { #expect(page.contains(variable.term)) }
        for line in help.outputText.split(separator: "\n") { #expect(line.count <= 80, "\(line)") }
    }

    @Test func onlyTheTwoPagesExist() {
        let outcome = runCommandLine(["help", "--man", "run"])
        #expect(outcome.status == 2)
        #expect(outcome.errorText.hasPrefix("spoolbus: error: no manual page for 'run'"))
    }

    @Test func roffEscapesWhatWouldBeMarkup() {
        #expect(Roff.text(".spoolbus/ holds it") == "\\&.spoolbus/ holds it")
        #expect(Roff.text("'quoted' first") == "\\&'quoted' first")
        #expect(Roff.text("a \\ b --spool") == "a \\e b \\-\\-spool")
        #expect(Roff.text("`code` and … ×") == "\\fBcode\\fR and \\[u2026] \\[u00D7]")
        #expect(Roff.text("unclosed `code") == "unclosed \\fBcode\\fR")
    }
}

/// README's rules reference is the one `RulesReference` generates: the option, directive and
/// environment tables are in README exactly, so README cannot drift from help and man.
@Suite struct ReadmeRulesTableTests {
    private static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    @Test func readmeHasTheGeneratedTables() {
        #expect(!Self.readme.isEmpty)
        for table in RulesReference.markdownTables {
            #expect(Self.readme.contains("\n" + table + "\n"), "README lacks, exactly:\n\(table)")
        }
    }

    /// Every directive says its default too; help wraps a default in parentheses, so a default
    /// holding some would print `(default: … (…))`.
    @Test func everyDefaultIsWrittenWithoutParentheses() {
        for entry in RulesReference.options + RulesReference.directives {
            guard let text = entry.defaultText else {
                Issue.record("\(entry.term) has no default")
                continue
            }
            #expect(!text.contains("(") && !text.contains(")"), "\(entry.term): \(text)")
        }
        #expect(!RulesReference.helpText.contains("))"), "no double parentheses in help rules")
        for option in RunCommand.spec.options {
            #expect(option.defaultText.map { !$0.contains("(") } == true, "--\(option.name) has a default, without parentheses")
        }
        #expect(RulesReference.directives.first { $0.term.hasPrefix("mkfifo") }?.meaning.contains("every local user") == true,
                "mkfifo's 0622 is explained")
    }

    /// README's table of `run`'s options and their defaults, made from `RunCommand.spec`.
    static var runOptionsTable: String {
        var lines = ["| option | default | meaning |", "| --- | --- | --- |"]
        for option in RunCommand.spec.options {
            let term = "--" + option.name + (option.valueName.map { " " + $0 } ?? "")
            let cells = ["`" + term + "`", option.defaultText ?? "", option.help]
            lines.append("| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test func readmeHasRunsOptionsWithTheirDefaults() {
        #expect(Self.readme.contains("\n" + Self.runOptionsTable + "\n"), "README lacks, exactly:\n\(Self.runOptionsTable)")
    }

    @Test func everyOptionTheParserKnowsIsInTheReferenceWithADefault() {
        let documented = RulesReference.options.map { String($0.term.prefix { $0 != "=" }) }
        #expect(documented == RulesParser.ruleOptionNames)
        #expect(RulesReference.options.allSatisfy { $0.defaultText != nil })
    }
}

/// README's command-line synopsis is the usage lines `--help` prints, so it lists every option.
@Suite struct ReadmeCommandLineTests {
    static var synopsis: String {
        SpoolBusCommandLine.subcommands.map { HelpText.usage(for: $0.spec, prefix: "") }.joined(separator: "\n")
            + "\nspoolbus --help      spoolbus --version\n"
    }

    @Test func readmeSynopsisIsTheUsageOfEveryCommand() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
        #expect(readme.contains("## Command line\n\n```\n" + Self.synopsis + "```\n"), "README's synopsis should be:\n\(Self.synopsis)")
    }

    /// README says the synopsis is what each `spoolbus help COMMAND` prints after `USAGE:`.
    @Test func eachSynopsisEntryIsTheUsageLineOfItsHelp() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
        #expect(readme.contains("These are the `USAGE:` lines of each command's help, `spoolbus help COMMAND`"))
        func words(_ text: Substring) -> [String] { text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) }
        for command in SpoolBusCommandLine.subcommands {
            let help = runCommandLine(["help", command.spec.name]).outputText
            let usage = help.range(of: "USAGE: ").map { help[$0.upperBound...] }.map { $0[..<($0.range(of: "\n\n")?.lowerBound ?? $0.endIndex)] }
            #expect(usage.map(words) == words(Substring(HelpText.usage(for: command.spec, prefix: ""))), "help \(command.spec.name): \(help)")
        }
    }
}
