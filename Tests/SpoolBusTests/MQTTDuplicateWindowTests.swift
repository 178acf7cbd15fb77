import Testing
@testable import SpoolBus

@Suite struct MQTTDuplicateWindowTests {
    @Test func keysSurviveAReopenAndTheWindowStaysBounded() throws {
        let folder = try TemporaryFolder()
        let (state, temporary) = try stateFolders(in: folder)
        defer {
            temporary.close()
            state.close()
        }
        let window = DuplicateWindow(broker: "hub", folder: state, temporary: temporary, capacity: 10)
        let keys = (0..<25).map { "host\u{0}id-\($0)\n\u{FF}".bytes }
        for key in keys {
            window.record(key)
            try window.save()
        }
        #expect(window.contains(keys[24]) && window.contains(keys[15]))
        #expect(!window.contains(keys[14]), "older than the window")
        window.close()
        let reopened = DuplicateWindow(broker: "hub", folder: state, temporary: temporary, capacity: 10)
        defer { reopened.close() }
        #expect(reopened.contains(keys[24]) && reopened.contains(keys[15]) && !reopened.contains(keys[0]))
        // Rewritten once it held twice the window: the file never grows past that.
        let lines = try state.read("mqtt-hub.seen".bytes).split(separator: UInt8(ascii: "\n")).count
        #expect(lines <= 20, "\(lines) lines kept")
    }

    @Test func aBatchReachesTheFileInOneSaveAndABigOneIsRewrittenToTheWindow() throws {
        let folder = try TemporaryFolder()
        let (state, temporary) = try stateFolders(in: folder)
        defer {
            temporary.close()
            state.close()
        }
        let window = DuplicateWindow(broker: "hub", folder: state, temporary: temporary, capacity: 10)
        defer { window.close() }
        let keys = (0..<25).map { "host\u{0}id-\($0)".bytes }
        for key in keys.prefix(3) { window.record(key) }
        #expect(window.contains(keys[0]), "known at once, before it is saved")
        #expect(((try? state.read("mqtt-hub.seen".bytes)) ?? []).isEmpty, "nothing written before the save")
        try window.save()
        #expect(try state.read("mqtt-hub.seen".bytes).split(separator: UInt8(ascii: "\n")).count == 3)
        // More than twice the window in one batch: the file is rewritten with the newest keys.
        for key in keys.dropFirst(3) { window.record(key) }
        try window.save()
        let lines = try state.read("mqtt-hub.seen".bytes).split(separator: UInt8(ascii: "\n")).count
        #expect(lines == 10, "\(lines) lines kept")
        let reopened = DuplicateWindow(broker: "hub", folder: state, temporary: temporary, capacity: 10)
        defer { reopened.close() }
        #expect(reopened.contains(keys[24]) && reopened.contains(keys[15]) && !reopened.contains(keys[14]))
    }
}

/// A state folder with its `tmp/`, as the daemon's `.spoolbus/` has.
private func stateFolders(in folder: TemporaryFolder) throws -> (state: Directory, temporary: Directory) {
    let state = try Directory.open(folder.path)
    do {
        try state.makeDirectory("tmp".bytes)
        return (state, try state.openDirectory("tmp".bytes))
    } catch {
        state.close()
        throw error
    }
}
