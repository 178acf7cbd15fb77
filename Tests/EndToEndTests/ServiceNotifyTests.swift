import Foundation
import Glibc
import Testing

/// The daemon speaks sd_notify itself over `NOTIFY_SOCKET`, as a `Type=notify` unit wants.
@Suite struct ServiceNotifyTests {
    @Test func readyReloadingStatusAndStoppingArriveInOrder() async throws {
        try await withSandbox { sb in
            let manager = try NotifyReceiver(path: sb.root + "/notify.sock")
            try sb.writeHandler("env.sh", "#!/bin/sh\nenv > \"$OUT/env\"\n")
            try sb.writeRules("inbox/* file ./h/env.sh\n")
            let daemon = try await sb.startDaemon(variables: ["NOTIFY_SOCKET": manager.address])
            try await sb.waitFor("READY=1") { !manager.indices(of: "READY=1").isEmpty }
            let ready = try #require(manager.indices(of: "READY=1").first)
            #expect(manager.messages[ready].contains("STATUS=received 0, ok 0"), "READY comes with the counters: \(manager.messages)")

            // A message: a STATUS= update follows (coalesced, within about a second).
            try sb.drop("inbox/a", "body\n")
            try await sb.waitFor("STATUS= saying one message was received and ok") {
                manager.lines(startingWith: "STATUS=received 1, ok 1").count > 0
            }
            let env = try #require(Files.readText(sb.out + "/env"))
            #expect(!env.contains("NOTIFY_SOCKET"), "handlers never see NOTIFY_SOCKET:\n\(env)")

            // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
            daemon.signal(SIGHUP)
            try await sb.waitFor("RELOADING=1 then READY=1") {
                guard let reloading = manager.indices(of: "RELOADING=1").first else { return false }
                return manager.indices(of: "READY=1").contains { $0 > reloading }
            }
            let reloading = try #require(manager.indices(of: "RELOADING=1").first)
            let monotonic = try #require(manager.messages[reloading].split(separator: "\n").first { $0.hasPrefix("MONOTONIC_USEC=") })
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let usec = Int64(monotonic.dropFirst("MONOTONIC_USEC=".count)) ?? -1
            #expect(usec > 0 && usec <= Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000, "\(monotonic)")

            // The rules file changed on disk: a reload too.
            try sb.replaceRules("inbox/* file ./h/env.sh\n# changed\n")
            try await sb.waitFor("a second RELOADING=1 then READY=1") {
                let reloads = manager.indices(of: "RELOADING=1")
                guard reloads.count >= 2 else { return false }
                return manager.indices(of: "READY=1").contains { $0 > reloads[1] }
            }

            try await daemon.stop()
            let stopping = try #require(manager.indices(of: "STOPPING=1").first, "\(manager.messages)")
            #expect(stopping > manager.indices(of: "READY=1").last!, "STOPPING=1 comes last: \(manager.messages)")
        }
    }

    @Test func watchdogPingsAtHalfTheIntervalOnAnAbstractSocket() async throws {
        try await withSandbox { sb in
            let manager = try NotifyReceiver(path: "spoolbus-test-\(getpid())-\(UUID().uuidString)", abstract: true)
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            // 2 s: a ping every second.
            try await sb.startDaemon(variables: ["NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "2000000"])
            try await sb.waitFor("READY=1 and five WATCHDOG=1 pings") {
                !manager.indices(of: "READY=1").isEmpty && manager.indices(of: "WATCHDOG=1").count >= 5
            }
            let pings = manager.indices(of: "WATCHDOG=1").map { manager.arrivals[$0] }
            #expect(pings.allSatisfy { $0 > 0 }, "the kernel stamped each ping")
            let gaps = zip(pings.dropFirst(), pings).map { Double($0 - $1) / 1_000_000 }
            // The kernel's stamps, not when the test got round to reading: a timer never fires
            // early, so no gap is under a second (minus clock slack); a load can make a ping
            // late, hardly all four: the shortest gap shows the cadence, which at the full
            // interval would be 2 s.
            #expect(gaps.allSatisfy { $0 > 0.95 }, "gaps in seconds: \(gaps)")
            #expect(gaps.min().map { $0 < 1.8 } == true, "gaps in seconds: \(gaps)")
        }
    }

    @Test func noWatchdogForAnotherProcess() async throws {
        try await withSandbox { sb in
            let manager = try NotifyReceiver(path: sb.root + "/notify.sock")
            try sb.writeRules("inbox/* file ./h/record.sh\n")
            let daemon = try await sb.startDaemon(variables: [
                "NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": "20000", "WATCHDOG_PID": "1",
            ])
            try await sb.waitFor("READY=1") { !manager.indices(of: "READY=1").isEmpty }
            // Pings would come every 10 ms: a run and a stop take longer than several of them.
            try sb.drop("inbox/a", "x")
            _ = try await sb.waitForRun("the run of inbox/a")
            try await daemon.stop()
            try await sb.waitFor("STOPPING=1") { !manager.indices(of: "STOPPING=1").isEmpty }
            #expect(manager.indices(of: "WATCHDOG=1").isEmpty, "WATCHDOG_PID names another process: \(manager.messages)")
        }
    }
}
