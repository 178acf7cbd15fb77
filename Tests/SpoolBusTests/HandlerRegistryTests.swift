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

    @Test func repliesAccumulateInOrder() {
        let services = HandlerServices(broadcaster: { _ in })
        services.reply(Array("a".utf8))
        services.reply(Array("bc".utf8))
        #expect(services.replyOutput == Array("abc".utf8))
    }
}
