import Glibc
import Testing
@testable import SpoolBus

@Suite struct ClaimStoreTests {
    @Test(arguments: [
        "inbox/a.msg", "100%/x", "plain", "a%2Fb", "sp ace/new\nline",
    ])
    func namesSurviveTheirEncoding(name: String) throws {
        let bytes = Array(name.utf8)
        let encoded = ClaimStore.encode(bytes)
        #expect(!encoded.contains(UInt8(ascii: "/")))
        #expect(ClaimStore.decode(encoded) == bytes)
    }

    @Test func nonUTF8NamesSurvive() {
        let name: [UInt8] = [0x66, 0xFF, 0x2F, 0xFE]
        #expect(ClaimStore.decode(ClaimStore.encode(name)) == name)
    }

    @Test func claimMovesTheFileAndRecoveryFindsIt() throws {
        let root = try TemporaryFolder()
        let layout = SpoolLayout(root: root.path)
        try layout.create()
        let name: [UInt8] = Array("inbox/".utf8) + [0xFF] + Array(" x".utf8)
        try FileSystem.makeDirectories(layout.path(of: Array("inbox".utf8)))
        try FileSystem.writeAtomically(Array("body".utf8), to: layout.path(of: name), temporaryFolder: layout.temporary)
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
    }

    @Test func aFileOpenForWritingIsNotClaimed() throws {
        let root = try TemporaryFolder()
        let layout = SpoolLayout(root: root.path)
        try layout.create()
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
        let layout = SpoolLayout(root: root.path)
        try layout.create()
        let folder = Array(repeating: UInt8(ascii: "d"), count: 200)
        let name = folder + [UInt8(ascii: "/")] + Array(repeating: UInt8(ascii: "f"), count: 200)
        try FileSystem.makeDirectories(layout.path(of: folder))
        try FileSystem.writeAtomically([1, 2], to: layout.path(of: name), temporaryFolder: layout.temporary)
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
}

/// Claims a file this test closed. Other tests in this process start programs: a child forked
/// at the wrong moment holds a copy of a write descriptor until its exec, and the kernel then
/// refuses the lease, as it should. So a `stillBeingWritten` is retried for up to a few seconds.
private func claimSettled(_ store: ClaimStore, _ name: [UInt8], id: [UInt8]) throws -> ClaimStore.ClaimOutcome {
    for _ in 0..<300 {
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
