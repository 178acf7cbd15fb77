import Testing

/// The daemon crashed (`SPOOLBUS_FAULT=STEP:N`: it ends as `kill -9` would) at the Nth claim,
/// settling rename, log write, handler start or bury, then restarted without the fault: every
/// message is handled at least once or is a dead letter with its reason, and `work/` and `tmp/`
/// hold nothing stale.
@Suite struct FaultInjectionTests {
    static let steps = ["claim", "rename", "log", "start", "bury"]
    static let cases: [(String, Int)] = steps.flatMap { step in [1, 3, 6].map { (step, $0) } }

    /// 20 messages: 7 deleted after success, 7 archived, 6 whose handler fails (retries=0, so
    /// each is buried at once). `mNN` makes every name unique as a substring.
    static let names: [String] = (0..<20).map { index in
        let topic = index < 7 ? "ok" : index < 14 ? "keep" : "bad"
        return "\(topic)/m\(index < 10 ? "0" : "")\(index)"
    }

    static func body(of name: String) -> String { "body of \(name)\n" }

    @Test(arguments: cases)
    func crashAtAStepLosesNothing(step: String, occurrence: Int) async throws {
        try await withSandbox { sb in
            // Paths are written into the handlers: they must not depend on what environment the
            // daemon passes on.
            let record = sb.out + "/record"
            try sb.writeHandler("ok.sh", "#!/bin/sh\nprintf '%s\\n' \"$SPOOL_NAME\" >> '\(record)'\n")
            try sb.writeHandler("fail.sh", "#!/bin/sh\necho \"refusing $SPOOL_NAME\" >&2\nexit 3\n")
            try sb.writeRules("""
                ok/*    file  retries=0                \(sb.handlers)/ok.sh
                keep/*  file  retries=0  then=archive  \(sb.handlers)/ok.sh
                bad/*   file  retries=0                \(sb.handlers)/fail.sh

                """)
            let (early, late) = (Self.names.prefix(10), Self.names.dropFirst(10))
            for name in early { try sb.drop(name, Self.body(of: name)) }

            var environment = sb.environment
            environment["SPOOLBUS_FAULT"] = "\(step):\(occurrence)"
            let faulty = try Spawner.spawn(
                [spoolbusBinary, "run", sb.rulesPath, "--spool", sb.spool, "--log", sb.logPath].map { Bytes(text: $0) },
                environment: environment, directory: sb.root, stdin: "/dev/null",
                stdout: sb.root + "/faulty.stdout", stderr: sb.root + "/faulty.stderr",
                label: "spoolbus run with SPOOLBUS_FAULT=\(step):\(occurrence)")
            defer { faulty.killAndReap() }
            for name in late { try sb.drop(name, Self.body(of: name)) }

            try await sb.waitFor("the daemon to crash at \(step) #\(occurrence)") { !faulty.isRunning }
            let stderr = Files.readText(sb.root + "/faulty.stderr") ?? ""
            #expect(faulty.poll() == .exited(86), "\(stderr)")
            #expect(stderr.contains("fault injected at \(step) #\(occurrence)"), "\(stderr)")

            let daemon = try await sb.startDaemon()
            var missing: [String] = []
            try await EndToEndTests.waitFor(
                "every message handled or dead with a reason, nothing left in work/, tmp/ or the spool",
                details: { "unaccounted: \(missing)\n" + sb.diagnostics() }
            ) {
                missing = Self.unaccounted(in: sb, record: record)
                return missing.isEmpty
            }
            try await daemon.stop()
        }
    }

    /// What still keeps the spool from being settled: names neither handled nor dead with a
    /// reason, and anything left in `work/`, `tmp/` or the spool itself.
    static func unaccounted(in sb: Sandbox, record: String) -> [String] {
        let handled = Set((Files.readText(record) ?? "").split(separator: "\n").map(String.init))
        let failed = Files.walk(sb.state("failed")).compactMap { Files.readText(sb.state("failed") + "/" + $0.lossy) }
        var left: [String] = []
        for name in names {
            if name.hasPrefix("bad/") {
                // The dead letter is the body; its reason is another file naming the message.
                let kept = failed.contains(body(of: name))
                let reason = failed.contains { $0 != body(of: name) && $0.contains(name) }
                if !kept || !reason { left.append("\(name) (dead letter: \(kept), reason: \(reason))") }
            } else if !handled.contains(name) {
                left.append("\(name) (not handled)")
            }
        }
        left += Files.walk(sb.state("work")).map { "work/\($0.lossy)" }
        left += Files.walk(sb.state("tmp")).map { "tmp/\($0.lossy)" }
        left += Files.walk(sb.spool).filter { !$0.hasPrefix(Bytes(text: ".spoolbus/")) }.map { "spool/\($0.lossy)" }
        return left
    }
}
