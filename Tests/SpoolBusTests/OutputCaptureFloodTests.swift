import Testing
@testable import SpoolBus

/// Past the logged lines, output is only counted, and the tail still holds the last lines.
@Suite struct OutputCaptureFloodTests {
    private func feed(_ capture: inout OutputCapture, _ bytes: [UInt8], chunk: Int) -> [[UInt8]] {
        var emitted: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            bytes[offset..<end].withUnsafeBytes { raw in capture.take(raw) { emitted.append($0) } }
            offset = end
        }
        capture.finish { emitted.append($0) }
        return emitted
    }

    @Test(arguments: [1, 7, 4096, 65536, 1 << 20])
    func everyByteIsLoggedOrCountedAndTheTailIsTheLastLines(chunk: Int) {
        var capture = OutputCapture(stream: "stderr")
        let lines = (1...20_000).map { "line \($0)\n" }.joined()
        let bytes = Array(lines.utf8)
        let emitted = feed(&capture, bytes, chunk: chunk)
        #expect(emitted.count == OutputCapture.maxLoggedLines)
        #expect(emitted.last == Array("line 100".utf8))
        let logged = emitted.reduce(0) { $0 + $1.count + 1 }
        #expect(logged + capture.droppedBytes == bytes.count)
        #expect(capture.tail == (19_996...20_000).map { Array("line \($0)".utf8) })
    }

    @Test func aLongLineInsideOneChunkIsCut() {
        var capture = OutputCapture(stream: "stdout")
        let bytes = [UInt8](repeating: UInt8(ascii: "x"), count: 10_000) + [UInt8(ascii: "\n")]
        let emitted = feed(&capture, bytes, chunk: bytes.count)
        #expect(emitted.map(\.count) == [4096, 4096, 1808])
    }

    @Test func theTailOfAFloodWithoutNewlinesIsItsEnd() {
        var capture = OutputCapture(stream: "stderr")
        let bytes = [UInt8](repeating: UInt8(ascii: "z"), count: 2_000_000) + Array("\nthe end".utf8)
        _ = feed(&capture, bytes, chunk: 65536)
        #expect(capture.tail.last == Array("the end".utf8))
        #expect(capture.tail.count == OutputCapture.tailLines)
    }
}
