/// Splits a handler's output into lines for the log, with bounds: a handler that floods its
/// output costs the daemon a read loop, never memory or disk, and past the logged lines no
/// work per line: bytes are counted, and the last few kilobytes kept for the tail.
struct OutputCapture {
    /// Most lines logged per stream and run; the rest are counted, not logged.
    static let maxLoggedLines = 100
    /// Longest line logged; a longer one is cut, and so is output with no newline at all.
    static let maxLineLength = 4096
    /// Lines kept for a failure's reason, and how much of each.
    static let tailLines = 5
    static let tailLineLength = 512
    /// Past the logged lines, the last bytes kept to find the tail in: as many as `tailLines`
    /// lines of the longest logged length.
    static let tailWindow = tailLines * (maxLineLength + 1)

    let stream: String
    private(set) var loggedLines = 0
    private(set) var droppedBytes = 0
    private var earlyTail: [Bytes] = []
    private var partial = Bytes()
    /// The last bytes read past the logged lines, and whether older ones were let go.
    private var window = Bytes()
    private var windowLostItsStart = false
    /// Everything read, kept only when asked (a `reply` rule's stdout), up to a bound.
    private(set) var collected: Bytes?
    private let collectLimit: Int

    init(stream: String, collectUpTo limit: Int? = nil) {
        self.stream = stream
        collectLimit = limit ?? 0
        collected = limit == nil ? nil : Bytes()
    }

    /// Whether the logged lines are used up: what comes now is only counted.
    var isPastCap: Bool { loggedLines == Self.maxLoggedLines }

    /// Takes a chunk; calls `emit` for each complete line that may be logged.
    mutating func take(_ chunk: UnsafeRawBufferPointer, emit: (Bytes) -> Void) {
        if collected != nil {
            let room = collectLimit - collected!.count
            if room > 0 { collected! += chunk.prefix(room) }
        }
        var rest = chunk[...]
        while !rest.isEmpty {
            if isPastCap {
                skip(rest)
                return
            }
            // A newline further than the line's room would only cut it there.
            let room = Self.maxLineLength - partial.count
            let searched = rest.prefix(room + 1)
            if let newline = searched.firstIndex(of: UInt8(ascii: "\n")) {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<newline]))
                finishLine(emit: emit)
                rest = rest[(newline + 1)...]
            } else if searched.count > room {
                // Too long: cut here, and the rest of it starts the next line.
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest.prefix(room)))
                finishLine(emit: emit)
                rest = rest.dropFirst(room)
            } else {
                partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest))
                return
            }
        }
    }

    /// Ends the stream: a last line without a newline still counts.
    mutating func finish(emit: (Bytes) -> Void) {
        if !partial.isEmpty { finishLine(emit: emit) }
    }

    /// The last lines written, for a failure's reason.
    var tail: [Bytes] {
        guard !window.isEmpty else { return earlyTail }
        var lines = window.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if window.last == UInt8(ascii: "\n") { lines.removeLast() }
        if windowLostItsStart && lines.count > 1 { lines.removeFirst() }
        let late = lines.suffix(Self.tailLines).map { Bytes($0.prefix(Self.tailLineLength)) }
        return Array((earlyTail + late).suffix(Self.tailLines))
    }

    private mutating func finishLine(emit: (Bytes) -> Void) {
        earlyTail.append(Bytes(partial.prefix(Self.tailLineLength)))
        if earlyTail.count > Self.tailLines { earlyTail.removeFirst() }
        loggedLines += 1
        emit(partial)
        partial.removeAll(keepingCapacity: true)
    }

    /// Counts bytes past the logged lines, keeping only the last of them (whole-buffer copies:
    /// nothing here goes byte by byte).
    private mutating func skip(_ bytes: Slice<UnsafeRawBufferPointer>) {
        droppedBytes += bytes.count
        let raw = UnsafeRawBufferPointer(rebasing: bytes)
        if raw.count >= Self.tailWindow {
            window.removeAll(keepingCapacity: true)
            windowLostItsStart = true
        }
        window.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(raw.count - min(raw.count, Self.tailWindow))...]))
        if window.count > 2 * Self.tailWindow {
            window.removeFirst(window.count - Self.tailWindow)
            windowLostItsStart = true
        }
    }
}
