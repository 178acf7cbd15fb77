import Foundation
import Testing

/// The command line itself: version, help, and one-line errors with exit 2.
@Suite struct CommandLineTests {
    @Test func versionIsPrinted() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["--version"])
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.range(of: #"[0-9]+\.[0-9]+\.[0-9]+"#, options: .regularExpression) != nil, "\(result)")
            #expect(result.out.nonEmptyLines.count == 1, "\(result)")
        }
    }

    @Test func helpListsTheSubcommands() async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["--help"])
            #expect(result.status == .exited(0), "\(result)")
            for command in ["run", "check", "send", "retry", "explain", "help"] {
                #expect(result.out.contains(command), "--help mentions \(command):\n\(result.out)")
            }
        }
    }

    @Test func helpOfRunDescribesItsOptions() async throws {
        try await withSandbox { sb in
            let help = try await sb.spoolbus(["help", "run"])
            #expect(help.status == .exited(0), "\(help)")
            for option in ["--spool", "--log", "--jobs", "--grace"] {
                #expect(help.out.contains(option), "help run mentions \(option):\n\(help.out)")
            }
            let flag = try await sb.spoolbus(["run", "--help"])
            #expect(flag.status == .exited(0), "\(flag)")
            #expect(flag.out == help.out, "`run --help` and `help run` print the same text")
        }
    }

    @Test(arguments: ["check", "send", "retry", "explain"])
    func helpOfEachSubcommand(_ command: String) async throws {
        try await withSandbox { sb in
            let result = try await sb.spoolbus(["help", command])
            #expect(result.status == .exited(0), "\(result)")
            #expect(result.out.contains(command), "\(result)")
        }
    }

    struct BadUsage: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        /// A word the one-line error must quote.
        let quoted: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(arguments: [
        BadUsage(arguments: ["run", "--bogus"], quoted: "--bogus"),
        BadUsage(arguments: ["run", "--spool"], quoted: "--spool"),
        BadUsage(arguments: ["run", "--grace", "soon"], quoted: "soon"),
        BadUsage(arguments: ["run", "--jobs", "many"], quoted: "many"),
        BadUsage(arguments: ["frobnicate"], quoted: "frobnicate"),
        BadUsage(arguments: ["--bogus"], quoted: "--bogus"),
        BadUsage(arguments: ["send"], quoted: "NAME"),
        BadUsage(arguments: ["help", "frobnicate"], quoted: "frobnicate"),
    ])
    func badUsageIsAOneLineErrorWithExitTwo(_ usage: BadUsage) async throws {
        try await withSandbox { sb in
            // A rules file is present so a parser that wrongly accepts the arguments cannot fail
            // for another reason; the sandbox kills whatever it started anyway.
            try sb.writeRules("inbox/*.msg file ./h/record.sh\n")
            let result = try await sb.spoolbus(usage.arguments + (usage.arguments.first == "run" ? [] : []), timeout: .seconds(30))
            #expect(result.status == .exited(2), "\(result)")
            let first = result.err.nonEmptyLines.first ?? ""
            #expect(first.hasPrefix("spoolbus: error: "), "\(result)")
            #expect(first.lowercased().contains(usage.quoted.lowercased()), "the error quotes \(usage.quoted): \(result)")
            #expect(result.out.isEmpty, "errors go to stderr: \(result)")
        }
    }
}
