import Foundation
import Testing

/// One rule for where the spool is: `--spool`, else `SPOOLBUS_SPOOL`, else `./spool`, the same
/// for `run` and for the commands that reach it.
@Suite struct SpoolLocationTests {
    @Test func commandsFromAnotherFolderReachTheSpoolNamedByTheEnvironment() async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh {name}\n")
            let variables = ["SPOOLBUS_SPOOL": sb.spool]
            let elsewhere = sb.root + "/elsewhere"
            try Files.makeDirectories(elsewhere)
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--log", sb.logPath], directory: elsewhere, variables: variables)
            #expect(Files.exists(sb.state("control.sock")), "run served SPOOLBUS_SPOOL, not ./spool")
            #expect(!Files.exists(elsewhere + "/spool"))

            let watch = try sb.startSpoolbus(["watch", "from/**"], directory: "/", variables: variables)
            try await sb.waitForStatus("the watcher subscribed") { $0["watchers"] == "1" }
            let sent = try await sb.spoolbus(["send", "from/afar.msg", "hi"], directory: "/", variables: variables)
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.err.isEmpty, "a served spool draws no warning: \(sent)")
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "from/afar.msg"))
            try await sb.waitFor("watch, run from /, printed the message's lines") {
                Files.readText(watch.stdout)?.contains("name=from/afar.msg") == true
            }

            let status = try await sb.spoolbus(["status", "--raw"], directory: "/", variables: variables)
            #expect(status.status == .exited(0), "\(status)")
            #expect(status.out.contains("spool=\(sb.spool)\n"), "\(status)")

            let dead = try await sb.spoolbus(["dead", "--json"], directory: "/", variables: variables)
            #expect(dead.status == .exited(0), "\(dead)")
            #expect(dead.out.contains("\"spool\":\"\(sb.spool)\""), "\(dead)")

            let retry = try await sb.spoolbus(["retry", "--all"], directory: "/", variables: variables)
            #expect(retry.status == .exited(0), "\(retry)")
            #expect(retry.err.contains("no dead letters in '\(sb.spool)/.spoolbus/failed'"), "\(retry)")
        }
    }

    @Test func theDefaultIsSpoolInTheCurrentFolderForRunAndSend() async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh {name}\n")
            let here = sb.root + "/here"
            try Files.makeDirectories(here)
            // The rules file is elsewhere: the spool is still ./spool, as send will look for it.
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--log", sb.logPath], directory: here)
            #expect(Files.exists(here + "/spool/.spoolbus/control.sock"))
            #expect(!Files.exists(sb.state("control.sock")), "not spool/ beside the rules file")

            let sent = try await sb.spoolbus(["send", "note.msg", "hi"], directory: here)
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.err.isEmpty, "\(sent)")
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "note.msg"))
            let status = try await sb.spoolbus(["status", "--raw"], directory: here)
            #expect(status.out.contains("spool=\(here)/spool\n"), "\(status)")
        }
    }

    /// Inside a spool, or in a folder of it, the commands and `run` find that spool (the
    /// nearest folder holding `.spoolbus/`), not a `spool/` folder inside it.
    @Test(arguments: ["", "/inbox/deeper"])
    func fromInsideASpoolTheCommandsFindIt(subfolder: String) async throws {
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh {name}\n")
            let daemon = try await sb.startDaemon()
            let here = sb.spool + subfolder
            try Files.makeDirectories(here)
            let status = try await sb.spoolbus(["status", "--raw"], directory: here)
            #expect(status.status == .exited(0), "\(status)")
            #expect(status.out.contains("spool=\(sb.spool)\n"), "\(status)")
            let sent = try await sb.spoolbus(["send", "out/z.msg", "hi"], directory: here)
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.err.isEmpty, "\(sent)")
            let run = try await sb.waitForRun()
            #expect(run.name == Bytes(text: "out/z.msg"), "the name is relative to the spool")
            #expect(!Files.exists(here + "/spool"), "nothing went into a spool/ folder inside the spool")
            // run follows the same rule: a second daemon started inside is refused, not served
            // on ./spool inside the spool.
            try await daemon.stop()
            try await sb.startDaemon(arguments: ["run", sb.rulesPath, "--log", sb.logPath], directory: here)
            #expect(!Files.exists(here + "/spool"))
            #expect(Files.exists(sb.state("control.sock")))
        }
    }

    /// A `.spoolbus/` of another owner than its folder does not make a spool.
    @Test func aStateFolderOfAnotherOwnerIsPassedOver() async throws {
        guard requireRoot("chown") else { return }
        try await withSandbox { sb in
            try sb.writeRules("** file ./h/record.sh {name}\n")
            try await sb.startDaemon()
            let planted = sb.spool + "/inbox"
            try Files.makeDirectories(planted + "/.spoolbus")
            guard chown(planted + "/.spoolbus", 65534, 65534) == 0 else { throw SystemCallFailed("chown") }
            let status = try await sb.spoolbus(["status", "--raw"], directory: planted)
            #expect(status.out.contains("spool=\(sb.spool)\n"), "\(status)")
        }
    }

    @Test func explicitSpoolWinsOverTheEnvironment() async throws {
        try await withSandbox { sb in
            let decoy = sb.root + "/decoy"
            let sent = try await sb.spoolbus(["send", "x.msg", "hi", "--spool", sb.spool], variables: ["SPOOLBUS_SPOOL": decoy])
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(Files.read(sb.spoolPath("x.msg")) == Bytes(text: "hi\n"))
            #expect(!Files.exists(decoy))
        }
    }

    @Test func sendIntoAFolderNoDaemonServedWarnsAndStillWrites() async throws {
        try await withSandbox { sb in
            let typo = sb.root + "/spoll"
            let sent = try await sb.spoolbus(["send", "inbox/x.msg", "hi", "--spool", typo])
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sent.err.hasPrefix("spoolbus: warning: no daemon has served '\(typo)'"), "\(sent)")
            #expect(Files.read(typo + "/inbox/x.msg") == Bytes(text: "hi\n"), "the message is written all the same")
            #expect(!Files.exists(typo + "/.spoolbus"), "send never makes the daemon's folder")
        }
    }
}
