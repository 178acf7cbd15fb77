import Foundation
import Glibc
import Testing

/// What a handler program starts with: descriptors 0, 1 and 2 only, default signals, blocking
/// output and a clean environment, on both spawn paths (clone for plain handlers, fork for `user=`).
@Suite struct HandlerSpawnTests {
    @Test func handlersGetOnlyDescriptorsZeroToTwoEvenFromARootDaemonHoldingMore() async throws {
        guard requireRoot("a root daemon with a root-only descriptor") else { return }
        try await withSandbox { sb in
            let secret = sb.root + "/root-only"
            try Files.write(secret, "root only\n")
            try Files.chmod(secret, 0o600)
            try sb.writeRules("""
                plain.msg file ls /proc/self/fd
                nobody.msg file user=nobody ls /proc/self/fd

                """)
            let daemon = try await sb.startDaemonThroughShell("exec 7<'\(secret)'")
            #expect(Files.readLink("/proc/\(daemon.pid)/fd/7") == secret, "the daemon must hold the file as fd 7")
            try sb.drop("plain.msg", "x\n")
            try sb.drop("nobody.msg", "x\n")
            for name in ["plain.msg", "nobody.msg"] {
                let id = try await sb.waitForID(of: name)
                try await sb.waitForLine("ok id=\(id)") { $0.verb == "ok" && $0["id"] == id }
                // ls holds one descriptor of its own: the folder it lists.
                #expect(sb.outputLines(of: id) == ["0", "1", "2", "3"], "\(name): \(sb.log.story(of: id))")
            }
            try await daemon.stop()
        }
    }

    /// The daemon ignores SIGPIPE and blocks the signals it reads through a signalfd, and was
    /// started here with SIGQUIT and SIGALRM ignored too (as a shell's background job ignores
    /// SIGINT and SIGQUIT): none of that reaches a handler, and the daemon's ends of the output
    /// pipes are non-blocking while the handler's are not.
    @Test func handlersStartWithDefaultSignalsAnEmptyMaskAndBlockingOutput() async throws {
        guard requireRoot("a handler run as nobody") else { return }
        try await withSandbox { sb in
            try sb.writeRules("""
                plain.msg file sh -c "exec grep -H -E '^(Sig(Ign|Blk)|flags)' /proc/self/status /proc/self/fdinfo/1 /proc/self/fdinfo/2"
                nobody.msg file user=nobody sh -c "exec grep -H -E '^(Sig(Ign|Blk)|flags)' /proc/self/status /proc/self/fdinfo/1 /proc/self/fdinfo/2"

                """)
            let daemon = try await sb.startDaemonThroughShell("trap '' QUIT ALRM")
            let ignored = try #require(Files.readText("/proc/\(daemon.pid)/status")?.split(separator: "\n").first { $0.hasPrefix("SigIgn:") })
            #expect(!ignored.hasSuffix("0000000000000000"), "the daemon must ignore something for this test to mean anything: \(ignored)")
            try sb.drop("plain.msg", "x\n")
            try sb.drop("nobody.msg", "x\n")
            for name in ["plain.msg", "nobody.msg"] {
                let id = try await sb.waitForID(of: name)
                try await sb.waitForLine("ok id=\(id)") { $0.verb == "ok" && $0["id"] == id }
                let lines = sb.outputLines(of: id)
                let fields = lines.map { $0.split(whereSeparator: { $0 == ":" || $0 == "\t" || $0 == " " }).map(String.init) }
                // Signals 32 and 33 are glibc's own (cancellation, setxid), which spawning has
                // always left ignored; no signal a program knows may arrive ignored.
                // Read by the handler's own process (the shell execs grep): a shell that forks a
                // reader blocks every signal around the fork, and a reader quick enough saw that.
                let ignoredHere = fields.first { $0.count == 3 && $0[1] == "SigIgn" }.flatMap { UInt64($0[2], radix: 16) }
                #expect(ignoredHere.map { $0 & ~(UInt64(1) << 31 | UInt64(1) << 32) } == 0, "\(name): \(lines)")
                for signal in [SIGPIPE, SIGQUIT, SIGALRM] {
                    #expect(ignoredHere.map { $0 & UInt64(1) << (signal - 1) } == 0, "\(name): signal \(signal) arrives ignored: \(lines)")
                }
                #expect(fields.contains { $0.count == 3 && $0[1] == "SigBlk" && $0[2] == "0000000000000000" }, "\(name): \(lines)")
                let flags = fields.filter { $0.count == 3 && $0[1] == "flags" }.compactMap { Int($0[2], radix: 8) }
                #expect(flags.count == 2 && flags.allSatisfy { $0 & Int(O_NONBLOCK) == 0 }, "\(name): stdout and stderr must block: \(lines)")
            }
            try await daemon.stop()
        }
    }

    @Test func handlersGetACleanEnvironmentWithTheirUsersIdentity() async throws {
        guard requireRoot("a user= handler") else { return }
        try await withSandbox { sb in
            try sb.writeRules("""
                plain.msg file env
                nobody.msg file user=nobody env

                """)
            let daemon = try await sb.startDaemonThroughShell(
                "true", extra: ["--env", "GIVEN=yes", "--env", "PASSED"],
                variables: ["NOTIFY_SOCKET": "/run/systemd/notify", "SECRET_TOKEN": "hunter2", "PASSED": "along",
                            "LANG": "C.UTF-8", "LC_TIME": "C", "TZ": "UTC", "PATH": "/usr/bin:/bin"])
            try sb.drop("plain.msg", "x\n")
            try sb.drop("nobody.msg", "x\n")
            var seen: [String: [String: String]] = [:]
            for name in ["plain.msg", "nobody.msg"] {
                let id = try await sb.waitForID(of: name)
                try await sb.waitForLine("ok id=\(id)") { $0.verb == "ok" && $0["id"] == id }
                var variables: [String: String] = [:]
                for line in sb.outputLines(of: id) {
                    guard let equals = line.firstIndex(of: "=") else { continue }
                    variables[String(line[..<equals])] = String(line[line.index(after: equals)...])
                }
                seen[name] = variables
            }
            let home = String(cString: getpwnam("nobody").pointee.pw_dir)
            for (name, variables) in seen {
                let unexpected = variables.keys.filter { !$0.hasPrefix("SPOOL_") }.sorted()
                #expect(unexpected == ["GIVEN", "HOME", "LANG", "LC_TIME", "LOGNAME", "OUT", "PASSED", "PATH", "TZ", "USER"], "\(name): \(variables)")
                #expect(variables["PATH"] == "/usr/bin:/bin" && variables["GIVEN"] == "yes" && variables["PASSED"] == "along")
                #expect(variables["SPOOL_NAME"] == name)
            }
            #expect(seen["plain.msg"]?["USER"] == "root" && seen["plain.msg"]?["HOME"] == "/root")
            #expect(seen["nobody.msg"]?["USER"] == "nobody" && seen["nobody.msg"]?["LOGNAME"] == "nobody")
            #expect(seen["nobody.msg"]?["HOME"] == home)
            try await daemon.stop()
        }
    }
}
