import Testing
@testable import SpoolBus

/// The `worker` and `log=` options as the parser takes them, and the request line and answers
/// of the worker protocol.
@Suite struct WorkerRulesAndProtocolTests {
    @Test func aWorkerRuleIsCheckedForWhatCannotWork() {
        #expect(diagnostics("x file worker ./w {name}") == [
            "spoolbus.rules:1:19: error: placeholder '{name}' is not allowed in a worker rule; a worker reads each message's name and path in its request",
        ])
        #expect(diagnostics("x file worker ./w --in=a{path}b") == [
            "spoolbus.rules:1:25: error: placeholder '{path}' is not allowed in a worker rule; a worker reads each message's name and path in its request",
        ])
        #expect(diagnostics("x file worker swift:log") == [
            "spoolbus.rules:1:8: error: 'worker' needs a program; a Swift handler already runs inside the daemon",
        ])
        #expect(diagnostics("x file,gone worker ./w") == ["spoolbus.rules:1:13: error: 'worker' takes file, fifo, socket, mq and signal messages, not 'gone'"])
        #expect(diagnostics("x mq,signal,fifo worker ./w") == [], "queue messages and signals are lines too")
        #expect(diagnostics("x file stdin=none worker ./w") == ["spoolbus.rules:1:8: error: stdin= cannot be set for a worker, which reads its requests on stdin"])
        #expect(diagnostics("x file worker=yes ./w") == ["spoolbus.rules:1:8: error: 'worker' takes no value; write just 'worker'"])
        #expect(diagnostics("x file log=some ./w") == ["spoolbus.rules:1:12: error: invalid log 'some'; expected all or failures"])
        #expect(diagnostics("x file logs=all ./w") == ["spoolbus.rules:1:8: error: unknown option 'logs'; did you mean 'log'?"])
    }

    @Test func workerRulesTakeOneProcessUnlessToldAndArgumentsAsWritten() throws {
        let rules = try #require(ruleSet("""
            a  file,fifo  worker  ./w --fast '{not a placeholder}'
            b  socket  reply  concurrency=4  worker  log=failures  ./w
            c  file  ./h
            'worker'  file  worker  'worker'
            """)).rules
        #expect(rules[0].worker && rules[0].concurrency == 1 && rules[0].log == .all)
        #expect(rules[1].worker && rules[1].concurrency == 4 && rules[1].log == .failures && rules[1].reply)
        #expect(!rules[2].worker && rules[2].concurrency == nil)
        #expect(rules[3].worker && rules[3].pattern.source == bytes("worker") && rules[3].handlerProgram == bytes("worker"), "quoted, it is a pattern; bare after the options, a program")
        #expect(rules[1].summary.contains("concurrency=4") && rules[1].summary.contains("worker=on pipeline=1 log=failures ->"))
    }

    @Test func pipelineIsAWorkerOptionFromOneTo1024() throws {
        let rules = try #require(ruleSet("""
            a  file  worker  ./w
            b  fifo  pipeline=64  worker  ./w
            c  socket  reply  concurrency=2  pipeline=1024  worker  ./w
            """)).rules
        #expect(rules.map(\.pipeline) == [1, 64, 1024], "one request in flight unless told")
        #expect(rules[1].summary.contains("worker=on pipeline=64 log=all ->"), "check and explain show it: \(rules[1].summary)")
        #expect(diagnostics("x file pipeline=8 ./w") == ["spoolbus.rules:1:8: error: pipeline= needs 'worker': only a worker process takes requests written ahead"])
        #expect(diagnostics("x file pipeline=0 worker ./w") == ["spoolbus.rules:1:17: error: invalid pipeline '0'; expected a whole number from 1 to 1024"])
        #expect(diagnostics("x file pipeline=1025 worker ./w") == ["spoolbus.rules:1:17: error: invalid pipeline '1025'; expected a whole number from 1 to 1024"])
        #expect(diagnostics("x file pipelines=2 worker ./w") == ["spoolbus.rules:1:8: error: unknown option 'pipelines'; did you mean 'pipeline'?"])
    }

    @Test func requestsWrittenAheadGoIntoOneBufferAsTheyWouldAlone() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let first = message(name: bytes("a b"), body: .line(bytes("x")), peer: Peer(pid: 1, uid: 2, gid: 3))
        let second = message(name: bytes("c"), body: .line([]), event: .fifo)
        var buffer: [UInt8] = []
        WorkerProtocol.appendRequest(for: first, in: layout, to: &buffer)
        WorkerProtocol.appendRequest(for: second, in: layout, to: &buffer)
        #expect(buffer == WorkerProtocol.request(for: first, in: layout) + WorkerProtocol.request(for: second, in: layout))
        #expect(String(decoding: buffer, as: UTF8.self) == "01a2-000001 socket a%20b x 1 2 3\n01a2-000001 fifo c - - - -\n")
    }

    func message(name: [UInt8], body: MessageBody, event: EventKind = .socket, peer: Peer? = nil) -> Message {
        Message(id: bytes("01a2-000001"), name: name, event: event, type: .file, body: body, peer: peer)
    }

    @Test func aRequestIsOnePrintableLineOfSevenFields() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let line = WorkerProtocol.request(for: message(name: bytes("ask.sock"), body: .line(bytes("50% off\t\u{1}é")),
                                                       peer: Peer(pid: 42, uid: 1000, gid: 100)), in: layout)
        #expect(String(decoding: line, as: UTF8.self) == "01a2-000001 socket ask.sock 50%25%20off%09%01%C3%A9 42 1000 100\n")
        let unknown = WorkerProtocol.request(for: message(name: bytes("-"), body: .line([]), event: .fifo, peer: nil), in: layout)
        #expect(String(decoding: unknown, as: UTF8.self) == "01a2-000001 fifo %2D - - - -\n", "- is none; a value '-' is escaped")
    }

    @Test func aQueueRequestAddsItsPriorityAndASignalRequestCarriesItsValue() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let queued = Message(id: bytes("01a2-000002"), name: bytes("jobs"), event: .mq, type: .file, body: .line(bytes("a b")),
                             peer: nil, extras: MessageExtras(priority: 7))
        #expect(String(decoding: WorkerProtocol.request(for: queued, in: layout), as: UTF8.self) == "01a2-000002 mq jobs a%20b - - - 7\n")
        let retried = Message(id: bytes("01a2-000005"), name: bytes("jobs"), event: .mq, type: .file, body: .line(bytes("a")), peer: nil)
        #expect(String(decoding: WorkerProtocol.request(for: retried, in: layout), as: UTF8.self) == "01a2-000005 mq jobs a - - - -\n", "a lost priority is unknown, not 0")
        let sent = Message(id: bytes("01a2-000003"), name: bytes("RTMIN+1"), event: .signal, type: .file, body: .line([]),
                           peer: Peer(pid: 9, uid: 0, gid: nil), extras: MessageExtras(signalValue: -3))
        #expect(String(decoding: WorkerProtocol.request(for: sent, in: layout), as: UTF8.self) == "01a2-000003 signal RTMIN+1 -3 9 0 -\n")
        let killed = Message(id: bytes("01a2-000004"), name: bytes("USR1"), event: .signal, type: .file, body: .line([]),
                             peer: Peer(pid: 9, uid: 0, gid: nil))
        #expect(String(decoding: WorkerProtocol.request(for: killed, in: layout), as: UTF8.self) == "01a2-000004 signal USR1 - 9 0 -\n", "kill sends no value")
    }

    @Test func everyByteStringRoundTrips() {
        checkProperty("escape then decode", cases: 300) { random in
            let value = random.bytes(count: random.below(40))
            var line: [UInt8] = []
            WorkerProtocol.appendEscaped(value, to: &line)
            guard line.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return "not printable: \(line)" }
            let decoded = Self.percentDecoded(line)
            let expected = value.isEmpty ? bytes("-") : value
            return decoded == expected ? nil : "\(value) -> \(String(decoding: line, as: UTF8.self)) -> \(decoded)"
        }
    }

    @Test func answersAreExactlyOkFailOrReply() {
        #expect(WorkerProtocol.answer(bytes("ok")[...]) == .ok)
        #expect(WorkerProtocol.answer(bytes("fail")[...]) == .fail(reason: []))
        #expect(WorkerProtocol.answer(bytes("fail no space left")[...]) == .fail(reason: bytes("no space left")))
        #expect(WorkerProtocol.answer(bytes("reply 12")[...]) == .reply(length: 12))
        for garbage in ["", "OK", "ok ", "okay", "failed", "reply", "reply -1", "reply 1x", "reply 1234567890", " ok"] {
            #expect(WorkerProtocol.answer(bytes(garbage)[...]) == nil, "\(garbage)")
        }
    }

    static func percentDecoded(_ field: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < field.count {
            if field[index] == UInt8(ascii: "%"), index + 2 < field.count,
               let byte = UInt8(String(decoding: field[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                out.append(byte)
                index += 3
            } else {
                out.append(field[index])
                index += 1
            }
        }
        return out
    }
}
