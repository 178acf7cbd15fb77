import Testing
@testable import SpoolBus

struct RulesWordSplitterTests {
    /// The words of each logical line, or "error@OFFSET: MESSAGE".
    func split(_ text: String) -> [[String]] {
        splitIntoLines(bytes(text)).map { line in
            switch line {
            case .success(let logical): return logical.words.map { String(decoding: $0.bytes, as: UTF8.self) }
            case .failure(let error): return ["error@\(error.offset): \(error.message)"]
            }
        }
    }

    static let table: [(String, [[String]])] = [
        ("a b\tc", [["a", "b", "c"]]),
        ("  a   b  ", [["a", "b"]]),
        ("a\n\n\nb", [["a"], ["b"]]),
        ("a\r\nb\r\n", [["a"], ["b"]]),
        // comments
        ("# only a comment\na", [["a"]]),
        ("a # trailing", [["a"]]),
        ("a#b c", [["a#b", "c"]]),
        ("a '#b' \\#c", [["a", "#b", "#c"]]),
        ("a #comment \\\nb", [["a"], ["b"]]),
        ("   # indented comment", []),
        // single quotes keep everything
        ("'a b' 'c\\d' '$x' '\"'", [["a b", "c\\d", "$x", "\""]]),
        ("''", [[""]]),
        ("a'b c'd", [["ab cd"]]),
        // double quotes: \" \\ \$ \` escape, other backslashes stay
        ("\"a b\" \"x\\\"y\" \"p\\\\q\" \"\\$HOME\" \"\\`\" \"\\n\"", [["a b", "x\"y", "p\\q", "$HOME", "`", "\\n"]]),
        ("\"it's\"", [["it's"]]),
        // backslash outside quotes
        ("a\\ b c", [["a b", "c"]]),
        ("\\'x", [["'x"]]),
        ("\\\\", [["\\"]]),
        // continuation
        ("a \\\nb", [["a", "b"]]),
        ("ab\\\ncd", [["abcd"]]),
        ("a \\\n  b \\\n  c\nd", [["a", "b", "c"], ["d"]]),
        ("a \\\r\nb", [["a", "b"]]),
        ("\"a\\\nb\"", [["ab"]]),
        ("a \\\n# a comment can follow a continuation\n", [["a"]]),
        ("a \\", [["a"]]),
        // errors
        ("x 'abc", [["error@2: unterminated single quote"]]),
        ("x \"abc\ny", [["error@2: unterminated double quote"], ["y"]]),
        ("x 'a\\\nb' c\nd", [["error@2: unterminated single quote"], ["d"]]),
        ("a\u{0}b\nc", [["error@1: NUL byte in rules file"], ["c"]]),
    ]

    @Test(arguments: table)
    func splits(text: String, expected: [[String]]) {
        #expect(split(text) == expected)
    }

    @Test func bytesThatAreNotUTF8PassThrough() throws {
        let text: [UInt8] = [UInt8(ascii: "a"), 0xFF, UInt8(ascii: " "), UInt8(ascii: "'"), 0xFE, UInt8(ascii: "'")]
        let line = try splitIntoLines(text)[0].get()
        #expect(line.words.map(\.bytes) == [[UInt8(ascii: "a"), 0xFF], [0xFE]])
    }

    @Test func wordsRememberWhereEachByteCameFrom() throws {
        let line = try splitIntoLines(bytes("x 'a*'b\\?")).first!.get()
        let word = line.words[1]
        #expect(word.bytes == bytes("a*b?"))
        #expect(word.offsets == [3, 4, 6, 8])
        #expect(word.quoting == [.quoted, .quoted, .plain, .escaped])
        #expect(word.start == 2)
        #expect(word.end == 9)
        #expect(!word.isBare)
        #expect(line.words[0].isBare)
    }
}
