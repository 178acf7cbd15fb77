import Glibc
import Testing
@testable import SpoolBus

/// Dropping a message (`send`, `swift:forward`) beneath the spool's descriptor.
@Suite struct SpoolLayoutDropTests {
    @Test func aSymlinkedFolderIsNeverWrittenThrough() throws {
        let spool = try TemporaryFolder()
        let outside = try TemporaryFolder()
        #expect(symlink(text(outside.path), text(spool.path) + "/inbox") == 0)
        #expect(throws: SystemError.self) { try SpoolLayout.drop(Array("x\n".utf8), as: Array("inbox/a.msg".utf8), in: spool.path) }
        #expect(try entriesOf(outside.path).isEmpty)
    }

    @Test func aSymlinkAtTheNameIsRefusedNotReplaced() throws {
        let spool = try TemporaryFolder()
        #expect(symlink("/etc/passwd", text(spool.path) + "/a.msg") == 0)
        #expect(throws: SpoolBusError.self) { try SpoolLayout.drop(Array("x\n".utf8), as: Array("a.msg".utf8), in: spool.path) }
        #expect(try FileSystem.status(spool.path + Array("/a.msg".utf8)).type == .symlink)
    }

    @Test func aFifoGetsOneLineAndStaysAFifo() throws {
        let spool = try TemporaryFolder()
        let fifo = text(spool.path) + "/events"
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        try SpoolLayout.drop(Array("usb added\n".utf8), as: Array("events".utf8), in: spool.path)
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(reader, &buffer, buffer.count)
        #expect(Array(buffer.prefix(max(0, count))) == Array("usb added\n".utf8))
        #expect(throws: SpoolBusError.self) { try SpoolLayout.drop(Array("two\nlines\n".utf8), as: Array("events".utf8), in: spool.path) }
        #expect(try FileSystem.status(spool.path + Array("/events".utf8)).type == .fifo)
        #expect(try entriesOf(spool.path).map(\.name) == [Array("events".utf8)], "no temporary file, no .spoolbus")
    }
}
