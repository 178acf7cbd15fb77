import Foundation
import Glibc
import Testing

/// `worker` rules on the IPC of issue 12: queue messages and signals reach a worker over the line
/// protocol with what a one-shot run gets in its environment, and a passed descriptor, which a
/// line cannot carry, is refused with an `error` answer rather than dropped.
@Suite struct WorkerIPCTests {
    func requests(_ sb: Sandbox) -> [[Bytes]] {
        (Files.read(sb.out + "/requests") ?? []).split(separator: 10).map { $0.split(separator: 32, omittingEmptySubsequences: false).map(Bytes.init) }
    }

    @Test func aWorkerTakesQueueMessagesWithTheirPriorityAsAnEighthField() async throws {
        try await withSandbox { sb in
            let queue = sb.queueName()
            let name = String(queue.dropFirst())
            let client = try await sb.buildQueueClient()
            try sb.writeHandler("worker.sh", WorkerTests.recordingWorker)
            try sb.writeRules("""
                mq \(queue) maxmsg=4 msgsize=256
                \(name) mq worker ./h/worker.sh
                """)
            try await sb.startDaemon()
            defer { Spawner.runToCompletion([client, "unlink", queue]) }
            for (priority, text) in [("3", "first one"), ("9", "50%\tsecond")] {
                let sent = try await sb.spoolbus(["send", "--mq", queue, "--priority", priority, text])
                #expect(sent.status == .exited(0), "\(sent)")
                try await sb.waitFor("the request of priority \(priority)") { requests(sb).contains { $0.last == Bytes(text: priority) } }
            }
            try await sb.waitFor("two requests answered") { sb.log.lines("ok").count == 2 }
            let seen = requests(sb)
            #expect(seen.count == 2, "\(seen.map { $0.map(\.lossy) })")
            for (request, (priority, text)) in zip(seen, [("3", "first one"), ("9", "50%\tsecond")]) {
                #expect(request.count == 8, "an mq request has eight fields: \(request.map(\.lossy))")
                #expect(request[1] == Bytes(text: "mq"))
                #expect(request[2] == Bytes(text: name))
                #expect(WorkerTests.decode(request[3]) == Bytes(text: text), "DATA is the queue message's bytes")
                #expect(request[4...6].allSatisfy { $0 == Bytes(text: "-") }, "a queue does not say who sent")
                #expect(request[7] == Bytes(text: priority))
                #expect(sb.log.lines("ok").contains { $0["id"] == request[0].lossy })
            }
            let pids = Set(Files.readText(sb.out + "/pids")?.nonEmptyLines ?? [])
            #expect(pids.count == 1, "one worker process took both: \(pids)")
        }
    }

    @Test func aWorkerTakesKillAndSigqueueSignalsWithSenderAndValue() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", WorkerTests.recordingWorker)
            try sb.writeRules("""
                signal USR1 RTMIN+1
                * signal worker ./h/worker.sh
                """)
            let daemon = try await sb.startDaemon()
            let plain = try await sb.runProgram(["/bin/kill", "-USR1", String(daemon.pid)])
            #expect(plain.status == .exited(0), "\(plain)")
            try await sb.waitFor("the USR1 request answered") { sb.log.lines("ok").count == 1 }
            let queued = try await sb.runProgram(["/bin/kill", "--queue", "7", "-s", "RTMIN+1", String(daemon.pid)])
            #expect(queued.status == .exited(0), "\(queued)")
            try await sb.waitFor("the RTMIN+1 request answered") { sb.log.lines("ok").count == 2 }
            let seen = requests(sb)
            #expect(seen.count == 2 && seen.allSatisfy { $0.count == 7 }, "seven fields: \(seen.map { $0.map(\.lossy) })")
            let usr1 = try #require(seen.first { $0.count == 7 && $0[2] == Bytes(text: "USR1") })
            #expect(usr1[1] == Bytes(text: "signal"))
            #expect(usr1[3] == Bytes(text: "-"), "kill sends no value")
            #expect(Int32(usr1[4].lossy).map { $0 > 0 && $0 != daemon.pid } == true, "the sender's pid: \(usr1[4].lossy)")
            #expect(usr1[5] == Bytes(text: String(getuid())))
            #expect(usr1[6] == Bytes(text: "-"), "signalfd does not say the group")
            let rt = try #require(seen.first { $0.count == 7 && $0[2] == Bytes(text: "RTMIN+1") })
            #expect(rt[3] == Bytes(text: "7"), "DATA is the sigqueue value")
            #expect(rt[5] == Bytes(text: String(getuid())))
        }
    }

    @Test func aDescriptorPassedToAWorkerRuleIsRefusedWithAnErrorAndClosed() async throws {
        try await withSandbox { sb in
            try sb.writeHandler("worker.sh", WorkerTests.recordingWorker)
            try sb.writeRules("""
                listen w.sock
                listen both.sock
                w.sock     socket  worker  ./h/worker.sh
                both.sock  socket  ./h/record.sh
                both.sock  socket  worker  ./h/worker.sh
                """)
            let daemon = try await sb.startDaemon()
            let before = sb.descriptorCount(of: daemon.pid)
            let payload = sb.root + "/payload.txt"
            try Files.write(payload, "bytes only a descriptor holds\n")
            for socket in ["w.sock", "both.sock"] {
                let refused = try await sb.runProgram(["/bin/sh", "-c", "exec \"$0\" send --via \"$1\" x < \"$2\"",
                                                       spoolbusBinary, sb.spoolPath(socket), payload])
                #expect(refused.status == .exited(1), "\(refused)")
                #expect(refused.err.contains("a passed descriptor cannot reach a worker"), "\(refused)")
            }
            let errors = sb.log.lines("error").filter { $0["err"]?.contains("refused a descriptor: the worker rule of line") == true }
            #expect(errors.count == 2, "each refusal is said in the log")
            #expect(try await sb.statusFacts()["descriptors_refused"] == "2")
            #expect(sb.log.lines("run").isEmpty && Files.read(sb.out + "/requests") == nil,
                    "a message refused whole: no rule ran it, not even the one-shot rule beside the worker")
            try await sb.waitForDescriptorCount(before, of: daemon.pid)
            #expect(!sb.holdsOpen(payload, pid: daemon.pid))
            // Without a descriptor (stdin closed) the same words reach the worker.
            let plain = try await sb.runProgram(["/bin/sh", "-c", "exec 0<&-; exec \"$0\" send --via \"$1\" x", spoolbusBinary, sb.spoolPath("w.sock")])
            #expect(plain.status == .exited(0), "\(plain)")
            try await sb.waitFor("the plain line answered") { sb.log.lines("ok").count == 1 }
            #expect(requests(sb).map { $0.count == 7 ? $0[3] : [] } == [Bytes(text: "x")])
        }
    }
}
