import Foundation
import Glibc
import Testing

/// `check` is exactly `run`'s verdict: both load the rules the same way, and both report every
/// problem of a file at once, syntax and system alike.
@Suite struct CheckVerdictTests {
    /// Rules that `run` refuses, each for a reason the parser cannot see alone.
    static let refused: [(what: String, rules: String, message: String)] = [
        ("a handler program not found in PATH", "a  file  no-such-program-4711\n", "not found in PATH"),
        ("a handler path that is a folder", "a  file  ./h\n", "is a folder"),
        ("a handler program that does not exist", "a  file  ./h/missing.sh\n", "does not exist"),
        ("an unknown user", "a  file  user=no-such-user-4711 ./h/record.sh\n", "no such user 'no-such-user-4711'"),
        ("an unknown Swift handler", "a  file  swift:no-such-handler\n", "no Swift handler named 'no-such-handler'"),
        ("a syntax error", "a  flie  ./h/record.sh\n", "unknown event 'flie'"),
        ("a handler program others may write (as root)", "a  file  ./h/open.sh\n", "may be changed by others"),
    ]

    @Test(arguments: 0..<refused.count)
    func checkFailsExactlyWhereRunFails(_ index: Int) async throws {
        let (what, rules, message) = Self.refused[index]
        guard requireRoot("the verdicts of a root daemon") else { return }
        try await withSandbox { sb in
            try sb.writeHandler("open.sh", "#!/bin/sh\nexit 0\n")
            try Files.chmod(sb.handlers + "/open.sh", 0o777)
            try sb.writeRules(rules)
            let check = try await sb.spoolbus(["check", sb.rulesPath])
            let run = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath])
            #expect(check.status == .exited(2), "check, \(what): \(check)")
            #expect(run.status == .exited(2), "run, \(what): \(run)")
            #expect(check.err.contains(message), "check, \(what): \(check)")
            #expect(check.err == run.err, "check and run disagree on \(what)")
        }
    }

    /// `user=` works only for a root daemon: a daemon of another user would fail every run of the
    /// rule, so `check` and `run` by that user refuse it.
    @Test func userOptionIsRefusedWhenNotRoot() async throws {
        guard Attacker.available() else { return }
        try await withSandbox { sb in
            try sb.shareSpoolWithOthers()
            try sb.writeRules("a  file  user=nobody  ./h/record.sh\n")
            try Files.chmod(sb.rulesPath, 0o644)
            let check = try Attacker.run([spoolbusBinary, "check", sb.rulesPath])
            #expect(check.status == 2, "\(check)")
            #expect(check.stderr.contains("user= needs the daemon to run as root"), "\(check.stderr)")
            let asRoot = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(asRoot.status == .exited(0), "\(asRoot)")
        }
    }

    /// A bare program name is checked where the spawn would find it: the first executable copy
    /// in PATH, not any copy that passes; and a `user=` rule may run a program of its own user.
    @Test func programsAreCheckedWhereTheSpawnFindsThem() async throws {
        guard requireRoot("the verdicts of a root daemon") && Attacker.available() else { return }
        try await withSandbox { sb in
            let early = sb.root + "/early", late = sb.root + "/late"
            try Files.makeDirectories(early)
            try Files.makeDirectories(late)
            try Files.write(early + "/prog-4711", "#!/bin/sh\nexit 0\n", mode: 0o777)
            try Files.chmod(early + "/prog-4711", 0o777)
            try Files.write(late + "/prog-4711", "#!/bin/sh\nexit 0\n", mode: 0o755)
            try sb.writeRules("a  file  prog-4711\n")
            let path = ["PATH": "\(early):\(late):/usr/bin:/bin"]
            let firstCopy = try await sb.runProgram([spoolbusBinary, "check", sb.rulesPath], extra: path)
            #expect(firstCopy.status == .exited(2) && firstCopy.err.contains("may be changed by others"), "\(firstCopy)")

            try sb.writeHandler("theirs.sh", "#!/bin/sh\nexit 0\n")
            #expect(chown(sb.handlers + "/theirs.sh", Attacker.uid, gid_t(65534)) == 0)
            try sb.writeRules("a  file  user=nobody  ./h/theirs.sh\nb  file  ./h/theirs.sh\n")
            let owned = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(owned.status == .exited(2), "\(owned)")
            #expect(owned.err.contains(":2:") && !owned.err.contains(":1:"), "only the rule run as root is refused: \(owned)")
        }
    }

    @Test func everyErrorOfAFileIsInOneReport() async throws {
        try await withSandbox { sb in
            try sb.writeRules("""
                a  flie  ./h/record.sh
                b  file  user=no-such-user-4711 ./h/record.sh
                c  file  no-such-program-4711
                d  file  swift:no-such-handler
                e  file  timeout=soon ./h/record.sh
                f  file  ./h
                g  file  ./h/record.sh

                """)
            for command in [["check", sb.rulesPath], ["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath]] {
                let result = try await sb.spoolbus(command)
                #expect(result.status == .exited(2), "\(result)")
                let diagnostics = RulesCheckTests.diagnostics(result.err).compactMap { $0 }
                #expect(diagnostics.map(\.line) == [1, 2, 3, 4, 5, 6], "\(command[0]): one error on each bad line, in order:\n\(result.err)")
                #expect(diagnostics.allSatisfy { $0.file == sb.rulesPath }, "\(result)")
            }
        }
    }

    @Test func groupWritableRulesFileFailsCheckAsItFailsRun() async throws {
        guard requireRoot("refusing a group-writable rules file") else { return }
        try await withSandbox { sb in
            try sb.writeRules("a  file  ./h/record.sh\n")
            try Files.chmod(sb.rulesPath, 0o664)
            let check = try await sb.spoolbus(["check", sb.rulesPath])
            let run = try await sb.spoolbus(["run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath])
            #expect(check.status == .exited(2), "\(check)")
            #expect(run.status == .exited(2), "\(run)")
            #expect(check.err == "spoolbus: error: rules file '\(sb.rulesPath)' can be written by users other than root; refusing it (chmod go-w, chown root)\n", "\(check)")
            #expect(check.err == run.err)
            try Files.chmod(sb.rulesPath, 0o644)
            let fixed = try await sb.spoolbus(["check", sb.rulesPath])
            #expect(fixed.status == .exited(0), "\(fixed)")
        }
    }

    /// The test aid SPOOLBUS_KERNEL_RELEASE pretends to an older kernel: `run` refuses it.
    @Test func runRefusesAKernelOlderThanTheFloor() async throws {
        try await withSandbox { sb in
            try sb.writeRules("a  file  ./h/record.sh\n")
            let old = try await sb.runProgram(
                [spoolbusBinary, "run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath],
                extra: ["SPOOLBUS_KERNEL_RELEASE": "5.4.0-150-generic"])
            #expect(old.status == .exited(1), "\(old)")
            #expect(old.err.hasPrefix("spoolbus: error: Linux 5.4.0-150-generic is older than 5.6, the oldest kernel spoolbus runs on"), "\(old)")
            #expect(!Files.exists(sb.logPath), "nothing was started")
        }
    }
}
