import Testing
@testable import SpoolBus

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Feeds `chunks` one by one and takes every line after each, then ends the stream.
private func frame(_ chunks: [String], maxLine: Int = 16) -> [LineFramer.Framed] {
    var framer = LineFramer(maxLine: maxLine)
    var out: [LineFramer.Framed] = []
    for chunk in chunks {
        framer.append(utf8(chunk))
        while let next = framer.nextLine() { out.append(next) }
    }
    framer.finish()
    while let next = framer.nextLine() { out.append(next) }
    return out
}

private func line(_ text: String) -> LineFramer.Framed { .line(utf8(text)) }

struct ChannelLineFramerTests {
    static let table: [(chunks: [String], expected: [LineFramer.Framed])] = [
        (["a\n"], [line("a")]),
        (["a\nb\n"], [line("a"), line("b")]),
        // Split across reads, anywhere.
        (["he", "llo\n"], [line("hello")]),
        (["hello", "\n"], [line("hello")]),
        (["a\nb", "c\n"], [line("a"), line("bc")]),
        // Empty lines are messages too.
        (["\n\n"], [line(""), line("")]),
        // An unterminated last line counts at end of stream.
        (["last"], [line("last")]),
        (["a\nlast"], [line("a"), line("last")]),
        ([], []),
        ([""], []),
        // Exactly the limit passes; one more byte is too long.
        (["1234567890123456\n"], [line("1234567890123456")]),
        (["12345678901234567\n"], [.tooLong(length: 17)]),
        // Too long across reads: dropped as it comes, reported with its full length, and
        // framing goes on at the next newline.
        (["0123456789", "0123456789", "0123456789\nnext\n"], [.tooLong(length: 30), line("next")]),
        (["ok\n0123456789012345678901234567890", "xx\nafter\n"], [line("ok"), .tooLong(length: 33), line("after")]),
        // Too long and never terminated.
        (["01234567890123456789"], [.tooLong(length: 20)]),
        // CR is a byte like any other.
        (["a\r\n"], [line("a\r")]),
    ]

    @Test(arguments: table)
    func framing(chunks: [String], expected: [LineFramer.Framed]) {
        #expect(frame(chunks) == expected)
    }

    @Test func overLongLineKeepsItsPlaceBehindWaitingLines() {
        var framer = LineFramer(maxLine: 4)
        framer.append(utf8("a\nb\n0123456789"))
        framer.append(utf8("0123\nc\n"))
        var out: [LineFramer.Framed] = []
        while let next = framer.nextLine() { out.append(next) }
        #expect(out == [line("a"), line("b"), .tooLong(length: 14), line("c")])
    }

    @Test func memoryStaysBoundedWhateverTheWriterSends() {
        var framer = LineFramer(maxLine: 100)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
        for _ in 0..<256 { framer.append(chunk) }  // a megabyte without a newline
        #expect(framer.bufferedCount <= 100)
        framer.append(utf8("\nshort\n"))
        #expect(framer.nextLine() == .tooLong(length: 256 * 4096))
        #expect(framer.nextLine() == line("short"))
        #expect(framer.nextLine() == nil)
        #expect(framer.bufferedCount == 0)
    }

    @Test func linesWaitUntilTaken() {
        var framer = LineFramer(maxLine: 64)
        framer.append(utf8("one\ntwo\nthr"))
        #expect(framer.hasLine)
        #expect(framer.nextLine() == line("one"))
        #expect(framer.hasLine)
        #expect(framer.nextLine() == line("two"))
        #expect(!framer.hasLine)
        #expect(framer.nextLine() == nil)
        #expect(framer.bufferedCount == 3)
        framer.append(utf8("ee\n"))
        #expect(framer.nextLine() == line("three"))
    }

    @Test func bytesAreNotInterpreted() {
        let odd: [UInt8] = [0xFF, 0x00, 0xC3, 0x28, UInt8(ascii: "\n")]
        var framer = LineFramer(maxLine: 64)
        framer.append(odd)
        #expect(framer.nextLine() == .line([0xFF, 0x00, 0xC3, 0x28]))
    }
}

struct ChannelReplyTests {
    @Test func statusLines() {
        #expect(ChannelReply.accepted(utf8("0193b1f0c2a1-000001")) == utf8("ok 0193b1f0c2a1-000001\n"))
        #expect(ChannelReply.failed(utf8("X"), "exited with status 1: no\nway") == utf8("fail X exited with status 1: no way\n"))
        #expect(ChannelReply.refused("no rule") == utf8("error no rule\n"))
    }

    @Test(arguments: [
        ("pong\n", "reply X 5\npong\n"),
        ("pong", "reply X 4\npong\n"),
        ("", "reply X 0\n\n"),
        ("a\nb\n", "reply X 4\na\nb\n"),
        ("a\n\n", "reply X 3\na\n\n"),
    ])
    func replyCarriesExactLength(output: String, expected: String) {
        #expect(ChannelReply.output(utf8("X"), utf8(output)) == utf8(expected))
    }
}

struct ChannelControlWordsTests {
    @Test(arguments: [
        ("status", ["status"]),
        ("  watch   inbox/*.msg ", ["watch", "inbox/*.msg"]),
        ("retry \"with space\" plain", ["retry", "with space", "plain"]),
        ("retry \"q\\\"uote\\\\back\"", ["retry", "q\"uote\\back"]),
        ("retry \"\"", ["retry", ""]),
        ("retry\t--all\r", ["retry", "--all"]),
    ])
    func splitting(line: String, words: [String]) {
        #expect(ControlWords.split(utf8(line)) == words.map(utf8))
    }

    @Test(arguments: ["retry \"open", "retry \"bad \\q\"", "retry \"\\x4\""])
    func malformedLinesAreRefused(line: String) {
        #expect(ControlWords.split(utf8(line)) == nil)
    }

    @Test func anyNameSurvivesTheRoundTrip() {
        let names: [[UInt8]] = [
            utf8("inbox/hello.msg"), utf8("with space"), utf8("-leading"), utf8("$(rm -rf)"),
            utf8("quote\"s and \\ back"), utf8("new\nline\ttab"), [0xFF, 0xFE, 0x80], utf8("x=y"), utf8("ünïcødé"), [],
        ]
        let line = ControlWords.line([utf8("retry")] + names)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false)
        #expect(ControlWords.split(Array(line.dropLast())) == [utf8("retry")] + names)
    }
}
