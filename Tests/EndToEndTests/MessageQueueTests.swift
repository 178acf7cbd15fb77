import Foundation
import Glibc
import Testing

/// POSIX message queues of `mq` directives: read from the event loop, each message a message of
/// event `mq` with its priority; a full queue makes its senders wait, never the daemon.
@Suite struct MessageQueueTests {
    @Test func aCClientAndSpoolbusSendReachTheRulesWithTheirPriorities() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let name = String(queue.dropFirst())
            let client = try await sb.buildQueueClient()
            try sb.writeRules("""
                mq \(queue) mode=0620 maxmsg=4 msgsize=256
                \(name) mq ./h/record.sh queued {name} {type}
                """)
            try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            let fromC = try await sb.runProgram([client, "send", queue, "3", "from C"])
            #expect(fromC.status == .exited(0), "\(fromC)")
            let fromSend = try await sb.spoolbus(["send", "--mq", queue, "--priority", "9", "from", "spoolbus"])
            #expect(fromSend.status == .exited(0), "\(fromSend)")
            let runs = try await sb.waitForRuns(2)
            let c = try #require(runs.first { $0.stdin == Bytes(text: "from C") }, "\(runs)")
            #expect(c.variable("SPOOL_PRIORITY") == "3")
            #expect(c.variable("SPOOL_EVENT") == "mq")
            #expect(c.variable("SPOOL_TYPE") == "mq")
            #expect(c.variable("SPOOL_MESSAGE") == "from C")
            #expect(c.argv.map(\.lossy) == ["queued", name, "mq"])
            #expect(c.variable("SPOOL_PEER_UID") == nil, "a queue does not say who sent")
            let s = try #require(runs.first { $0.stdin == Bytes(text: "from spoolbus") }, "\(runs)")
            #expect(s.variable("SPOOL_PRIORITY") == "9")
            #expect(sb.log.lines("recv").filter { $0["event"] == "mq" && $0["priority"] != nil }.count == 2)
            let facts = try await sb.statusFacts()
            #expect(facts["queues"] == "1")
            // The queue's mode is the directive's, whatever the umask.
            let mode = try await sb.runProgram([client, "mode", queue])
            #expect(mode.out == "620\n", "\(mode)")
        }
    }

    @Test func aFullQueueMakesItsSenderWaitNotTheDaemon() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let client = try await sb.buildQueueClient()
            let gate = sb.out + "/gate"
            try Files.write(gate, "")
            let held = open(gate, O_RDONLY)
            #expect(flock(held, LOCK_EX) == 0)
            try sb.writeHandler("gated.sh", "#!/bin/sh\nexec flock \"$OUT/gate\" true\n")
            try sb.writeRules("""
                mq \(queue) maxmsg=3 msgsize=64
                \(queue.dropFirst()) mq ./h/gated.sh
                """)
            try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            // Sends until one send has waited 10 s on a full queue: long enough that a daemon a
            // busy machine holds up before it reaches its bound does not end the fill early.
            let filled = try await sb.runProgram([client, "fill", queue, "10"])
            #expect(filled.status == .exited(0), "\(filled)")
            let sent = try #require(Int(filled.out.trimmingCharacters(in: .whitespacesAndNewlines)), "\(filled)")
            // The daemon stopped reading at its bound for one source, and the queue filled behind it.
            #expect(sent == 128 + 3, "\(sent) sent before the queue stayed full")
            let facts = try await sb.statusFacts()
            #expect(facts["throttles"].flatMap { Int($0) } ?? 0 >= 1, "\(facts)")
            flock(held, LOCK_UN)
            close(held)
            try await sb.waitFor("\(sent) handler runs to succeed") { sb.log.lines("ok").count == sent }
        }
    }

    @Test func aReloadOpensAndClosesQueuesAndWhatWaitsStaysInTheKernel() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let client = try await sb.buildQueueClient()
            let rule = "\(queue.dropFirst()) mq ./h/record.sh"
            try sb.writeRules("\(rule)\n")
            try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            #expect(try await sb.statusFacts()["queues"] == "0")
            try sb.replaceRules("mq \(queue)\n\(rule)\n")
            _ = try await sb.waitForStatus("the queue opened") { $0["queues"] == "1" }
            try sb.replaceRules("\(rule)\n")
            _ = try await sb.waitForStatus("the queue closed") { $0["queues"] == "0" }
            // The daemon left the queue in place: a message sent now waits there for the next reader.
            let sent = try await sb.runProgram([client, "send", queue, "0", "waiting"])
            #expect(sent.status == .exited(0), "\(sent)")
            #expect(sb.runs.isEmpty)
            try sb.replaceRules("mq \(queue)\n\(rule)\n")
            let run = try await sb.waitForRun()
            #expect(run.stdin == Bytes(text: "waiting"))
        }
    }

    @Test func oversizeMessagesAndMissingQueuesAreClearErrors() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let client = try await sb.buildQueueClient()
            try sb.writeRules("""
                mq \(queue) maxmsg=2 msgsize=16
                \(queue.dropFirst()) mq ./h/record.sh
                """)
            try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            let tooLong = try await sb.spoolbus(["send", "--mq", queue, String(repeating: "x", count: 17)])
            #expect(tooLong.status == .exited(1))
            #expect(tooLong.err == "spoolbus: error: a message of 17 bytes is longer than queue \(queue) takes (msgsize=16)\n", "\(tooLong)")
            let missing = try await sb.spoolbus(["send", "--mq", queue + "-none", "x"])
            #expect(missing.status == .exited(1))
            #expect(missing.err.contains("no queue \(queue)-none (a daemon with 'mq \(queue)-none' in its rules creates it)"), "\(missing)")
            let badName = try await sb.spoolbus(["send", "--mq", "jobs", "x"])
            #expect(badName.status == .exited(2), "\(badName)")
            let badPriority = try await sb.spoolbus(["send", "--mq", queue, "--priority", "40000", "x"])
            #expect(badPriority.status == .exited(2), "\(badPriority)")
            #expect(sb.runs.isEmpty)
        }
    }
}

