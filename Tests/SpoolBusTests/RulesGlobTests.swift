import Testing
@testable import SpoolBus

struct RulesGlobTests {
    static let table: [(String, String, Bool)] = [
        // SPEC examples
        ("inbox/*.msg", "inbox/hello.msg", true),
        ("inbox/*.msg", "inbox/sub/hello.msg", false),
        ("inbox/*.msg", "inbox/hello.txt", false),
        ("inbox/*.msg", "hello.msg", false),
        ("**/*.json", "a.json", true),
        ("**/*.json", "x/y/a.json", true),
        ("**/*.json", "x/a.json", true),
        ("**/*.json", "x/a.jsonx", false),
        ("events", "events", true),
        ("events", "events2", false),
        ("events", "x/events", false),
        ("**", "anything/at/all", true),
        ("**", "top", true),
        // * and ? do not cross /
        ("*", "a", true),
        ("*", "a/b", false),
        ("*", "", true),
        ("a?c", "abc", true),
        ("a?c", "a/c", false),
        ("a?c", "ac", false),
        ("*.msg", ".msg", true),
        ("*a*b*", "xaybz", true),
        ("*a*b*", "xbya", false),
        // ** in the middle and elsewhere
        ("a/**/b", "a/b", true),
        ("a/**/b", "a/x/b", true),
        ("a/**/b", "a/x/y/b", true),
        ("a/**/b", "ab", false),
        ("a/**", "a/x/y", true),
        ("a/**", "a", false),
        ("a**", "a/x/y", true),
        ("a**/b", "ab", false),
        ("a**/b", "ax/y/b", true),
        ("**/x/**/*.log", "x/a.log", true),
        ("**/x/**/*.log", "p/x/q/r/a.log", true),
        ("**/x/**/*.log", "p/y/q/a.log", false),
        // classes
        ("[abc].txt", "b.txt", true),
        ("[abc].txt", "d.txt", false),
        ("[a-c]x", "bx", true),
        ("[a-c]x", "dx", false),
        ("[!abc]x", "dx", true),
        ("[!abc]x", "ax", false),
        ("[^abc]x", "dx", true),
        ("[!abc]x", "/x", false),
        ("a[/]b", "a/b", false),
        ("[]a]", "]", true),
        ("[!]a]", "]", false),
        ("[a-]", "-", true),
        ("[\\]]", "]", true),
        // escapes
        ("a\\*b", "a*b", true),
        ("a\\*b", "axb", false),
        ("\\[x]", "[x]", true),
        ("\\?", "?", true),
        ("\\?", "a", false),
        // other bytes are literal
        ("a]b", "a]b", true),
        ("{name}", "{name}", true),
        ("a b", "a b", true),
    ]

    @Test(arguments: table)
    func matches(pattern: String, name: String, expected: Bool) throws {
        let glob = try Glob(pattern)
        #expect(glob.matches(bytes(name)) == expected, "\(pattern) against \(name)")
    }

    @Test func nonUTF8NamesAreMatchedAsBytes() throws {
        let latin1Name: [UInt8] = bytes("inbox/caf") + [0xE9] + bytes(".msg")
        #expect(try Glob("inbox/*.msg").matches(latin1Name))
        #expect(try Glob("inbox/caf?.msg").matches(latin1Name))
        #expect(try Glob(bytes("inbox/caf") + [0xE9] + bytes(".*")).matches(latin1Name))
        #expect(try Glob(bytes("inbox/caf") + [0xE8] + bytes(".*")).matches(latin1Name) == false)
        #expect(try Glob(bytes("[") + [0xE0, UInt8(ascii: "-"), 0xFF] + bytes("]")).matches([0xE9]))
        // `?` is one byte, so a two-byte UTF-8 letter needs two.
        #expect(try Glob("caf?").matches(bytes("café")) == false)
        #expect(try Glob("caf??").matches(bytes("café")))
    }

    @Test func deepNamesDoNotBlowUp() throws {
        // A backtracking matcher takes exponential time on this; the automaton is linear.
        let glob = try Glob("**/**/**/**/**/**/**/**/*a")
        let deep = Array(repeating: "x/", count: 2000).joined() + "b"
        #expect(glob.matches(bytes(deep)) == false)
        #expect(glob.matches(bytes(deep + "a")))
        let stars = try Glob("*a*a*a*a*a*a*a*a*a*a*b")
        #expect(stars.matches(bytes(String(repeating: "a", count: 5000))) == false)
    }

    static let errors: [(String, Int, String)] = [
        ("", 0, "empty pattern"),
        ("/abs/*", 0, "pattern must be relative (no leading '/')"),
        ("a[bc", 1, "unterminated '[' in pattern"),
        ("a[]", 1, "unterminated '[' in pattern"),
        ("x[z-a]", 2, "invalid range 'z-a' in pattern"),
        ("ab\\", 2, "pattern ends with a lone '\\'"),
    ]

    @Test(arguments: errors)
    func syntaxErrors(pattern: String, offset: Int, message: String) {
        #expect(throws: Glob.SyntaxError(offset: offset, message: message)) { try Glob(pattern) }
    }

    @Test func equalityIsBySource() throws {
        #expect(try Glob("a/*") == Glob("a/*"))
        #expect(try Glob("a/*") != Glob("a/?"))
        #expect(try Glob("a/*").source == bytes("a/*"))
    }
}
