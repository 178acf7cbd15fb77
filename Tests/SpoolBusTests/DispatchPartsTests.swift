import Testing
@testable import SpoolBus

@Suite struct DispatchPartsTests {
    @Test func messageIDsSortByArrivalAndAfterOldOnes() {
        var generator = MessageIDGenerator(now: 1000, notBefore: 5000)
        let first = generator.next()
        let second = generator.next()
        #expect(String(decoding: first, as: UTF8.self) == "000000001389-000001")
        #expect(first.lexicographicallyPrecedes(second))
        #expect(MessageIDGenerator.prefix(of: first) == 5001)
        #expect(String(decoding: MessageIDGenerator.format(prefix: 0x19d3a6b0c2a1, counter: 999_999), as: UTF8.self) == "19d3a6b0c2a1-999999")
        #expect(String(decoding: MessageIDGenerator.format(prefix: 0, counter: 40), as: UTF8.self) == "000000000000-000040")
        #expect(String(decoding: MessageIDGenerator.format(prefix: 0x1_0000_0000_0000, counter: 1), as: UTF8.self) == "1000000000000-000001", "past 12 digits the id grows")
    }

    @Test func outputCaptureBoundsLinesAndKeepsATail() {
        var capture = OutputCapture(stream: "stderr")
        var emitted: [[UInt8]] = []
        let lines = (1...150).map { "line \($0)\n" }.joined()
        Array(lines.utf8).withUnsafeBytes { raw in capture.take(raw) { emitted.append($0) } }
        capture.finish { emitted.append($0) }
        #expect(emitted.count == OutputCapture.maxLoggedLines)
        #expect(capture.droppedBytes > 0)
        #expect(capture.tail.last == Array("line 150".utf8))
    }

    @Test func outputWithoutNewlinesIsCutIntoBoundedLines() {
        var capture = OutputCapture(stream: "stdout")
        var longest = 0
        let chunk = [UInt8](repeating: UInt8(ascii: "y"), count: 20_000)
        chunk.withUnsafeBytes { raw in capture.take(raw) { longest = max(longest, $0.count) } }
        capture.finish { longest = max(longest, $0.count) }
        #expect(longest == OutputCapture.maxLineLength)
    }

    @Test func aLastLineWithoutNewlineCounts() {
        var capture = OutputCapture(stream: "stdout", collectUpTo: 100)
        var emitted: [[UInt8]] = []
        Array("a\nb".utf8).withUnsafeBytes { raw in capture.take(raw) { emitted.append($0) } }
        capture.finish { emitted.append($0) }
        #expect(emitted == [[UInt8(ascii: "a")], [UInt8(ascii: "b")]])
        #expect(capture.collected == Array("a\nb".utf8))
    }

    @Test func timersFireEarliestFirstAndCancelledOnesNever() {
        var queue = TimerQueue()
        var fired: [Int] = []
        let base = MonotonicInstant(nanoseconds: 1_000)
        _ = queue.insert(deadline: base.advanced(by: .nanoseconds(30))) { fired.append(3) }
        let cancelled = queue.insert(deadline: base.advanced(by: .nanoseconds(20))) { fired.append(2) }
        _ = queue.insert(deadline: base.advanced(by: .nanoseconds(10))) { fired.append(1) }
        queue.cancel(cancelled)
        #expect(queue.nextDeadline == base.advanced(by: .nanoseconds(10)))
        while let work = queue.popDue(now: base.advanced(by: .nanoseconds(100))) { work() }
        #expect(fired == [1, 3])
        #expect(queue.nextDeadline == nil)
    }

    @Test func fifoQueueKeepsOrderAcrossCompaction() {
        var queue = FIFOQueue<Int>()
        for value in 0..<5000 { queue.append(value) }
        var seen: [Int] = []
        while let value = queue.removeFirst() { seen.append(value) }
        #expect(seen == Array(0..<5000))
        #expect(queue.isEmpty)
    }

    @Test(arguments: [
        ("inbox/a.msg", true), ("a/../b", false), ("/abs", false), ("a/.b", false), (".x", false),
        ("a//b", false), ("a/", false), ("-leading dash", true),
    ])
    func messageNamesForSendAndRetry(name: String, valid: Bool) {
        #expect(SpoolLayout.isValidMessageName(Array(name.utf8)) == valid)
    }
}

@Suite struct DurationArithmeticTests {
    @Test func hugeDurationsSaturateInsteadOfTrapping() {
        #expect(Duration.seconds(Int64.max / 2).nanoseconds == .max)
        // timeout=3000000h: beyond Int64 nanoseconds, so it saturates.
        #expect(Duration.seconds(3_000_000 * 3600).nanoseconds == .max)
        #expect(Duration.seconds(90).nanoseconds == 90_000_000_000)
        let now = MonotonicInstant.now()
        #expect(now.advanced(by: .seconds(Int64.max / 4)).nanoseconds == .max)
        #expect(now.advanced(by: .milliseconds(5)) > now)
    }
}
