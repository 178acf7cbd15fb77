/// A pattern over message names (bytes, never assumed UTF-8).
///
/// - `*` matches any run of bytes without `/`; `?` matches one byte other than `/`.
/// - `**` matches any run of bytes, `/` included. When `**/` starts a component (at the start of
///   the pattern or right after `/`) it also matches no folder at all: `**/*.json` matches
///   `a.json` and `x/y/a.json`; `a/**/b` matches `a/b` and `a/x/y/b`. Elsewhere (`a**`) `**` is
///   just "anything, slashes included".
/// - `[abc]`, `[a-z]`, `[!abc]` (also `[^abc]`) match one byte of (or not of) the class; a class
///   never matches `/`. A `]` right after `[` or `[!` is a member: `[]a]`.
/// - A backslash makes the next byte literal, inside a class too.
/// - A pattern is relative: it never starts with `/`.
///
/// Matching simulates the pattern as an automaton over the name, one byte at a time, so it takes
/// at most (pattern length × name length) steps whatever the stars: no backtracking blow-up.
public struct Glob: Sendable, Equatable, CustomStringConvertible {
    /// The pattern as written in glob syntax (for the rules file: after quote removal, with quoted
    /// special bytes re-escaped by a backslash).
    public let source: [UInt8]
    private let tokens: [GlobToken]

    /// A syntax error in a pattern: what is wrong and the byte offset in `source` where it is.
    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var message: String
        public var description: String { message }
    }

    /// Compiles `source`, throwing a ``SyntaxError`` for an empty or absolute pattern, an
    /// unterminated `[`, a reversed range or a trailing lone backslash.
    public init(_ source: [UInt8]) throws {
        self.source = source
        var compiler = GlobCompiler(source)
        self.tokens = try compiler.compile()
    }

    /// Compiles a pattern given as a string (UTF-8).
    public init(_ source: String) throws {
        try self.init(Array(source.utf8))
    }

    public static func == (lhs: Glob, rhs: Glob) -> Bool { lhs.source == rhs.source }

    public var description: String { String(decoding: source, as: UTF8.self) }

    /// Whether the whole of `name` matches the pattern.
    public func matches(_ name: [UInt8]) -> Bool {
        let stateCount = tokens.count + 1  // the last state accepts
        var current = [Bool](repeating: false, count: stateCount)
        var next = [Bool](repeating: false, count: stateCount)
        current[0] = true
        closeOverEmptyMatches(&current)
        for byte in name {
            var anyAlive = false
            for i in 0..<stateCount { next[i] = false }
            for index in 0..<tokens.count where current[index] {
                switch tokens[index] {
                case .byte(let expected):
                    if byte == expected { next[index + 1] = true; anyAlive = true }
                case .anyByte:
                    if byte != slash { next[index + 1] = true; anyAlive = true }
                case .byteClass(let members):
                    if members.contains(byte) { next[index + 1] = true; anyAlive = true }
                case .star:
                    if byte != slash { next[index] = true; anyAlive = true }
                case .globstar:
                    next[index] = true; anyAlive = true
                case .folders:
                    next[index] = true; anyAlive = true
                    if byte == slash { next[index + 1] = true }
                }
            }
            if !anyAlive { return false }
            closeOverEmptyMatches(&next)
            swap(&current, &next)
        }
        return current[tokens.count]
    }

    /// Stars may match nothing: a live star state also makes the state after it live. Those
    /// moves only go forward, so one pass in order reaches everything.
    private func closeOverEmptyMatches(_ states: inout [Bool]) {
        for index in 0..<tokens.count where states[index] {
            switch tokens[index] {
            case .star, .globstar, .folders: states[index + 1] = true
            default: break
            }
        }
    }
}

private let slash = UInt8(ascii: "/")

/// A set of bytes, as a 256-bit map.
struct ByteSet: Sendable, Equatable {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (lhs: ByteSet, rhs: ByteSet) -> Bool {
        lhs.words == rhs.words
    }

    func contains(_ byte: UInt8) -> Bool {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: return words.0 & bit != 0
        case 1: return words.1 & bit != 0
        case 2: return words.2 & bit != 0
        default: return words.3 & bit != 0
        }
    }

    mutating func insert(_ byte: UInt8) {
        let bit = UInt64(1) << UInt64(byte & 63)
        switch byte >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    mutating func remove(_ byte: UInt8) {
        let mask = ~(UInt64(1) << UInt64(byte & 63))
        switch byte >> 6 {
        case 0: words.0 &= mask
        case 1: words.1 &= mask
        case 2: words.2 &= mask
        default: words.3 &= mask
        }
    }

    mutating func invert() {
        words = (~words.0, ~words.1, ~words.2, ~words.3)
    }
}

enum GlobToken: Sendable, Equatable {
    case byte(UInt8)
    /// `?`
    case anyByte
    /// `[…]`, already negated if written `[!…]`, never holding `/`.
    case byteClass(ByteSet)
    /// `*`: any run of bytes without `/`.
    case star
    /// `**`: any run of bytes.
    case globstar
    /// `**/` at the start of a component: nothing, or any run of bytes ending in `/`.
    case folders
}

private struct GlobCompiler {
    let source: [UInt8]
    var position = 0
    var tokens: [GlobToken] = []

    init(_ source: [UInt8]) { self.source = source }

    func error(_ offset: Int, _ message: String) -> Glob.SyntaxError {
        Glob.SyntaxError(offset: offset, message: message)
    }

    mutating func compile() throws -> [GlobToken] {
        guard !source.isEmpty else { throw error(0, "empty pattern") }
        guard source[0] != slash else { throw error(0, "pattern must be relative (no leading '/')") }
        while position < source.count {
            let byte = source[position]
            switch byte {
            case UInt8(ascii: "\\"):
                guard position + 1 < source.count else {
                    throw error(position, "pattern ends with a lone '\\'")
                }
                tokens.append(.byte(source[position + 1]))
                position += 2
            case UInt8(ascii: "?"):
                tokens.append(.anyByte)
                position += 1
            case UInt8(ascii: "*"):
                compileStars()
            case UInt8(ascii: "["):
                try compileClass()
            default:
                tokens.append(.byte(byte))
                position += 1
            }
        }
        return tokens
    }

    private mutating func compileStars() {
        let start = position
        while position < source.count, source[position] == UInt8(ascii: "*") { position += 1 }
        if position - start == 1 {
            tokens.append(.star)
            return
        }
        let startsComponent = start == 0 || source[start - 1] == slash
        if startsComponent, position < source.count, source[position] == slash {
            tokens.append(.folders)
            position += 1
        } else {
            tokens.append(.globstar)
        }
    }

    private mutating func compileClass() throws {
        let open = position
        position += 1
        var negated = false
        if position < source.count, source[position] == UInt8(ascii: "!") || source[position] == UInt8(ascii: "^") {
            negated = true
            position += 1
        }
        var members = ByteSet()
        var first = true
        while true {
            guard position < source.count else { throw error(open, "unterminated '[' in pattern") }
            var byte = source[position]
            if byte == UInt8(ascii: "]") && !first { position += 1; break }
            first = false
            let memberStart = position
            if byte == UInt8(ascii: "\\") {
                guard position + 1 < source.count else { throw error(open, "unterminated '[' in pattern") }
                position += 1
                byte = source[position]
            }
            position += 1
            // A range `a-z`; a `-` before the closing `]` is a member.
            if position + 1 < source.count, source[position] == UInt8(ascii: "-"), source[position + 1] != UInt8(ascii: "]") {
                position += 1
                var upper = source[position]
                if upper == UInt8(ascii: "\\") {
                    guard position + 1 < source.count else { throw error(open, "unterminated '[' in pattern") }
                    position += 1
                    upper = source[position]
                }
                position += 1
                guard byte <= upper else {
                    let text = displayBytes(Array(source[memberStart..<position]))
                    throw error(memberStart, "invalid range '\(text)' in pattern")
                }
                for member in byte...upper { members.insert(member) }
            } else {
                members.insert(byte)
            }
        }
        if negated { members.invert() }
        members.remove(slash)
        tokens.append(.byteClass(members))
    }
}
