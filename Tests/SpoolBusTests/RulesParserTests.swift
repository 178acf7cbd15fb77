import Testing
@testable import SpoolBus

struct RulesParserTests {
    @Test func specExampleParses() throws {
        let text = specExampleRules
        let set = try parseRules(text).get()
        #expect(set.rules.map(\.line) == [5, 6, 7, 8, 9])
        #expect(set.listens.map(\.name) == [bytes("ask.sock")])
        #expect(set.listens[0].mode == 0o666)
        #expect(set.listens[0].type == .stream)
        #expect(set.listens[0].line == 2)
        #expect(set.fifos.map(\.name) == [bytes("events")])
        #expect(set.fifos[0].mode == 0o622)
        #expect(set.fifos[0].line == 3)

        let notify = set.rules[0]
        #expect(notify.pattern.source == bytes("inbox/*.msg"))
        #expect(notify.events == [.file])
        #expect(notify.timeout == .seconds(10))
        #expect(notify.handler == .program(program: bytes("/etc/spool/handlers/notify.sh"),
                                           arguments: [ArgumentTemplate(pieces: [.placeholder(.name)])]))
        #expect(notify.handlerWord == bytes("./handlers/notify.sh"))
        #expect(set.rules[1].handler == .swift(name: "log", arguments: []))
        #expect(set.rules[1].then == .archive)
        #expect(set.rules[2].concurrency == 1)
        #expect(set.rules[3].reply)
        #expect(set.rules[4].events == [.node, .gone])
    }

    @Test func aReplyRuleIsNotRetriedUnlessItSaysSo() throws {
        let rules = try #require(ruleSet("a socket reply h\nb socket reply retries=2 h\nc socket h\n")?.rules)
        #expect(rules.map(\.retries) == [0, 2, 3])
    }

    @Test func defaults() throws {
        let rule = try #require(ruleSet("x file h")?.rules.first)
        #expect(rule.line == 1)
        #expect(rule.timeout == .seconds(30))
        #expect(rule.retries == 3)
        #expect(rule.backoff == .seconds(1))
        #expect(rule.concurrency == nil)
        #expect(rule.then == .delete)
        #expect(rule.user == nil)
        #expect(rule.stdin == .body)
        #expect(rule.output == .log)
        #expect(rule.reply == false)
        #expect(rule.last == false)
        #expect(rule.handler == .program(program: bytes("h"), arguments: []))
    }

    @Test func everyOption() throws {
        let text = "ask socket,file timeout=250ms retries=0 backoff=2m concurrency=4 then=keep user=www:staff stdin=none output=discard reply last h a"
        let rule = try #require(ruleSet(text)?.rules.first)
        #expect(rule.events == [.socket, .file])
        #expect(rule.timeout == .milliseconds(250))
        #expect(rule.retries == 0)
        #expect(rule.backoff == .seconds(120))
        #expect(rule.concurrency == 4)
        #expect(rule.then == .keep)
        #expect(rule.user == UserSpec(user: "www", group: "staff"))
        #expect(rule.stdin == .none)
        #expect(rule.output == .discard)
        #expect(rule.reply)
        #expect(rule.last)
        #expect(rule.handler == .program(program: bytes("h"), arguments: [ArgumentTemplate(literal: bytes("a"))]))
    }

    static let singleOptions: [(String, @Sendable (Rule) -> Bool)] = [
        ("timeout=1h", { $0.timeout == .seconds(3600) }),
        ("backoff=0s", { $0.backoff == .zero }),
        ("retries=10", { $0.retries == 10 }),
        ("concurrency=1", { $0.concurrency == 1 }),
        ("then=delete", { $0.then == .delete }),
        ("then=archive", { $0.then == .archive }),
        ("user=nobody", { $0.user == UserSpec(user: "nobody") }),
        ("user=\"www-data\"", { $0.user == UserSpec(user: "www-data") }),
        ("stdin=body", { $0.stdin == .body }),
        ("output=log", { $0.output == .log }),
        ("last", { $0.last }),
    ]

    @Test(arguments: singleOptions)
    func option(word: String, check: @Sendable (Rule) -> Bool) throws {
        let rule = try #require(ruleSet("x file \(word) h")?.rules.first)
        #expect(check(rule))
    }

    @Test func theFirstWordThatIsNotAnOptionStartsTheHandler() throws {
        let rule = try #require(ruleSet("x file retries=1 env FOO=1 last reply=x --opt=1 'last'")?.rules.first)
        #expect(rule.retries == 1)
        #expect(rule.last == false)
        guard case .program(let program, let arguments) = rule.handler else { Issue.record("not a program"); return }
        #expect(program == bytes("env"))
        #expect(arguments.map(shown) == ["FOO=1", "last", "reply=x", "--opt=1", "last"])
    }

    @Test func quotedKeywordsAreNotOptions() throws {
        let rule = try #require(ruleSet("x file 'last' -f")?.rules.first)
        #expect(rule.last == false)
        #expect(rule.handler == .program(program: bytes("last"), arguments: [ArgumentTemplate(literal: bytes("-f"))]))
        let other = try #require(ruleSet("x file \\timeout=5s h")?.rules.first)
        #expect(other.handler == .program(program: bytes("timeout=5s"), arguments: [ArgumentTemplate(literal: bytes("h"))]))
    }

    static let programs: [(String, String)] = [
        ("./handlers/x.sh", "/etc/spool/handlers/x.sh"),
        ("handlers/x.sh", "/etc/spool/handlers/x.sh"),
        ("././handlers/./x.sh", "/etc/spool/handlers/x.sh"),
        ("../bin/x", "/etc/spool/../bin/x"),
        ("/usr/bin/logger", "/usr/bin/logger"),
        ("logger", "logger"),
        ("'my handlers/x y.sh'", "/etc/spool/my handlers/x y.sh"),
    ]

    @Test(arguments: programs)
    func programsAreResolvedAgainstTheRulesFolder(word: String, expected: String) throws {
        let rule = try #require(ruleSet("x file \(word)")?.rules.first)
        #expect(rule.handler == .program(program: bytes(expected), arguments: []))
    }

    @Test func programsResolveAgainstAFolderWithATrailingSlashOrTheRoot() throws {
        let slash = try RulesParser.parse(bytes("x file ./h"), file: "r", directory: bytes("/srv/")).get()
        #expect(slash.rules[0].handler == .program(program: bytes("/srv/h"), arguments: []))
        let root = try RulesParser.parse(bytes("x file ./h"), file: "r", directory: bytes("/")).get()
        #expect(root.rules[0].handler == .program(program: bytes("/h"), arguments: []))
    }

    static let arguments: [(String, [String])] = [
        ("{name}", ["<name>"]),
        ("{name} {path} {id} {type} {event}", ["<name>", "<path>", "<id>", "<type>", "<event>"]),
        ("\"--file={name}\"", ["--file=<name>"]),
        ("'{path}'", ["<path>"]),
        ("pre{name}post{id}", ["pre<name>post<id>"]),
        ("\\{name}", ["{name}"]),
        ("'${HOME} ${name}'", ["${HOME} ${name}"]),
        ("{} { name} {na-me} {1} {name", ["{}", "{", "name}", "{na-me}", "{1}", "{name"]),
        ("a#b", ["a#b"]),
        ("'' x", ["", "x"]),
    ]

    @Test(arguments: arguments)
    func placeholdersInArguments(words: String, expected: [String]) throws {
        let rule = try #require(ruleSet("x file h \(words)")?.rules.first)
        #expect(rule.handler.arguments.map(shown) == expected)
    }

    @Test func aSubstitutedNameStaysOneArgument() throws {
        let rule = try #require(ruleSet("x file h --in={name}")?.rules.first)
        let template = try #require(rule.handler.arguments.first)
        #expect(template.pieces == [.literal(bytes("--in=")), .placeholder(.name)])
        let hostile: [UInt8] = bytes("a b; rm -rf $(x) ") + [0xFF]
        #expect(template.expand { _ in hostile } == bytes("--in=") + hostile)
    }

    @Test func swiftHandlersTakeTemplateWords() throws {
        let rule = try #require(ruleSet("x file swift:log --prefix={name} plain")?.rules.first)
        #expect(rule.handler == .swift(name: "log", arguments: [
            ArgumentTemplate(pieces: [.literal(bytes("--prefix=")), .placeholder(.name)]),
            ArgumentTemplate(literal: bytes("plain")),
        ]))
        #expect(rule.handlerWord == bytes("swift:log"))
    }

    static let patterns: [(String, String, String, Bool)] = [
        // written, source, name, matches
        ("'a*b'", "a\\*b", "a*b", true),
        ("'a*b'", "a\\*b", "axb", false),
        ("a\\?", "a\\?", "a?", true),
        ("\"my file\"", "my file", "my file", true),
        ("[l]isten", "[l]isten", "listen", true),
        ("'listen'", "listen", "listen", true),
        ("'[x]'", "\\[x]", "[x]", true),
        ("'a\\b'", "a\\\\b", "a\\b", true),
    ]

    @Test(arguments: patterns)
    func quotedPatternBytesAreLiteral(written: String, source: String, name: String, matches: Bool) throws {
        let rule = try #require(ruleSet("\(written) file h")?.rules.first)
        #expect(rule.pattern.source == bytes(source))
        #expect(rule.pattern.matches(bytes(name)) == matches)
    }

    @Test func nonUTF8PatternsAndArgumentsPassThrough() throws {
        let text: [UInt8] = bytes("caf") + [0xE9] + bytes("/* file h ") + [0xFF, UInt8(ascii: "{")] + bytes("name}")
        let set = try RulesParser.parse(text, file: "r", directory: rulesDirectory).get()
        #expect(set.rules[0].pattern.matches(bytes("caf") + [0xE9] + bytes("/x")))
        #expect(set.rules[0].handler.arguments == [ArgumentTemplate(pieces: [.literal([0xFF]), .placeholder(.name)])])
    }

    @Test func continuationLinesKeepTheRuleLine() throws {
        let text = """
        # header

        inbox/*.msg file \\
            timeout=5s \\
            ./h {name}
        other fifo h
        """
        let set = try parseRules(text).get()
        #expect(set.rules.map(\.line) == [3, 6])
        #expect(set.rules[0].timeout == .seconds(5))
    }

    @Test func directives() throws {
        let text = """
        listen a.sock
        listen b/c.sock mode=600 type=seqpacket
        listen d.sock type=dgram mode=0
        mkfifo events mode=0640
        mkfifo 'odd name'
        listen \\*star
        """
        let set = try parseRules(text).get()
        #expect(set.listens.map(\.name) == [bytes("a.sock"), bytes("b/c.sock"), bytes("d.sock"), bytes("*star")])
        #expect(set.listens.map(\.mode) == [0o660, 0o600, 0, 0o660])
        #expect(set.listens.map(\.type) == [.stream, .seqpacket, .dgram, .stream])
        #expect(set.listens.map(\.line) == [1, 2, 3, 6])
        #expect(set.fifos.map(\.name) == [bytes("events"), bytes("odd name")])
        #expect(set.fifos.map(\.mode) == [0o640, 0o622])
        #expect(set.rules.isEmpty)
    }

    @Test func fanOutStopsAfterLast() throws {
        let text = """
        inbox/*     file        a
        inbox/*.msg file,fifo   last b
        inbox/*     file        c
        **          fifo        d
        inbox/x.txt file  last  e
        **          file        f
        """
        let set = try parseRules(text).get()
        func reached(_ name: String, _ event: EventKind) -> [Int] { set.rules(for: bytes(name), event: event).map(\.line) }
        #expect(reached("inbox/x.msg", .file) == [1, 2])
        #expect(reached("inbox/x.msg", .fifo) == [2])
        #expect(reached("inbox/x.txt", .file) == [1, 3, 5])
        #expect(reached("events", .fifo) == [4])
        #expect(reached("top", .file) == [6])
        #expect(reached("top", .gone) == [])
        #expect(set.hasRule(for: bytes("events"), event: .fifo))
        #expect(set.hasRule(for: bytes("inbox/x.txt"), event: .fifo))
        #expect(set.hasRule(for: bytes("top"), event: .socket) == false)
    }

    @Test func keepWinsOverArchiveWinsOverDelete() throws {
        #expect(ThenAction.delete < .archive)
        #expect(ThenAction.archive < .keep)
        #expect([ThenAction.archive, .keep, .delete].max() == .keep)
        let set = try parseRules("""
        a/*   file then=archive h
        a/s*  file then=keep    h
        *     file              h
        """).get()
        #expect(set.thenAction(for: bytes("a/x")) == .archive)
        #expect(set.thenAction(for: bytes("a/state")) == .keep)
        #expect(set.thenAction(for: bytes("top")) == .delete)
        #expect(set.thenAction(for: bytes("b/x")) == .delete)
    }

    @Test func summaryShowsEveryEffectiveValue() throws {
        let set = try parseRules("""
        listen ask.sock mode=0666
        mkfifo events

        inbox/*.msg file timeout=10s ./handlers/notify.sh {name}
        ask.sock socket,file retries=0 backoff=1500ms concurrency=2 then=keep user=www:staff stdin=none output=discard reply last \\
            swift:answer "--greeting=hello {name}" \\{id} "" 'caf\u{E9}'
        """).get()
        #expect(set.rules[0].summary == "line 4: inbox/*.msg on file timeout=10s retries=3 backoff=1s concurrency=unlimited then=delete user=(daemon) stdin=body output=log reply=off last=off worker=off log=all -> /etc/spool/handlers/notify.sh {name}")
        #expect(set.rules[1].summary == "line 5: ask.sock on socket,file timeout=30s retries=0 backoff=1500ms concurrency=2 then=keep user=www:staff stdin=none output=discard reply=on last=on worker=off log=all -> swift:answer \"--greeting=hello {name}\" \\{id} \"\" caf\u{E9}")
        #expect(set.summaryLines == [
            "line 1: listen ask.sock mode=0666 type=stream",
            "line 2: mkfifo events mode=0622",
            set.rules[0].summary,
            set.rules[1].summary,
        ])
    }

    @Test func summaryEscapesBytesThatAreNotPrintable() throws {
        let text: [UInt8] = bytes("'a b' file h ") + [0xFF] + bytes(" \"x\\\"y\" 'tab\there'")
        let set = try RulesParser.parse(text, file: "r", directory: rulesDirectory).get()
        #expect(set.rules[0].summary.hasSuffix("-> h \"\\xff\" \"x\\\"y\" \"tab\\there\""))
        #expect(set.rules[0].summary.hasPrefix("line 1: \"a b\" on file"))
    }
}
