/// The `listen` and `mkfifo` directives, and what every directive shares: its names, its
/// `option=value` words, its modes.
extension RulesFileParser {
    mutating func parseListen(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        guard words.count >= 2 else {
            report(at: words[0].end, "missing socket name after 'listen'")
            return
        }
        let name = validateName(words[1], directive: "listen")
        var directive = ListenDirective(line: lineNumber(words[0].start), name: name ?? [])
        var seen: Set<String> = []
        for word in words.dropFirst(2) {
            if isDurableFlag(word, seen: &seen) {
                directive.durable = true
                continue
            }
            guard let option = directiveOption(word, directive: "listen", known: ["mode", "type"], seen: &seen) else { continue }
            if option.name == "mode" {
                if let mode = parseMode(option.value) { directive.mode = mode }
            } else if let type = SocketType(rawValue: String(decoding: option.value.bytes, as: UTF8.self)) {
                directive.type = type
            } else {
                report(at: option.value.start, "invalid type '\(displayBytes(option.value.bytes))'; expected stream, seqpacket or dgram")
            }
        }
        guard let name, diagnostics.count == errorsBefore, declare(name, word: words[1]) else { return }
        ruleSet.listens.append(directive)
    }

    mutating func parseMkfifo(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        guard words.count >= 2 else {
            report(at: words[0].end, "missing FIFO name after 'mkfifo'")
            return
        }
        let name = validateName(words[1], directive: "mkfifo")
        var directive = MkfifoDirective(line: lineNumber(words[0].start), name: name ?? [])
        var seen: Set<String> = []
        for word in words.dropFirst(2) {
            if isDurableFlag(word, seen: &seen) {
                directive.durable = true
                continue
            }
            guard let option = directiveOption(word, directive: "mkfifo", known: ["mode"], seen: &seen) else { continue }
            if let mode = parseMode(option.value) { directive.mode = mode }
        }
        guard let name, diagnostics.count == errorsBefore, declare(name, word: words[1]) else { return }
        ruleSet.fifos.append(directive)
    }

    /// Records a declared name; a second declaration of the same name is an error.
    mutating func declare(_ name: [UInt8], word: Word) -> Bool {
        if let earlier = declaredNames[name] {
            report(at: word.start, "duplicate name '\(displayBytes(name))' (already declared on line \(earlier))")
            return false
        }
        declaredNames[name] = lineNumber(word.start)
        return true
    }

    /// Whether `word` is the bare flag `durable` of a directive (a second one is reported).
    mutating func isDurableFlag(_ word: Word, seen: inout Set<String>) -> Bool {
        guard word.isBare, word.bytes == Array("durable".utf8) else { return false }
        if !seen.insert("durable").inserted { report(at: word.start, "duplicate option 'durable'") }
        return true
    }

    mutating func directiveOption(_ word: Word, directive: String, known: [String], seen: inout Set<String>) -> (name: String, value: Word)? {
        guard let option = OptionWord(word), let value = option.value else {
            let usage = Self.directiveUsage[directive] ?? directive
            report(at: word.start, "unexpected word '\(displayBytes(word.bytes))'; expected \(usage)")
            return nil
        }
        guard known.contains(option.name) else {
            if let guess = closestName(to: option.name, among: known) {
                report(at: word.start, "unknown \(directive) option '\(option.name)'; did you mean '\(guess)'?")
            } else {
                report(at: word.start, "unknown \(directive) option '\(option.name)'")
            }
            return nil
        }
        guard seen.insert(option.name).inserted else {
            report(at: word.start, "duplicate option '\(option.name)'")
            return nil
        }
        return (option.name, value)
    }

    static let directiveUsage = [
        "listen": "listen NAME [mode=MODE] [type=TYPE] [durable]",
        "mkfifo": "mkfifo NAME [mode=MODE] [durable]",
        "mq": "mq /NAME [mode=MODE] [maxmsg=N] [msgsize=BYTES]",
    ]

    mutating func parseMode(_ value: Word) -> UInt32? {
        var mode: UInt32 = 0
        var valid = !value.bytes.isEmpty
        for byte in value.bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { valid = false; break }
            mode = mode * 8 + UInt32(byte - UInt8(ascii: "0"))
            if mode > 0o777 { valid = false; break }
        }
        guard valid else {
            report(at: value.start, "invalid mode '\(displayBytes(value.bytes))'; expected an octal mode from 0 to 0777")
            return nil
        }
        return mode
    }

    /// A `listen` or `mkfifo` name: a plain relative path inside the spool.
    mutating func validateName(_ word: Word, directive: String) -> [UInt8]? {
        let bytes = word.bytes
        let shown = displayBytes(bytes)
        guard !bytes.isEmpty else {
            report(at: word.start, "\(directive) name must not be empty")
            return nil
        }
        for index in bytes.indices where word.quoting[index] == .plain && [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "[")].contains(bytes[index]) {
            report(at: word.offsets[index], "\(directive) name '\(shown)' must not be a glob")
            return nil
        }
        guard bytes[0] != UInt8(ascii: "/") else {
            report(at: word.start, "\(directive) name '\(shown)' must be relative")
            return nil
        }
        var componentStart = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "/") {
            let component = bytes[componentStart..<index]
            let offset = componentStart < bytes.count ? word.offsets[componentStart] : word.end
            if component.isEmpty {
                report(at: offset, "\(directive) name '\(shown)' must not have an empty component")
                return nil
            }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                report(at: offset, "\(directive) name '\(shown)' must not contain '..'")
                return nil
            }
            if component.first == UInt8(ascii: ".") {
                report(at: offset, "\(directive) name '\(shown)' must not have a component starting with '.'")
                return nil
            }
            componentStart = index + 1
        }
        return bytes
    }
}
