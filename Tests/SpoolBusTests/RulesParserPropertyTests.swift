import Testing
@testable import SpoolBus

/// The rules parser on arbitrary bytes: it never crashes, and every error it reports names the
/// file and a LINE:COL inside the input (a column one past a line's last byte is its end, where
/// "missing word" errors point).
@Suite struct RulesParserPropertyTests {
    /// Valid files that exercise every construct, mutated below.
    static let corpus: [[UInt8]] = [
        specExampleRules,
        """
        listen  "a b.sock"  mode=600 type=seqpacket
        listen  d.sock type=dgram
        mkfifo  'q u'/events  mode=0622
        'a*b'  file  retries=0 backoff=0s user=nobody:nogroup stdin=none output=discard last \\
            sh -c 'echo "$SPOOL_NAME" >> /tmp/x' _ "--file={name}" \\{name} ${HOME}
        [!a]?/** fifo,socket,node,gone reply /bin/echo {path} {id} {type} {event}\r
        x#y file then=keep prog # a comment \\
        "q\\"uote" file timeout=250ms swift:discard {name}
        """,
        "**/*.msg file ./h.sh\n\n\n# only a comment\n\t  \ncaf\u{E9}/* file then=delete ./h\n",
    ].map { (text: String) in Array(text.utf8) }

    static let interesting: [[UInt8]] = [
        [0], [0x0A], [0x0D], [0x0D, 0x0A], [0x27], [0x22], [0x5C], [0x5C, 0x0A], [0x23], [0x7B], [0x7D],
        [0x3D], [0x2C], [0x20], [0x09], [0xFF], [0xC3], [0xE2, 0x80, 0xA8], Array("{name}".utf8), Array("{nope}".utf8),
        Array("listen".utf8), Array("mkfifo".utf8), Array("mode=".utf8), Array("timeout=".utf8), Array("**".utf8),
        Array("[".utf8), Array("../".utf8), Array("/".utf8), Array("swift:".utf8), Array("user=".utf8),
    ]

    private func mutate(_ generator: inout SplitMix64) -> [UInt8] {
        var text = generator.pick(Self.corpus)
        for _ in 0..<(1 + generator.below(6)) {
            let at = generator.below(text.count + 1)
            switch generator.below(7) {
            case 0:  // truncation
                text.removeSubrange(at...)
            case 1:  // splice in a piece of another (or the same) file
                let donor = generator.pick(Self.corpus)
                let start = generator.below(donor.count)
                let end = min(donor.count, start + 1 + generator.below(40))
                text.insert(contentsOf: donor[start..<end], at: at)
            case 2:  // a byte that matters to the lexer
                text.insert(contentsOf: generator.pick(Self.interesting), at: at)
            case 3:  // deletion
                text.removeSubrange(at..<min(text.count, at + 1 + generator.below(8)))
            case 4:  // random bytes
                text.insert(contentsOf: generator.bytes(count: 1 + generator.below(6)), at: at)
            case 5:  // one byte overwritten
                if at < text.count { text[at] = UInt8(truncatingIfNeeded: generator.next()) }
            default:  // a line duplicated (so names and options repeat)
                let lineStart = text[..<at].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
                let lineEnd = text[at...].firstIndex(of: 0x0A).map { $0 + 1 } ?? text.count
                text.insert(contentsOf: text[lineStart..<lineEnd], at: lineEnd)
            }
        }
        return text
    }

    /// nil when every diagnostic (and every line a parsed rule or directive names) is inside `text`.
    private func misplaced(_ text: [UInt8]) -> String? {
        let file = "rules/x.rules"
        var lineLengths: [Int] = []
        var current = 0
        for byte in text {
            if byte == 0x0A {
                lineLengths.append(current)
                current = 0
            } else {
                current += 1
            }
        }
        lineLengths.append(current)
        func inside(_ line: Int, _ column: Int) -> Bool {
            line >= 1 && line <= lineLengths.count && column >= 1 && column <= lineLengths[line - 1] + 1
        }
        switch RulesParser.parse(text, file: file, directory: rulesDirectory) {
        case .success(let set):
            let lines = set.rules.map(\.line) + set.listens.map(\.line) + set.fifos.map(\.line)
            if let bad = lines.first(where: { !inside($0, 1) }) {
                return "parsed, with a line \(bad) outside 1...\(lineLengths.count) in \(shownBytes(text))"
            }
        case .failure(let error):
            if error.diagnostics.isEmpty { return "an error with no diagnostic for \(shownBytes(text))" }
            for diagnostic in error.diagnostics {
                guard diagnostic.file == file, !diagnostic.message.isEmpty,
                      inside(diagnostic.line, diagnostic.column),
                      diagnostic.description.hasPrefix("\(file):\(diagnostic.line):\(diagnostic.column): error: ")
                else {
                    return "diagnostic `\(diagnostic)` is not inside \(lineLengths.count) lines \(lineLengths.prefix(20)) of \(shownBytes(text))"
                }
            }
        }
        return nil
    }

    @Test func corpusParses() throws {
        for text in Self.corpus {
            #expect(throws: Never.self, "\(shownBytes(text))") { try RulesParser.parse(text, file: "x", directory: rulesDirectory).get() }
        }
    }

    @Test func randomBytesGiveErrorsInsideTheInput() {
        checkProperty("random bytes", cases: 1500) { generator in
            let alphabet: [UInt8] = Array(" \t\n\r'\"\\#{}=,*?[]!/.:-_abcfilnostuwxy0123456789".utf8) + [0, 0xFF, 0xC3]
            let count = generator.below(120)
            let text: [UInt8] = generator.chance(1, in: 3)
                ? generator.bytes(count: count)
                : (0..<count).map { _ in generator.pick(alphabet) }
            return misplaced(text)
        }
    }

    @Test func mutatedRulesFilesGiveErrorsInsideTheInput() {
        checkProperty("mutated rules file", cases: 2500) { generator in
            misplaced(mutate(&generator))
        }
    }
}
