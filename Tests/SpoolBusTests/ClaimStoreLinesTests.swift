import Testing
@testable import SpoolBus

/// Lines kept on disk: a durable line in `work/`, its dead letter in `failed/`, and back.
@Suite struct ClaimStoreLinesTests {
    @Test func aLineGoesToWorkToFailedAndBackKeepingWhereItCameFrom() throws {
        let root = try TemporaryFolder()
        let layout = SpoolLayout(root: root.path)
        try layout.create()
        let store = ClaimStore(layout: layout)
        let id = MessageIDGenerator.format(prefix: 0x1a2b3c, counter: 9)
        let origin = ChannelOrigin(name: Array("sub/ask.sock".utf8), event: .socket, type: .socket,
                                   peer: Peer(pid: 42, uid: 1000, gid: 100))
        let body: [UInt8] = Array("a line\twith bytes ".utf8) + [0xFF]

        let kept = try store.keepLine(body, id: id, origin: origin)
        #expect(try FileSystem.read(kept.path) == body)
        let recovered = try #require(store.claimedMessages().first)
        let again = try #require(store.lineOrigin(of: recovered))
        #expect(again.name == origin.name && again.event == .socket && again.type == .socket)
        #expect(again.peer == origin.peer)

        let deadName = try store.buryLine(kept, reason: Array("gave up\n".utf8))
        #expect(try store.claimedMessages().isEmpty)
        #expect(try FileSystem.read(root.path.appendingPathComponent(deadName)) == body)
        let letter = try #require(store.deadLetters().first)
        #expect(letter.name == origin.name)
        #expect(store.lineOrigin(of: letter)?.peer == origin.peer)

        let back = try store.requeueLine(letter)
        #expect(try store.deadLetters().isEmpty)
        #expect(try FileSystem.entries(layout.failed).isEmpty, "no sidecar left behind in failed/")
        #expect(back.id == id && back.name == origin.name)
        #expect(store.lineOrigin(of: back)?.event == .socket)

        try store.completeLine(back)
        #expect(try FileSystem.entries(layout.work).isEmpty)
    }

    @Test func aFifoLineHasNoPeerAndAFileIsNoLine() throws {
        let root = try TemporaryFolder()
        let layout = SpoolLayout(root: root.path)
        try layout.create()
        let store = ClaimStore(layout: layout)
        let origin = ChannelOrigin(name: Array("events".utf8), event: .fifo, type: .fifo, peer: nil)
        let kept = try store.keepLine([], id: MessageIDGenerator.format(prefix: 1, counter: 1), origin: origin)
        let found = try #require(store.lineOrigin(of: kept))
        #expect(found.event == .fifo && found.type == .fifo && found.peer == nil)
        #expect(LineRecord.origin(Array("file\n".utf8), name: []) == nil)
        #expect(LineRecord.origin(Array("socket uid=5 gid=6\n".utf8), name: [])?.peer == Peer(pid: nil, uid: 5, gid: 6))
    }
}
