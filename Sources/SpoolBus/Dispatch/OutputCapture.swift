/// Splits a handler's output into lines for the log, with bounds: a handler that floods its
/// output costs the daemon a read loop, never memory or disk.
struct OutputCapture {
    /// Most lines logged per stream and run; the rest are counted, not logged.
    static let maxLoggedLines = 100
    /// Longest line logged; a longer one is cut, and so is output with no newline at all.
    static let maxLineLength = 4096
    /// Lines kept for a failure's reason.
    static let tailLines = 5

    let stream: String
    private(set) var loggedLines = 0
    private(set) var droppedBytes = 0
    private(set) var tail: [Bytes] = []
    private var partial = Bytes()
    /// Everything read, kept only when asked (a `reply` rule's stdout), up to a bound.
    private(set) var collected: Bytes?
    private let collectLimit: Int

    init(stream: String, collectUpTo limit: Int? = nil) {
        self.stream = stream
        collectLimit = limit ?? 0
        collected = limit == nil ? nil : Bytes()
    }

    /// Takes a chunk; calls `emit` for each complete line that may be logged.
    mutating func take(_ chunk: UnsafeRawBufferPointer, emit: (Bytes) -> Void) {
        if collected != nil {
            let room = collectLimit - collected!.count
            if room > 0 { collected! += chunk.prefix(room) }
        }
        var start = 0
        for (index, byte) in chunk.enumerated() where byte == UInt8(ascii: "\n") {
            partial += chunk[start..<index]
            finishLine(emit: emit)
            start = index + 1
        }
        partial += chunk[start...]
        while partial.count >= Self.maxLineLength {
            let rest = Bytes(partial[Self.maxLineLength...])
            partial.removeSubrange(Self.maxLineLength...)
            finishLine(emit: emit)
            partial = rest
        }
    }

    /// Ends the stream: a last line without a newline still counts.
    mutating func finish(emit: (Bytes) -> Void) {
        if !partial.isEmpty { finishLine(emit: emit) }
    }

    private mutating func finishLine(emit: (Bytes) -> Void) {
        let line = partial
        partial.removeAll(keepingCapacity: true)
        tail.append(Bytes(line.prefix(512)))
        if tail.count > Self.tailLines { tail.removeFirst() }
        if loggedLines < Self.maxLoggedLines {
            loggedLines += 1
            emit(line)
        } else {
            droppedBytes += line.count + 1
        }
    }
}
