import Foundation
import Glibc
import Testing

/// The example workers of `spool-example/workers` (sh, Python, C) run under their own rules
/// file and decode hostile names and lines as the README says.
@Suite struct ExampleWorkerTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("spool-example/workers").path

    @Test func theShPythonAndCWorkersAnswerTheirMessages() async throws {
        try await withSandbox { sb in
            let folder = sb.root + "/workers"
            try Files.makeDirectories(folder)
            for name in ["names.sh", "checksum.py", "count.c", "workers.rules"] {
                let source = try #require(Files.read(Self.examples + "/" + name), "spool-example/workers/\(name)")
                try Files.write(Bytes(text: folder + "/" + name), source, mode: name.hasSuffix(".sh") || name.hasSuffix(".py") ? 0o755 : 0o644)
            }
            let compiler = Process()
            compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            compiler.arguments = ["cc", "-O2", "-Wall", "-Werror", "-o", folder + "/count", folder + "/count.c"]
            try compiler.run()
            compiler.waitUntilExit()
            #expect(compiler.terminationStatus == 0, "count.c compiles without warnings")
            try await sb.startDaemon(arguments: ["run", folder + "/workers.rules", "--spool", sb.spool, "--log", sb.logPath])

            let hostile = Bytes(text: "names/a b\n%41\\c") + [0x01, 0xFF]
            try sb.drop(hostile, Bytes(text: "x"))
            try sb.drop(Bytes(text: "names/plain"), Bytes(text: "x"))
            try sb.drop(Bytes(text: "sums/hello"), Bytes(text: "hello"))
            let client = try ChanSocket(connectingTo: sb.spool + "/count.sock")
            client.send("a line of 20 bytes..\n")
            let reply = try #require(client.readReply())
            #expect(reply.status.hasPrefix("reply ") && reply.body == "20\n", "\(reply)")

            try await sb.waitFor("the files answered") { sb.log.lines("ok").count == 4 }
            let names = Files.read(folder + "/names.log") ?? []
            #expect(names == hostile + Bytes(text: "\nnames/plain\n"), "the sh decoder gives back every byte, in order: \(names)")
            let digest = sb.log.lines("out").first { $0["line"]?.hasPrefix("sha256 ") == true }
            #expect(digest?["line"] == "sha256 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 sums/hello", "\(String(describing: digest))")
            #expect(sb.log.lines("fail").isEmpty && sb.log.lines("error").isEmpty, "\(sb.log.tail(20))")
        }
    }
}
