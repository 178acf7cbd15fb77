import Testing
@testable import SpoolBus

/// The `durable` flag of `listen` and `mkfifo`.
struct RulesDurableTests {
    @Test func durableIsABareFlagOfBothDirectives() throws {
        let set = try parseRules("""
            listen a.sock durable
            listen b.sock mode=0600 durable type=seqpacket
            listen c.sock
            mkfifo events durable mode=0640
            mkfifo plain
            """).get()
        #expect(set.listens.map(\.durable) == [true, true, false])
        #expect(set.listens[1].type == .seqpacket)
        #expect(set.fifos.map(\.durable) == [true, false])
        #expect(set.fifos[0].mode == 0o640)
        #expect(set.listens[0].summary == "line 1: listen a.sock mode=0660 type=stream durable")
        #expect(set.listens[2].summary == "line 3: listen c.sock mode=0660 type=stream")
        #expect(set.fifos[0].summary == "line 4: mkfifo events mode=0640 durable")
    }

    @Test func aSecondDurableOrAQuotedOneIsAnError() {
        #expect(diagnostics("listen a.sock durable durable") == ["spoolbus.rules:1:23: error: duplicate option 'durable'"])
        #expect(diagnostics("mkfifo f 'durable'") == ["spoolbus.rules:1:10: error: unexpected word 'durable'; expected mkfifo NAME [mode=MODE] [durable]"])
    }
}
