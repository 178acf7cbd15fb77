import Testing
@testable import SpoolBus

@Suite struct HandlerRegistryTests {
    @Test func builtInsAreRegisteredAndInlineOnesAreMarked() {
        let registry = HandlerRegistry.builtIn
        #expect(registry.names == ["broadcast", "discard", "forward", "log"])
        guard case .inline = registry.entry(named: "discard") else {
            Issue.record("discard should run inline")
            return
        }
        guard case .task = registry.entry(named: "log") else {
            Issue.record("log writes to a file and must run as a task")
            return
        }
        #expect(!registry.contains("nope"))
    }

    @Test func aLaterRegistrationReplacesAnEarlierOne() {
        var registry = HandlerRegistry()
        registry.register("x") { _ in }
        registry.registerInline("x") { _ in }
        #expect(registry.names == ["x"])
        guard case .inline = registry.entry(named: "x") else {
            Issue.record("the inline registration should have replaced the task one")
            return
        }
    }

    @Test func aFileBodyIsReadOnFirstUseAndKept() throws {
        let folder = try TemporaryFolder()
        let directory = try Directory.open(folder.path)
        defer { directory.close() }
        let body = try directory.open(Array("body".utf8), [.writeOnly, .create, .exclusive])
        try body.writeAll(Array("first".utf8))
        body.close()
        let file = ClaimedFile(id: [], name: [], path: folder.path + Array("/body".utf8), size: 5, owner: 0, group: 0, folder: directory)
        let loader = BodyLoader(.claimedFile(file))
        #expect(try loader.bytes() == Array("first".utf8))
        try directory.unlink(Array("body".utf8))
        #expect(try loader.bytes() == Array("first".utf8), "kept after the first read")
        let missing = BodyLoader(.claimedFile(file))
        #expect(throws: SystemError.self) { try missing.bytes() }
    }

    @Test func aReceivedFilesOriginIsReadFromItsAttributeAndOthersHaveNone() throws {
        let folder = try TemporaryFolder()
        let directory = try Directory.open(folder.path)
        defer { directory.close() }
        for name in ["received", "local"] {
            let fd = try directory.open(Array(name.utf8), [.writeOnly, .create, .exclusive])
            try fd.writeAll(Array("x".utf8))
            fd.close()
        }
        let received = try directory.open(Array("received".utf8), .readOnly)
        let pairs = ["origin-host=box\u{1}1", "origin-id=0a-1", "origin-name=a%2Fb", "topic=spool/a/b", "broker=hub"]
        try received.setAttribute(MessageOrigin.attribute, Array(pairs.joined(separator: "\0").utf8))
        received.close()
        func file(_ name: String) -> ClaimedFile {
            ClaimedFile(id: [], name: [], path: folder.path + Array("/\(name)".utf8), size: 1, owner: 0, group: 0, folder: directory)
        }
        let origin = try #require(BodyLoader(.claimedFile(file("received"))).origin())
        #expect(origin.host == Array("box\u{1}1".utf8) && origin.id == Array("0a-1".utf8) && origin.name == Array("a%2Fb".utf8))
        #expect(origin.topic == Array("spool/a/b".utf8) && origin.broker == Array("hub".utf8))
        #expect(BodyLoader(.claimedFile(file("local"))).origin() == nil)
        #expect(BodyLoader(.line(Array("l".utf8))).origin() == nil)
    }

    @Test func repliesAccumulateInOrder() {
        let services = HandlerServices(broadcaster: { _ in })
        services.reply(Array("a".utf8))
        services.reply(Array("bc".utf8))
        #expect(services.replyOutput == Array("abc".utf8))
    }
}
