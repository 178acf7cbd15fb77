import Testing
@testable import SpoolBus

/// Lines kept on disk: a durable line in `work/`, its dead letter in `failed/`, and back.
@Suite struct ClaimStoreLinesTests {
    /// The lines of one FIFO read are kept together: each with its body and origin, recovered
    /// as lines of their channel.
    @Test func linesKeptTogetherAreEachRecovered() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let store = ClaimStore(layout: layout)
        let origin = ChannelOrigin(name: Array("events".utf8), event: .fifo, type: .fifo, peer: nil)
        let lines = (1...3).map { (body: Array("line \($0)".utf8), id: MessageIDGenerator.format(prefix: 0x1a2b3c, counter: $0)) }
        let kept = try store.keepLines(lines, origin: origin)
        #expect(kept.map(\.id) == lines.map(\.id))
        let recovered = try store.claimedMessages()
        #expect(try recovered.map { try $0.read() } == lines.map(\.body))
        #expect(recovered.allSatisfy { store.lineOrigin(of: $0)?.event == .fifo })
    }

    /// A daemon killed after writing a line's `ID+line` and before the line leaves the sidecar
    /// alone in `work/`: the next start removes it, and only it.
    @Test func sidecarsWithoutTheirMessageAreRemovedAtStart() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let store = ClaimStore(layout: layout)
        let origin = ChannelOrigin(name: Array("events".utf8), event: .fifo, type: .fifo, peer: nil)
        _ = try store.keepLine(Array("kept".utf8), id: MessageIDGenerator.format(prefix: 0x1a2b3c, counter: 1), origin: origin)
        let orphan = EntryName.sidecar(MessageIDGenerator.format(prefix: 0x1a2b3c, counter: 2), "line")
        try layout.work.writeAtomically(Array("fifo\nevents\n".utf8), to: orphan, through: layout.temporary)

        #expect(store.removeOrphanSidecars() == 1)
        #expect(try layout.work.statusIfPresent(orphan) == nil)
        #expect(try store.claimedMessages().count == 1, "the kept line and its sidecar stay")
        #expect(try store.claimedMessages().first.flatMap { store.lineOrigin(of: $0) } != nil)
    }

    @Test func aLineGoesToWorkToFailedAndBackKeepingWhereItCameFrom() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
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
        #expect(try layout.failed.entries().isEmpty, "no sidecar left behind in failed/")
        #expect(back.id == id && back.name == origin.name)
        #expect(store.lineOrigin(of: back)?.event == .socket)

        try store.completeLine(back)
        #expect(try layout.work.entries().isEmpty)
    }

    /// A channel's name is encoded as a file's is (`EntryName`): a `+` or `%` in it never makes
    /// the line's entry read as a sidecar, and its dead letter is where `deadLetterName` says.
    @Test func aChannelNameIsEncodedAsAFileNameIs() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let store = ClaimStore(layout: layout)
        let id = MessageIDGenerator.format(prefix: 7, counter: 1)
        let name = Array("in+box/50%\nask.sock".utf8)
        let origin = ChannelOrigin(name: name, event: .fifo, type: .fifo, peer: nil)

        let kept = try store.keepLine(Array("x".utf8), id: id, origin: origin)
        #expect(kept.entry == EntryName.make(id: id, name: name))
        #expect(Set(try layout.work.entries().map(\.name)) == [kept.entry, EntryName.sidecar(id, "line")])
        #expect(try store.claimedMessages().map(\.name) == [name])

        let dead = try store.buryLine(kept, reason: Array("gave up\n".utf8))
        #expect(dead == store.deadLetterName(id: id, name: name))
        #expect(Set(try layout.failed.entries().map(\.name)) == [kept.entry, EntryName.sidecar(id, "line"), EntryName.sidecar(id, "reason")])
        #expect(try store.deadLetters().map(\.name) == [name])
        #expect(try layout.work.entries().isEmpty)
    }

    @Test func aFifoLineHasNoPeerAndAFileIsNoLine() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let store = ClaimStore(layout: layout)
        let origin = ChannelOrigin(name: Array("events".utf8), event: .fifo, type: .fifo, peer: nil)
        let kept = try store.keepLine([], id: MessageIDGenerator.format(prefix: 1, counter: 1), origin: origin)
        let found = try #require(store.lineOrigin(of: kept))
        #expect(found.event == .fifo && found.type == .fifo && found.peer == nil)
        #expect(LineRecord.origin(Array("file\n".utf8), name: []) == nil)
        #expect(LineRecord.origin(Array("socket uid=5 gid=6\n".utf8), name: [])?.peer == Peer(pid: nil, uid: 5, gid: 6))
    }
}
