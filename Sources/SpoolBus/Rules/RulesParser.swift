/// The rules-file language.
///
/// ## Lines and words
///
/// - The file is bytes; nothing is assumed to be UTF-8. A NUL byte is an error.
/// - `#` starts a comment when it begins a word outside quotes (`a#b` is one word, `a #b` is a
///   word and a comment). A comment runs to the end of its physical line; a backslash there does
///   not continue it. Blank lines and comment-only lines are ignored.
/// - A backslash right before the newline (outside single quotes) continues the line: the
///   backslash-newline disappears and the words go on, as in a shell (`ab\` + newline + `cd` is
///   the word `abcd`; with spaces before `cd` it is two words). `\r\n` line ends are accepted.
/// - Words are split like a shell splits them, with no expansion of any kind: spaces, tabs and
///   carriage returns separate words; `'…'` keeps every byte literally; `"…"` keeps every byte
///   except that `\"`, `\\`, `\$` and `` \` `` stand for the second byte (any other backslash
///   stays); a backslash outside quotes makes the next byte literal. `''` is an empty word.
///   Quotes do not span lines: an unclosed quote is an error at the quote.
/// - Keywords — `listen`, `mkfifo`, option names, `reply`, `last`, `worker` — count only when written bare
///   (no quote, no backslash), as in a shell: `'last'` is a program called `last`, and `'listen'`
///   or `[l]isten` is a pattern matching the name `listen`.
///
/// ## Rules
///
/// `PATTERN ON [OPTION=VALUE|reply|last|worker …] HANDLER [ARG …]`
///
/// - PATTERN is a ``Glob``. Quoted or backslash-escaped `*`, `?`, `[` and `\` in it are literal
///   (`'a*b'` matches only the name `a*b`). It must be relative.
/// - ON is a comma-separated list of `file`, `fifo`, `socket`, `node`, `gone`: not empty, no
///   empty item, no duplicate.
/// - Options follow, each at most once: `timeout=` (a duration above zero), `retries=` (0 or
///   more), `backoff=` (a duration, 0 allowed), `concurrency=` (1 or more), `then=`
///   (delete|archive|keep), `user=NAME[:GROUP]`, `stdin=` (body|none), `output=` (log|discard),
///   `log=` (all|failures), `pipeline=` (1 to 1024, on a `worker` rule only), and the bare words `reply`, `last` and `worker`. A word counts as an option when the part before its
///   first `=` is a bare name (a letter, then letters, digits, `_` or `-`); an unknown such name
///   is an error (`LANG=C` included: handlers are never run through a shell). The first word that
///   is not an option starts the handler. The value may be quoted (`user="www-data"`).
/// - `reply` needs `socket` among the events; `then=archive|keep` needs `file`.
/// - `worker` needs a program (not `swift:`) without placeholders, events among `file`, `fifo`
///   and `socket`, and no `stdin=`; its `concurrency=` defaults to 1.
/// - The handler is `swift:NAME [WORD …]`, a Swift handler registered in the binary (its words
///   are templates too), or a program and its arguments, run directly, never through a shell.
///   A program word containing `/` that is not absolute is resolved against the rules file's
///   folder (`./handlers/x.sh` → `/etc/spool/handlers/x.sh`, `.` components dropped); a bare word
///   (`logger`) is looked up in PATH when run.
///
/// ## Placeholders
///
/// `{name}` `{path}` `{id}` `{type}` `{event}` are recognised in handler arguments and Swift
/// handler words after splitting, inside quotes too (`"--file={name}"` is one word with one
/// placeholder), and replaced by whole values that never split. `{` + letters + `}` that is not
/// one of the five is an error. Other braces are literal, and so is a `{` escaped by a backslash
/// outside quotes (`\{name}` is the text `{name}`) or right after `$` (`${HOME}` in an `sh -c`
/// script stays shell syntax). A placeholder in the program word is an error.
///
/// ## Directives
///
/// A line whose first word is bare `listen`, `mkfifo`, `mq` or `signal` is a directive, not a rule.
///
/// - `listen NAME [mode=0660] [type=stream|seqpacket|dgram] [durable]`
/// - `mkfifo NAME [mode=0622] [durable]`
/// - `mq /NAME [mode=0600] [maxmsg=N] [msgsize=BYTES]`: NAME is one component (no further `/`,
///   not `.` or `..`, at most 255 bytes); its messages are named NAME without the slash.
/// - `signal NAME…`: `USR1`, `USR2`, `WINCH`, `PWR`, `RTMIN`, `RTMIN+N` (a `SIG` prefix is
///   allowed); each signal at most once in the file.
///
/// Modes are octal, 0 to 0777, leading zero optional. NAME is relative to the spool: not empty,
/// not absolute, no empty component, no `..`, no component starting with `.`, and no bare glob
/// byte (`*`, `?`, `[`); quoted ones are literal bytes of the name. A NAME may be declared once
/// across all `listen` and `mkfifo` lines.
///
/// ## Errors
///
/// Every error in the file is reported, each at the physical line and byte column where the
/// offending token (or the offending byte inside it) starts; a missing word is reported just past
/// the last word of the line. A file with any error yields no rule set.
public enum RulesParser {
    /// `file` is used in diagnostics as given; `directory` is the rules file's folder (absolute), used to resolve relative programs.
    public static func parse(_ text: [UInt8], file: String, directory: [UInt8]) -> Result<RuleSet, RulesError> {
        let (rules, diagnostics) = parseReportingAll(text, file: file, directory: directory)
        return diagnostics.isEmpty ? .success(rules) : .failure(RulesError(diagnostics: diagnostics))
    }

    /// The rules and directives that have no error, and every error in file order: what a report
    /// of all a file's problems needs, since the checks against the system (`RuleSetCheck`) run
    /// on the rules that did parse.
    static func parseReportingAll(_ text: [UInt8], file: String, directory: [UInt8]) -> (rules: RuleSet, diagnostics: [Diagnostic]) {
        var parser = RulesFileParser(text: text, file: file, directory: directory)
        for line in splitIntoLines(text) {
            switch line {
            case .success(let logical): parser.parse(logical)
            case .failure(let error): parser.report(at: error.offset, error.message)
            }
        }
        parser.checkBrokerReferences()
        return (parser.ruleSet, Diagnostic.inFileOrder(parser.diagnostics))
    }

    /// The names recognised as rule options, in the order the summary shows them.
    public static let ruleOptionNames = ["timeout", "retries", "backoff", "concurrency", "then", "user", "stdin", "output", "reply", "last", "worker", "pipeline", "log"]

    /// The options written as a bare word, without a value.
    static let bareOptionNames = ["reply", "last", "worker"]
    /// Most requests `pipeline=` lets the daemon write ahead to one worker: past a pipe's
    /// buffer more ahead gains nothing, and all of them fail together when the worker dies.
    static let longestPipeline = 1024
}

struct RulesFileParser {
    let locator: SourceLocator
    let file: String
    let directory: [UInt8]
    var diagnostics: [Diagnostic] = []
    var ruleSet = RuleSet()
    /// Names declared by `listen` and `mkfifo`, with the line of their declaration.
    var declaredNames: [[UInt8]: Int] = [:]
    /// Brokers named by `mqtt:` handlers and `subscribe` lines, checked once every `broker` line is read.
    var brokerReferences: [(name: String, offset: Int)] = []

    init(text: [UInt8], file: String, directory: [UInt8]) {
        self.locator = SourceLocator(text)
        self.file = file
        self.directory = directory
    }

    mutating func report(at offset: Int, _ message: String) {
        let (line, column) = locator.location(of: offset)
        diagnostics.append(Diagnostic(file: file, line: line, column: column, message: message))
    }

    func lineNumber(_ offset: Int) -> Int { locator.location(of: offset).line }

    mutating func parse(_ logical: LogicalLine) {
        let first = logical.words[0]
        if first.isBare, first.bytes == Array("listen".utf8) {
            parseListen(logical.words)
        } else if first.isBare, first.bytes == Array("mkfifo".utf8) {
            parseMkfifo(logical.words)
        } else if first.isBare, first.bytes == Array("mq".utf8) {
            parseMessageQueue(logical.words)
        } else if first.isBare, first.bytes == Array("signal".utf8) {
            parseSignal(logical.words)
        } else if first.isBare, first.bytes == Array("broker".utf8) {
            parseBroker(logical.words)
        } else if first.isBare, first.bytes == Array("subscribe".utf8) {
            parseSubscribe(logical.words)
        } else {
            parseRule(logical.words)
        }
    }

    // MARK: Rules

    mutating func parseRule(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        let patternWord = words[0]
        let pattern = compilePattern(patternWord)
        guard words.count >= 2 else {
            report(at: patternWord.end, "missing events after the pattern (\(EventKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            return
        }
        let eventErrorsBefore = diagnostics.count
        let events = parseEvents(words[1])
        let eventsAreValid = diagnostics.count == eventErrorsBefore

        var options = RuleOptions()
        var index = 2
        while index < words.count, let option = OptionWord(words[index]) {
            apply(option, to: &options)
            index += 1
        }
        if eventsAreValid {
            if let replyWord = options.replyWord, !events.contains(.socket) {
                report(at: replyWord.start, "'reply' needs 'socket' among the events")
            }
            if let thenWord = options.thenWord, options.then != .delete, !events.contains(.file) {
                report(at: thenWord.start, "then=\(options.then.rawValue) needs 'file' among the events")
            }
            if let workerWord = options.workerWord, let other = events.first(where: { ![.file, .fifo, .socket, .mq, .signal].contains($0) }) {
                report(at: workerWord.start, "'worker' takes file, fifo, socket, mq and signal messages, not '\(other.rawValue)'")
            }
        }
        if options.workerWord == nil, let pipelineWord = options.pipelineWord {
            report(at: pipelineWord.start, "pipeline= needs 'worker': only a worker process takes requests written ahead")
        }
        if options.workerWord != nil, let stdinWord = options.stdinWord {
            report(at: stdinWord.start, "stdin= cannot be set for a worker, which reads its requests on stdin")
        }
        guard index < words.count else {
            report(at: words[words.count - 1].end, "missing handler")
            return
        }
        let handler = parseHandler(words[index...])
        if let workerWord = options.workerWord, let handler { checkWorker(handler, words: words[index...], workerWord: workerWord) }
        guard diagnostics.count == errorsBefore, let pattern, let handler else { return }
        var rule = Rule(line: lineNumber(patternWord.start), pattern: pattern, events: events,
                        handler: handler, handlerWord: words[index].bytes)
        rule.timeout = options.timeout
        // A `reply` client waits on the line for its answer: three retries with backoff would
        // hold it 7 s past the first failure, longer than a client usually waits, so a reply
        // rule fails at once unless it asks for retries.
        rule.retries = options.replyWord != nil && !options.seen.contains("retries") ? 0 : options.retries
        rule.backoff = options.backoff
        rule.concurrency = options.concurrency
        rule.then = options.then
        rule.user = options.user
        rule.stdin = options.stdin
        rule.output = options.output
        rule.reply = options.replyWord != nil
        rule.last = options.lastWord != nil
        rule.worker = options.workerWord != nil
        rule.pipeline = options.pipeline
        rule.log = options.log
        // One worker process unless more are asked for: `concurrency=` is how many there are.
        if rule.worker && rule.concurrency == nil { rule.concurrency = 1 }
        rule.occurrence = ruleSet.rules.filter { $0.identity == rule.identity }.count + 1
        ruleSet.rules.append(rule)
    }

    /// A pattern word in glob syntax: quoted and escaped bytes that are special to globs get a
    /// backslash, so they match themselves.
    mutating func compilePattern(_ word: Word) -> Glob? {
        var source: [UInt8] = []
        var sourceOffsets: [Int] = []
        for (index, byte) in word.bytes.enumerated() {
            if word.quoting[index] != .plain, globSpecialBytes.contains(byte) {
                source.append(UInt8(ascii: "\\"))
                sourceOffsets.append(word.offsets[index])
            }
            source.append(byte)
            sourceOffsets.append(word.offsets[index])
        }
        do {
            return try Glob(source)
        } catch let error as Glob.SyntaxError {
            let offset = error.offset < sourceOffsets.count ? sourceOffsets[error.offset] : word.start
            report(at: offset, error.message)
            return nil
        } catch {
            report(at: word.start, "\(error)")
            return nil
        }
    }

    mutating func parseEvents(_ word: Word) -> [EventKind] {
        var events: [EventKind] = []
        var itemStart = 0
        for index in 0...word.bytes.count where index == word.bytes.count || word.bytes[index] == UInt8(ascii: ",") {
            let item = word.slice(itemStart..<index)
            itemStart = index + 1
            guard !item.bytes.isEmpty else {
                let message = word.bytes.isEmpty ? "missing events after the pattern (\(EventKind.allCases.map(\.rawValue).joined(separator: ", ")))" : "empty event in list"
                report(at: item.start, message)
                continue
            }
            let text = String(decoding: item.bytes, as: UTF8.self)
            guard let event = EventKind(rawValue: text), item.bytes == Array(text.utf8) else {
                let shown = displayBytes(item.bytes)
                if let guess = closestName(to: shown, among: EventKind.allCases.map(\.rawValue)) {
                    report(at: item.start, "unknown event '\(shown)'; did you mean '\(guess)'?")
                } else {
                    report(at: item.start, "unknown event '\(shown)'; expected \(EventKind.listed)")
                }
                continue
            }
            if events.contains(event) {
                report(at: item.start, "duplicate event '\(text)'")
                continue
            }
            events.append(event)
        }
        return events
    }

    fileprivate mutating func apply(_ option: OptionWord, to options: inout RuleOptions) {
        let name = option.name
        if options.seen.contains(name) {
            report(at: option.word.start, "duplicate option '\(name)'")
            return
        }
        if RulesParser.ruleOptionNames.contains(name) { options.seen.insert(name) }
        guard let value = option.value else {
            switch name {
            case "reply": options.replyWord = option.word
            case "worker": options.workerWord = option.word
            default: options.lastWord = option.word
            }
            return
        }
        let valueText = String(decoding: value.bytes, as: UTF8.self)
        let shown = displayBytes(value.bytes)
        func invalid(_ expected: String) {
            report(at: value.start, "invalid \(name) '\(shown)'; expected \(expected)")
        }
        switch name {
        case "timeout", "backoff":
            guard let duration = parseDuration(value.bytes) else {
                invalid("an integer and a unit, like 250ms, 10s, 5m or 1h")
                return
            }
            if name == "timeout" {
                guard duration > .zero else {
                    report(at: value.start, "timeout must be greater than zero")
                    return
                }
                options.timeout = duration
            } else {
                options.backoff = duration
            }
        case "retries":
            guard let count = parseCount(value.bytes) else { return invalid("a whole number, 0 or more") }
            options.retries = count
        case "concurrency":
            guard let count = parseCount(value.bytes), count >= 1 else { return invalid("a whole number, 1 or more") }
            options.concurrency = count
        case "pipeline":
            guard let count = parseCount(value.bytes), (1...RulesParser.longestPipeline).contains(count) else {
                return invalid("a whole number from 1 to \(RulesParser.longestPipeline)")
            }
            options.pipeline = count
            options.pipelineWord = option.word
        case "then":
            guard let action = ThenAction(rawValue: valueText) else { return invalid("delete, archive or keep") }
            options.then = action
            options.thenWord = option.word
        case "stdin":
            guard let mode = StdinMode(rawValue: valueText) else { return invalid("body or none") }
            options.stdin = mode
            options.stdinWord = option.word
        case "output":
            guard let mode = OutputMode(rawValue: valueText) else { return invalid("log or discard") }
            options.output = mode
        case "log":
            guard let mode = LogMode(rawValue: valueText) else { return invalid("all or failures") }
            options.log = mode
        case "user":
            guard let user = parseUser(value.bytes) else { return invalid("NAME or NAME:GROUP") }
            options.user = user
        case "reply", "last", "worker":
            report(at: option.word.start, "'\(name)' takes no value; write just '\(name)'")
        default:
            // `name=value` cannot have meant `reply`, `last` or `worker`, which take no value.
            let valued = RulesParser.ruleOptionNames.filter { !RulesParser.bareOptionNames.contains($0) }
            if let guess = closestName(to: name, among: valued) {
                report(at: option.word.start, "unknown option '\(name)'; did you mean '\(guess)'?")
            } else {
                report(at: option.word.start, "unknown option '\(name)'")
            }
        }
    }

    mutating func parseHandler(_ words: ArraySlice<Word>) -> HandlerSpec? {
        let first = words[words.startIndex]
        if first.bytes.starts(with: Self.mqttPrefix) { return parseMQTTHandler(words) }
        let arguments = words.dropFirst().compactMap { parseTemplate($0) }
        let swiftPrefix = Array("swift:".utf8)
        if first.bytes.starts(with: swiftPrefix) {
            let nameBytes = Array(first.bytes.dropFirst(swiftPrefix.count))
            guard !nameBytes.isEmpty else {
                report(at: first.end, "missing Swift handler name after 'swift:'")
                return nil
            }
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                report(at: first.offsets[swiftPrefix.count], "Swift handler name '\(displayBytes(nameBytes))' is not valid UTF-8")
                return nil
            }
            guard arguments.count == words.count - 1 else { return nil }
            return .swift(name: name, arguments: arguments)
        }
        guard !first.bytes.isEmpty else {
            report(at: first.start, "empty program name")
            return nil
        }
        guard let programTemplate = parseTemplate(first) else { return nil }
        if let placeholder = firstPlaceholderOffset(in: first, template: programTemplate) {
            report(at: placeholder.offset, "placeholder '{\(placeholder.name.rawValue)}' is not allowed in the program; pass it as an argument")
            return nil
        }
        guard arguments.count == words.count - 1 else { return nil }
        return .program(program: resolveProgram(first.bytes), arguments: arguments)
    }

    /// A worker runs its program as written, once for many messages: it must be a program, and
    /// its arguments cannot name one message.
    mutating func checkWorker(_ handler: HandlerSpec, words: ArraySlice<Word>, workerWord: Word) {
        guard case .program(_, let arguments) = handler else {
            let inside = if case .swift = handler { "a Swift handler" } else { "an mqtt: handler" }
            report(at: workerWord.start, "'worker' needs a program; \(inside) already runs inside the daemon")
            return
        }
        for (word, template) in zip(words.dropFirst(), arguments) {
            if let placeholder = firstPlaceholderOffset(in: word, template: template) {
                report(at: placeholder.offset, "placeholder '{\(placeholder.name.rawValue)}' is not allowed in a worker rule; a worker reads each message's name and path in its request")
                return
            }
        }
    }

    /// Splits a word into literal bytes and placeholders, reporting unknown placeholders.
    mutating func parseTemplate(_ word: Word) -> ArgumentTemplate? {
        var pieces: [ArgumentTemplate.Piece] = []
        var literal: [UInt8] = []
        var valid = true
        var index = 0
        let bytes = word.bytes
        while index < bytes.count {
            if let (name, end) = placeholderCandidate(in: word, at: index) {
                if let placeholder = Placeholder(rawValue: name) {
                    if !literal.isEmpty { pieces.append(.literal(literal)); literal = [] }
                    pieces.append(.placeholder(placeholder))
                } else {
                    valid = false
                    let candidates = Placeholder.allCases.map(\.rawValue)
                    if let guess = closestName(to: name, among: candidates) {
                        report(at: word.offsets[index], "unknown placeholder '{\(name)}'; did you mean '{\(guess)}'?")
                    } else {
                        report(at: word.offsets[index], "unknown placeholder '{\(name)}'")
                    }
                }
                index = end
                continue
            }
            literal.append(bytes[index])
            index += 1
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return valid ? ArgumentTemplate(pieces: pieces) : nil
    }

    /// A `{letters}` starting at `index` that counts as a placeholder (known or not): the letters
    /// and the index past the `}`.
    func placeholderCandidate(in word: Word, at index: Int) -> (String, Int)? {
        let bytes = word.bytes
        guard bytes[index] == UInt8(ascii: "{"), word.quoting[index] != .escaped else { return nil }
        if index > 0, bytes[index - 1] == UInt8(ascii: "$") { return nil }
        var end = index + 1
        while end < bytes.count, isASCIILetter(bytes[end]) { end += 1 }
        guard end > index + 1, end < bytes.count, bytes[end] == UInt8(ascii: "}") else { return nil }
        return (String(decoding: bytes[(index + 1)..<end], as: UTF8.self), end + 1)
    }

    func firstPlaceholderOffset(in word: Word, template: ArgumentTemplate) -> (name: Placeholder, offset: Int)? {
        guard let placeholder = template.placeholders.first else { return nil }
        for index in word.bytes.indices {
            if let (name, _) = placeholderCandidate(in: word, at: index), name == placeholder.rawValue {
                return (placeholder, word.offsets[index])
            }
        }
        return (placeholder, word.start)
    }

    /// A program word with `/` that is not absolute is joined onto the rules file's folder.
    func resolveProgram(_ program: [UInt8]) -> [UInt8] {
        guard program.first != UInt8(ascii: "/"), program.contains(UInt8(ascii: "/")), !directory.isEmpty else {
            return program
        }
        let components = program.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
            .filter { $0.elementsEqual([UInt8(ascii: ".")]) == false }
        var base = directory
        while base.count > 1, base.last == UInt8(ascii: "/") { base.removeLast() }
        var resolved = base
        for component in components {
            if resolved.last != UInt8(ascii: "/") { resolved.append(UInt8(ascii: "/")) }
            resolved += component
        }
        if program.last == UInt8(ascii: "/") { resolved.append(UInt8(ascii: "/")) }
        return resolved
    }
}

/// The option values of one rule while it is being parsed, with the words that set the ones
/// other checks point at.
struct RuleOptions {
    var seen: Set<String> = []
    var timeout: Duration = .seconds(30)
    var retries = 3
    var backoff: Duration = .seconds(1)
    var concurrency: Int? = nil
    var then: ThenAction = .delete
    var thenWord: Word? = nil
    var user: UserSpec? = nil
    var stdin: StdinMode = .body
    var stdinWord: Word? = nil
    var output: OutputMode = .log
    var log: LogMode = .all
    var replyWord: Word? = nil
    var lastWord: Word? = nil
    var workerWord: Word? = nil
    var pipeline = 1
    var pipelineWord: Word? = nil
}

/// A word in option position: `name=value`, or bare `reply` / `last` / `worker`.
struct OptionWord {
    var word: Word
    var name: String
    /// `nil` for `reply`, `last` and `worker` written bare.
    var value: Word?

    init?(_ word: Word) {
        self.word = word
        if word.isBare, RulesParser.bareOptionNames.contains(where: { word.bytes == Array($0.utf8) }) {
            name = String(decoding: word.bytes, as: UTF8.self)
            value = nil
            return
        }
        guard let equals = word.bytes.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { return nil }
        let nameBytes = word.bytes[..<equals]
        guard word.quoting[..<equals].allSatisfy({ $0 == .plain }),
              isASCIILetter(nameBytes[0]),
              nameBytes.allSatisfy({ isASCIILetter($0) || isASCIIDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") })
        else { return nil }
        name = String(decoding: nameBytes, as: UTF8.self)
        value = word.slice((equals + 1)..<word.bytes.count)
    }
}

private let globSpecialBytes: [UInt8] = [UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "\\")]

private func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
}

func isASCIIDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

/// A decimal count without sign: `nil` for anything else or an overflow.
func parseCount(_ bytes: [UInt8]) -> Int? {
    guard !bytes.isEmpty, bytes.allSatisfy(isASCIIDigit) else { return nil }
    var value = 0
    for byte in bytes {
        let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        if overflow1 || overflow2 { return nil }
        value = sum
    }
    return value
}

/// `NAME` or `NAME:GROUP`, both parts non-empty UTF-8 without a further `:`.
private func parseUser(_ bytes: [UInt8]) -> UserSpec? {
    let parts = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
    guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty }),
          let user = String(validating: parts[0], as: UTF8.self) else { return nil }
    guard parts.count == 2 else { return UserSpec(user: user) }
    guard let group = String(validating: parts[1], as: UTF8.self) else { return nil }
    return UserSpec(user: user, group: group)
}
