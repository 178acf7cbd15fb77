import Foundation
import Glibc
import Testing

/// What a handler program starts with: descriptors 0, 1 and 2 only, and a clean environment,
/// on both spawn paths (posix_spawn for plain handlers, fork for `user=`).
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
