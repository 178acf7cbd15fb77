/// How one byte of a word was written, which decides whether it can still be special
/// (a glob character, a placeholder's brace, a keyword).
enum Quoting: Sendable, Equatable {
    /// Written bare.
    case plain
    /// Inside single or double quotes.
    case quoted
    /// Right after a backslash outside quotes.
    case escaped
}

/// One word of a rules-file line after quote removal, remembering where each byte came from.
struct Word: Sendable, Equatable {
    var bytes: [UInt8] = []
    /// The file offset each byte was written at (for a quoted or escaped byte, the byte itself,
    /// not its quote or backslash).
    var offsets: [Int] = []
    var quoting: [Quoting] = []
    /// The file offset of the word's first character as written (a quote, a backslash or a byte).
    var start: Int
    /// The file offset just past the word's last character as written.
    var end: Int

    init(start: Int) {
        self.start = start
        self.end = start
    }

    /// Whether the word was written without any quote or backslash: only such words can be
    /// keywords (`listen`, `reply`, option names), as in a shell.
    var isBare: Bool { quoting.allSatisfy { $0 == .plain } }

    mutating func append(_ byte: UInt8, at offset: Int, _ how: Quoting) {
        bytes.append(byte)
        offsets.append(offset)
        quoting.append(how)
    }

    /// The bytes `range` of the word as a word of its own.
    func slice(_ range: Range<Int>) -> Word {
        let sliceStart: Int
        if !range.isEmpty {
            sliceStart = offsets[range.lowerBound]
        } else if range.lowerBound > 0 {
            sliceStart = offsets[range.lowerBound - 1] + 1
        } else {
            sliceStart = start
        }
        var word = Word(start: sliceStart)
        word.bytes = Array(bytes[range])
        word.offsets = Array(offsets[range])
        word.quoting = Array(quoting[range])
        word.end = range.isEmpty ? sliceStart : offsets[range.upperBound - 1] + 1
        return word
    }
}

/// One logical line: the words of one or more physical lines joined by backslash-newline.
struct LogicalLine: Sendable, Equatable {
    var words: [Word]
    /// The file offset where the logical line starts (its first physical line).
    var start: Int
}

/// A problem found while splitting a line into words.
struct SplitError: Error, Sendable, Equatable {
    var offset: Int
    var message: String
}

/// Splits a rules file into logical lines of words, like a shell would, but never expanding
/// anything: see the grammar at the top of RulesParser.swift. Blank and comment-only lines are
/// left out. A line with a splitting error yields that error instead of words, and splitting
/// goes on with the next logical line.
func splitIntoLines(_ text: [UInt8]) -> [Result<LogicalLine, SplitError>] {
    var splitter = WordSplitter(text: text)
    var lines: [Result<LogicalLine, SplitError>] = []
    while let line = splitter.nextLine() {
        switch line {
        case .success(let logical) where logical.words.isEmpty: continue
        default: lines.append(line)
        }
    }
    return lines
}

private let newline = UInt8(ascii: "\n")
private let backslash = UInt8(ascii: "\\")
private let singleQuote = UInt8(ascii: "'")
private let doubleQuote = UInt8(ascii: "\"")
private let carriageReturn = UInt8(ascii: "\r")

private struct WordSplitter {
    let text: [UInt8]
    var position = 0

    init(text: [UInt8]) { self.text = text }

    private func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == carriageReturn
    }

    /// How many bytes a line break takes at `offset`: `\n` or `\r\n`; 0 if there is none.
    private func lineBreakLength(at offset: Int) -> Int {
        guard offset < text.count else { return 0 }
        if text[offset] == newline { return 1 }
        if text[offset] == carriageReturn, offset + 1 < text.count, text[offset + 1] == newline { return 2 }
        return 0
    }

    mutating func nextLine() -> Result<LogicalLine, SplitError>? {
        guard position < text.count else { return nil }
        let lineStart = position
        var words: [Word] = []
        var word: Word? = nil

        func finishWord() {
            if let finished = word { words.append(finished) }
            word = nil
        }

        while position < text.count {
            let byte = text[position]
            if byte == newline {
                position += 1
                break
            }
            if byte == 0 {
                return skipRest(SplitError(offset: position, message: "NUL byte in rules file"))
            }
            if byte == backslash {
                let breakLength = lineBreakLength(at: position + 1)
                if breakLength > 0 {
                    // Continuation: the backslash-newline disappears, the word (if any) goes on.
                    position += 1 + breakLength
                    continue
                }
            }
            if isBlank(byte) {
                finishWord()
                position += 1
                continue
            }
            if byte == UInt8(ascii: "#") && word == nil {
                // A comment runs to the end of its physical line, backslash or not.
                while position < text.count, text[position] != newline { position += 1 }
                continue
            }
            if word == nil { word = Word(start: position) }
            switch byte {
            case backslash:
                if position + 1 < text.count {
                    if text[position + 1] == 0 {
                        return skipRest(SplitError(offset: position + 1, message: "NUL byte in rules file"))
                    }
                    word!.append(text[position + 1], at: position + 1, .escaped)
                    position += 2
                } else {
                    // A backslash at the very end of the file: nothing to escape, nothing to add.
                    position += 1
                    if word!.bytes.isEmpty && word!.start == position - 1 { word = nil }
                    continue
                }
            case singleQuote:
                let open = position
                position += 1
                while true {
                    guard position < text.count, text[position] != newline else {
                        return skipRest(SplitError(offset: open, message: "unterminated single quote"))
                    }
                    if text[position] == 0 {
                        return skipRest(SplitError(offset: position, message: "NUL byte in rules file"))
                    }
                    if text[position] == singleQuote { position += 1; break }
                    word!.append(text[position], at: position, .quoted)
                    position += 1
                }
            case doubleQuote:
                let open = position
                position += 1
                while true {
                    guard position < text.count, text[position] != newline else {
                        return skipRest(SplitError(offset: open, message: "unterminated double quote"))
                    }
                    let inner = text[position]
                    if inner == 0 {
                        return skipRest(SplitError(offset: position, message: "NUL byte in rules file"))
                    }
                    if inner == doubleQuote { position += 1; break }
                    if inner == backslash, position + 1 < text.count {
                        let next = text[position + 1]
                        let breakLength = lineBreakLength(at: position + 1)
                        if breakLength > 0 {
                            position += 1 + breakLength
                            continue
                        }
                        if next == doubleQuote || next == backslash || next == UInt8(ascii: "$") || next == UInt8(ascii: "`") {
                            word!.append(next, at: position + 1, .quoted)
                            position += 2
                            continue
                        }
                    }
                    word!.append(inner, at: position, .quoted)
                    position += 1
                }
            default:
                word!.append(byte, at: position, .plain)
                position += 1
            }
            word!.end = position
        }
        finishWord()
        return .success(LogicalLine(words: words, start: lineStart))
    }

    /// After an error, skips to the end of the logical line (honouring backslash-newline, ignoring
    /// quotes) so the rest of a broken rule does not produce errors of its own.
    private mutating func skipRest(_ error: SplitError) -> Result<LogicalLine, SplitError> {
        while position < text.count {
            if text[position] == newline {
                let continued = position > 0 && text[position - 1] == backslash
                    || position > 1 && text[position - 1] == carriageReturn && text[position - 2] == backslash
                position += 1
                if !continued { break }
            } else {
                position += 1
            }
        }
        return .failure(error)
    }
}
