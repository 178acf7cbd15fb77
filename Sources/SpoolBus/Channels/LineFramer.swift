/// Cuts a byte stream (a FIFO, a stream socket) into newline-terminated lines, in bounded
/// memory whatever a writer sends.
///
/// Lines are taken out one at a time with `nextLine()`, so a reader can stop taking them when
/// the bus is saturated and leave the rest buffered (and stop reading) until there is room.
/// A line longer than `maxLine` is not kept: once the unterminated tail of the buffer passes
/// the limit its bytes are dropped as they come, and when its newline arrives it is reported
/// as `.tooLong` with its full length, in its place among the lines; framing goes on after it.
struct LineFramer {
    enum Framed: Equatable {
        /// A complete line, without its newline.
        case line(Bytes)
        /// A line of `length` bytes (newline excluded) that was longer than the limit.
        case tooLong(length: Int)
    }

    /// The longest line delivered, in bytes, newline excluded.
    let maxLine: Int
    private var storage = Bytes()
    /// Where the unconsumed bytes start in `storage`.
    private var start = 0
    /// Where the search for the next newline resumes (bytes before it hold none).
    private var scanned = 0
    /// Lines handed out so far; gives each over-long line its place in the order.
    private var taken = 0
    /// Over-long lines whose newline came, waiting to be reported at their place.
    private var tooLongLines: [(ordinal: Int, length: Int)] = []
    /// The over-long line being dropped now, if any.
    private var dropping: (ordinal: Int, length: Int)?
    /// Whether the last byte appended was a newline.
    private var endedWithNewline = false

    init(maxLine: Int) {
        self.maxLine = max(1, maxLine)
    }

    /// Bytes held: a partial line, or complete lines not taken yet.
    var bufferedCount: Int { storage.count - start }

    /// Whether `nextLine()` has something to give.
    var hasLine: Bool {
        tooLongLines.first?.ordinal == taken || storage[scanned...].contains(newline)
    }

    /// Adds bytes read from the stream.
    mutating func append(_ chunk: UnsafeRawBufferPointer) {
        if let last = chunk.last { endedWithNewline = last == newline }
        var bytes = chunk[...]
        if let current = dropping {
            guard let end = bytes.firstIndex(of: newline) else {
                dropping = (current.ordinal, current.length + bytes.count)
                return
            }
            tooLongLines.append((current.ordinal, current.length + (end - bytes.startIndex)))
            dropping = nil
            bytes = bytes[(end + 1)...]
        }
        storage.append(contentsOf: bytes)
        capPartialLine()
    }

    /// Convenience for tests and callers holding an array.
    mutating func append(_ bytes: Bytes) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The place in the stream (0 for the first line ever) of the line that holds the last byte
    /// appended: the line it ended, or the one it is part of. A socket's passed descriptors go
    /// with that line.
    var lastByteOrdinal: Int {
        if let dropping { return dropping.ordinal }
        let waiting = storage[start...].reduce(0) { $0 + ($1 == newline ? 1 : 0) }
        let complete = taken + waiting + tooLongLines.count
        return endedWithNewline ? complete - 1 : complete
    }

    /// Lines handed out by `nextLine()` so far.
    var takenCount: Int { taken }

    /// Takes the next line, or nil when no complete one is buffered.
    mutating func nextLine() -> Framed? {
        if let first = tooLongLines.first, first.ordinal == taken {
            tooLongLines.removeFirst()
            taken += 1
            return .tooLong(length: first.length)
        }
        guard let end = storage[scanned...].firstIndex(of: newline) else {
            scanned = storage.count
            return nil
        }
        let length = end - start
        let framed: Framed = length > maxLine ? .tooLong(length: length) : .line(Bytes(storage[start..<end]))
        start = end + 1
        scanned = start
        taken += 1
        compact()
        return framed
    }

    /// Ends the stream: an unterminated last line becomes a line like any other, to be taken
    /// with `nextLine()`.
    mutating func finish() {
        if let current = dropping {
            tooLongLines.append(current)
            dropping = nil
        } else if bufferedCount > 0 && storage.last != newline {
            storage.append(newline)
        }
    }

    /// Once the unterminated tail is longer than the limit, its bytes are dropped and only
    /// counted from then on.
    private mutating func capPartialLine() {
        let lastNewline = storage[start...].lastIndex(of: newline)
        let partialStart = lastNewline.map { $0 + 1 } ?? start
        let partialLength = storage.count - partialStart
        guard partialLength > maxLine else { return }
        // Every line still waiting, complete or already reported too long, comes before it.
        let waiting = storage[start..<partialStart].reduce(0) { $0 + ($1 == newline ? 1 : 0) }
        dropping = (taken + waiting + tooLongLines.count, partialLength)
        storage.removeSubrange(partialStart...)
        if scanned > storage.count { scanned = storage.count }
        compact()
    }

    /// Drops consumed bytes once they are the larger part of the storage, and lets an empty
    /// buffer give its memory back (a thousand idle connections should cost next to nothing).
    private mutating func compact() {
        if start == storage.count {
            storage = []
            start = 0
            scanned = 0
        } else if start > 4096 && start * 2 > storage.count {
            storage.removeSubrange(..<start)
            scanned -= start
            start = 0
        }
    }

    private let newline = UInt8(ascii: "\n")
}
