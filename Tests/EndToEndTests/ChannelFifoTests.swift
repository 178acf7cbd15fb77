import Foundation
import Glibc
import Testing

/// Every channel test starts a daemon of its own; they run one at a time (2 shared cores).
@Suite(.serialized) struct ChannelTests {}

extension ChannelTests {
    @Suite struct Fifo {
        @Test func linesFromSeveralWritersToOneFifo() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events  fifo  ./h/record.sh fifo
                    """)
                let path = box.spool + "/events"
                let writers = try (0..<4).map { _ in try #require(chanOpenFifoWriter(path)) }
                var expected: Set<String> = []
                for round in 0..<25 {
                    for (index, fd) in writers.enumerated() {
                        let line = "writer \(index) line \(round)"
                        expected.insert(line)
                        chanWrite(fd, line + "\n")  // one write each: atomic up to PIPE_BUF
                    }
                }
                for fd in writers { close(fd) }
                try await chanWait("100 fifo messages", details: box.report()) { box.records().count >= 100 }
                let records = box.records()
                #expect(records.count == 100)
                #expect(Set(records.map(\.body)) == expected)
                for record in records {
                    #expect(record["SPOOL_EVENT"] == "fifo")
                    #expect(record["SPOOL_TYPE"] == "fifo")
                    #expect(record["SPOOL_NAME"] == "events")
                    #expect(record["SPOOL_PATH"] == box.spool + "/events")
                    #expect(record["SPOOL_MESSAGE"] == record.body)
                    #expect(record["SPOOL_PEER_PID"] == nil)
                }
                // Writers closing a FIFO are not files: no `nomatch event=file` for it.
                #expect(!box.logLines().contains { $0.verb == "nomatch" })
            }
        }

        @Test func concurrencyOneKeepsTheOrderLinesWereWritten() async throws {
            try await withChanSandbox { box in
                try box.script("append.sh", #"printf '%s\n' "$SPOOL_MESSAGE" >> "$OUT/order.txt""#)
                try await box.start("""
                    mkfifo events
                    events  fifo  concurrency=1  ./h/append.sh
                    """)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                let lines = (1...200).map { "event \($0)" }
                // Several lines per write, and writes that end mid-line.
                let stream = lines.map { $0 + "\n" }.joined()
                var index = stream.startIndex
                while index < stream.endIndex {
                    let end = stream.index(index, offsetBy: 97, limitedBy: stream.endIndex) ?? stream.endIndex
                    chanWrite(fd, String(stream[index..<end]))
                    index = end
                }
                close(fd)
                let order = box.out + "/order.txt"
                try await chanWait("200 lines in order.txt", details: box.report()) {
                    (try? String(contentsOfFile: order, encoding: .utf8))?.split(separator: "\n").count == 200
                }
                let seen = try String(contentsOfFile: order, encoding: .utf8).split(separator: "\n").map(String.init)
                #expect(seen == lines)
            }
        }

        @Test func fifoMadeByMkfifoAfterStartIsRead() async throws {
            try await withChanSandbox { box in
                try await box.start("incoming/*  fifo  ./h/record.sh late")
                try FileManager.default.createDirectory(atPath: box.spool + "/incoming", withIntermediateDirectories: true)
                let path = box.spool + "/incoming/pipe"
                #expect(mkfifo(path, 0o622) == 0)
                // Opening a FIFO for writing without blocking works once someone reads it.
                var writer: Int32?
                try await chanWait("the daemon to open incoming/pipe", details: box.report()) {
                    writer = chanOpenFifoWriter(path)
                    return writer != nil
                }
                let fd = try #require(writer)
                chanWrite(fd, "hello late fifo\n")
                close(fd)
                try await chanWait("the late fifo message", details: box.report()) { !box.records().isEmpty }
                let record = try #require(box.records().first)
                #expect(record.body == "hello late fifo")
                #expect(record["SPOOL_NAME"] == "incoming/pipe")
            }
        }

        @Test func linesSplitAcrossWritesAreOneMessage() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events  fifo  ./h/record.sh split
                    """)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "hel")
                // The daemon has read the first half before the second is written.
                try await chanWait("the daemon to read the first half") { chanUnreadBytes(fd) == 0 }
                chanWrite(fd, "lo wor")
                try await chanWait("the daemon to read the second part") { chanUnreadBytes(fd) == 0 }
                chanWrite(fd, "ld\nsecond\n")
                close(fd)
                try await chanWait("two messages", details: box.report()) { box.records().count >= 2 }
                #expect(Set(box.records().map(\.body)) == ["hello world", "second"])
            }
        }

        @Test func overLongLineIsDroppedAndReadingGoesOn() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events  fifo  ./h/record.sh long
                    """)
                let fd = try #require(chanOpenFifoWriter(box.spool + "/events"))
                chanWrite(fd, "before\n")
                chanWrite(fd, [UInt8](repeating: UInt8(ascii: "x"), count: 200_000) + [UInt8(ascii: "\n")])
                chanWrite(fd, "after\n")
                close(fd)
                try await chanWait("before and after", details: box.report()) { box.records().count >= 2 }
                #expect(Set(box.records().map(\.body)) == ["before", "after"])
                try await chanWait("the error line of the over-long line", details: box.report()) {
                    box.logLines().contains { $0.verb == "error" && $0["name"] == "events" }
                }
                let errors = box.logLines().filter { $0.verb == "error" && $0["name"] == "events" }
                #expect(errors.count == 1)
                #expect(errors.first?["size"] == "200000")
                #expect(box.daemonIsRunning)
            }
        }

        @Test func removedFifoIsClosedAndGoneIsDispatched() async throws {
            try await withChanSandbox { box in
                try await box.start("""
                    mkfifo events
                    events  fifo  ./h/record.sh line
                    events  gone  ./h/record.sh gone
                    """)
                let path = box.spool + "/events"
                #expect(chanOpenFifoWriter(path).map { close($0) } != nil)
                #expect(unlink(path) == 0)
                try await chanWait("the gone event", details: box.report()) { box.records().contains { $0.tag == "gone" } }
                // Nobody reads the FIFO any more: a new one of that name is not opened by a
                // stale descriptor, and the old one has no reader.
                #expect(mkfifo(path, 0o622) == 0)
                var writer: Int32?
                try await chanWait("the daemon to open the new FIFO", details: box.report()) {
                    writer = chanOpenFifoWriter(path)
                    return writer != nil
                }
                let fd = try #require(writer)
                chanWrite(fd, "to the new one\n")
                close(fd)
                try await chanWait("the line on the new FIFO", details: box.report()) { box.records().contains { $0.tag == "line" } }
                #expect(box.records().first { $0.tag == "line" }?.body == "to the new one")
            }
        }
    }
}
