import Glibc
import Testing
@testable import SpoolBus

@Suite struct ClaimStoreTests {
    @Test(arguments: [
        "inbox/a.msg", "100%/x", "plain", "a%2Fb", "sp ace/new\nline", "user+tag@example.com", "c++.txt", "+", "%2B",
    ])
    func namesSurviveTheirEncoding(name: String) throws {
        let bytes = Array(name.utf8)
        let encoded = EntryName.encode(bytes)
        #expect(!encoded.contains(UInt8(ascii: "/")))
        #expect(!encoded.contains(UInt8(ascii: "+")))
        #expect(EntryName.decode(encoded) == bytes)
        let entry = try #require(EntryName.make(id: Array("0193b1f0c2a1-000001".utf8), name: bytes))
        #expect(EntryName.parse(entry) == .message(id: Array("0193b1f0c2a1-000001".utf8), name: bytes))
    }

    /// Any byte string: encoded, it is one file name of one line holding no separator, and it
    /// decodes to itself. Seeded, so a failure names the case that can be run again.
    @Test(arguments: [UInt64(1), 2, 3, 0x5eed])
    func anyBytesRoundTrip(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for _ in 0..<2000 {
            let count = Int.random(in: 0...64, using: &random)
            let name = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            let encoded = EntryName.encode(name)
            #expect(EntryName.decode(encoded) == name, "seed \(seed): \(name)")
            for forbidden in [UInt8(ascii: "/"), UInt8(ascii: "+"), 0, UInt8(ascii: "\n")] {
                #expect(!encoded.contains(forbidden), "seed \(seed): \(name) encodes to \(encoded)")
            }
            if let entry = EntryName.make(id: Array("0193b1f0c2a1-000001".utf8), name: name) {
                #expect(EntryName.parse(entry) == .message(id: Array("0193b1f0c2a1-000001".utf8), name: name))
            }
        }
    }

    @Test func everyByteValueSurvives() {
        for byte in UInt8.min...UInt8.max {
            let name: [UInt8] = [UInt8(ascii: "a"), byte, UInt8(ascii: "b")]
            #expect(EntryName.decode(EntryName.encode(name)) == name, "byte \(byte)")
        }
    }

    /// Decoding is strict: only what the encoder writes reads as the new form.
    @Test(arguments: ["%2b", "%4", "%", "%41", "a\nb", "%ZZ"])
    func decodeRefusesWhatTheEncoderNeverWrites(_ encoded: String) {
        #expect(EntryName.decode(Array(encoded.utf8)) == nil)
    }

    @Test func entriesOfVersion1StillRead() {
        let id = Array("0193b1f0c2a1-000001".utf8)
        #expect(EntryName.parse(id + Array(".user+tag@example.com".utf8)) == .message(id: id, name: Array("user+tag@example.com".utf8)))
        #expect(EntryName.parse(id + Array(".inbox%2Fc++.txt".utf8)) == .message(id: id, name: Array("inbox/c++.txt".utf8)))
        #expect(EntryName.parse(id + Array("+reason".utf8)) == .sidecar)
        #expect(EntryName.parse(id) == .longName(id: id))
    }

    @Test func claimMovesTheFileAndRecoveryFindsIt() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let name: [UInt8] = Array("inbox/".utf8) + [0xFF] + Array(" x+y".utf8)
        try write(Array("body".utf8), to: layout.path(of: name))
        let store = ClaimStore(layout: layout)
        let id = MessageIDGenerator.format(prefix: 0x1a2b3c, counter: 7)
        guard case .claimed(let file) = try claimSettled(store, name, id: id) else {
            Issue.record("not claimed")
            return
        }
        #expect(try FileSystem.statusIfPresent(layout.path(of: name)) == nil)
        #expect(try FileSystem.read(file.path) == Array("body".utf8))
        let recovered = try store.claimedMessages()
        #expect(recovered.map(\.name) == [name])
        #expect(recovered.map(\.id) == [id])
        #expect(store.largestIDPrefix() == 0x1a2b3c)
        try store.bury(recovered[0], reason: Array("because\n".utf8))
        #expect(try store.deadLetters().map(\.name) == [name])
    }

    @Test func aFileOpenForWritingIsNotClaimed() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let name = Array("busy".utf8)
        let writer = try FileDescriptor.open(layout.path(of: name), [.writeOnly, .create])
        defer { if writer.isOpen { writer.close() } }
        let store = ClaimStore(layout: layout)
        guard case .stillBeingWritten = try store.claim(name, id: Array("000000000001-000001".utf8)) else {
            Issue.record("a file still open for writing was claimed")
            return
        }
        writer.close()
        guard case .claimed = try claimSettled(store, name, id: Array("000000000001-000002".utf8)) else {
            Issue.record("a closed file was not claimed")
            return
        }
    }

    @Test func longNamesUseASidecar() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let folder = Array(repeating: UInt8(ascii: "d"), count: 200)
        let name = folder + [UInt8(ascii: "/")] + Array(repeating: UInt8(ascii: "f"), count: 200)
        try write([1, 2], to: layout.path(of: name))
        let store = ClaimStore(layout: layout)
        guard case .claimed(let file) = try claimSettled(store, name, id: Array("000000000001-000001".utf8)) else {
            Issue.record("not claimed")
            return
        }
        #expect(try store.claimedMessages().map(\.name) == [name])
        try store.bury(file, reason: Array("because\n".utf8))
        #expect(try store.deadLetters().map(\.name) == [name])
        let letter = try store.deadLetters()[0]
        try store.resurrect(letter)
        #expect(try FileSystem.read(layout.path(of: name)) == [1, 2])
        #expect(try store.deadLetters().isEmpty)
    }

    /// A long name's sidecar reaches `done/` and `failed/` before its entry and leaves `work/`
    /// after; `kept`, `dead` and `drop` see such messages by name and remove them whole.
    @Test func keptMessagesWithLongNamesAreListedAndDroppedWhole() throws {
        let root = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let store = ClaimStore(layout: layout)
        var names: [[UInt8]] = []
        for (index, letter) in ["a", "b"].enumerated() {
            let name = Array(repeating: UInt8(ascii: "d"), count: 200) + [UInt8(ascii: "/")] + Array(repeating: UInt8(ascii: Unicode.Scalar(letter)!), count: 200)
            names.append(name)
            try write([1], to: layout.path(of: name))
            guard case .claimed(let file) = try claimSettled(store, name, id: Array("000000000001-00000\(index + 1)".utf8)) else {
                Issue.record("not claimed")
                return
            }
            if index == 0 { try store.complete(file, archive: true) } else { try store.bury(file, reason: Array("rule 1: failed (1 attempt)\n".utf8)) }
        }
        #expect(try layout.work.entries().isEmpty, "no sidecar is left in work/")
        #expect(try store.kept(in: .done).map(\.name) == [names[0]])
        let letters = try store.deadLetterReports(now: WallClock.nanoseconds())
        #expect(letters.map(\.name) == [names[1]])
        #expect(letters.first?.reason == Array("rule 1: failed (1 attempt)".utf8))
        let outcomes = try store.dropDeadLetters(named: nil)
        #expect(outcomes.count == 1)
        #expect(try layout.failed.entries().isEmpty, "the entry, its name and its reason are gone")
        try store.remove(try store.kept(in: .done)[0], from: .done)
        #expect(try layout.done.entries().isEmpty)
    }

    /// Finding 2: a folder of the spool swapped for a symlink between the scan that listed a
    /// message and its claim makes the claim fail; the file outside stays where it is.
    @Test func aFolderSwappedForASymlinkIsNeverClaimedThrough() throws {
        let root = try TemporaryFolder()
        let outside = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        try write(Array("secret".utf8), to: outside.path + Array("/a.msg".utf8))
        try write(Array("mine".utf8), to: layout.path(of: Array("inbox/a.msg".utf8)))
        #expect(rename(text(layout.path(of: Array("inbox".utf8))), text(layout.path(of: Array("moved".utf8)))) == 0)
        #expect(symlink(text(outside.path), text(layout.path(of: Array("inbox".utf8)))) == 0)
        let store = ClaimStore(layout: layout)
        #expect(throws: SystemError.self) { try store.claim(Array("inbox/a.msg".utf8), id: Array("000000000001-000001".utf8)) }
        #expect(try FileSystem.read(outside.path + Array("/a.msg".utf8)) == Array("secret".utf8))
        #expect(try layout.work.entries().isEmpty)
    }

    /// Finding 3, in the small: a dead letter whose folder became a symlink is not put back.
    @Test func resurrectNeverFollowsASymlinkedFolder() throws {
        let root = try TemporaryFolder()
        let outside = try TemporaryFolder()
        let layout = try SpoolLayout.prepare(root.path)
        defer { layout.close() }
        let name = Array("in/evil.sh".utf8)
        try write(Array("x".utf8), to: layout.path(of: name))
        let store = ClaimStore(layout: layout)
        guard case .claimed(let file) = try claimSettled(store, name, id: Array("000000000001-000001".utf8)) else {
            Issue.record("not claimed")
            return
        }
        try store.bury(file, reason: [])
        #expect(rmdir(text(layout.path(of: Array("in".utf8)))) == 0)
        #expect(symlink(text(outside.path), text(layout.path(of: Array("in".utf8)))) == 0)
        #expect(throws: SystemError.self) { try store.resurrect(try store.deadLetters()[0]) }
        #expect(try entriesOf(outside.path).isEmpty)
        #expect(try store.deadLetters().map(\.name) == [name])
    }
}

/// Writes `content` to `path`, making its folders.
private func write(_ content: [UInt8], to path: [UInt8]) throws {
    try FileSystem.makeDirectories(path.deletingLastPathComponent)
    let fd = try FileDescriptor.open(path, [.writeOnly, .create, .truncate])
    defer { fd.close() }
    try fd.writeAll(content)
}

/// Claims a file this test closed. Other tests in this process start programs: a child forked
/// at the wrong moment holds a copy of a write descriptor until its exec, and the kernel then
/// refuses the lease, as it should. So a `stillBeingWritten` is retried for up to 30 seconds (a
/// busy machine can keep a child between fork and exec for a long while).
private func claimSettled(_ store: ClaimStore, _ name: [UInt8], id: [UInt8]) throws -> ClaimStore.ClaimOutcome {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        let outcome = try store.claim(name, id: id)
        if case .stillBeingWritten = outcome {
            usleep(10_000)
            continue
        }
        return outcome
    }
    return try store.claim(name, id: id)
}

/// A fresh folder under /tmp, removed when the value is released.
final class TemporaryFolder {
    let path: [UInt8]

    init() throws {
        var template = Array("/tmp/spoolbus-unit-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemError(errno: errno, operation: "mkdtemp") }
        path = Array(String(cString: made).utf8)
    }

    deinit {
        _ = String(decoding: path, as: UTF8.self).withCString { system("rm -rf '\(String(cString: $0))'") }
    }
}

/// The entries of the folder at `path`, listed through its descriptor.
func entriesOf(_ path: [UInt8]) throws -> [FileSystem.Entry] {
    let folder = try Directory.open(path)
    defer { folder.close() }
    return try folder.entries()
}
