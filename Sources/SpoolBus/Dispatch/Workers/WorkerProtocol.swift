/// The line protocol between the daemon and a worker process (README, "Workers").
///
/// A request is one line of seven fields separated by single spaces,
/// `ID EVENT NAME DATA PEER_PID PEER_UID PEER_GID`, where DATA is the claimed file's path for
/// file messages, the line for FIFO and socket messages, the queue message's bytes for `mq`
/// messages and the `sigqueue` value for `signal` messages. An `mq` request alone has an eighth
/// field, the priority: it is the one fact of a queue message that no other event has, and
/// appending it keeps the seven fields of every other event exactly as they were. In NAME and DATA each byte outside
/// printable ASCII (0x21–0x7E), and `%` itself, is written `%XX` with uppercase hex digits, so a
/// request is always one line and any byte string comes back with a URL decoder. An unknown or
/// empty value is `-`; a value that is `-` itself is written `%2D`, so `-` always means none.
///
/// An answer is one line: `ok`, `fail` or `fail REASON`, or `reply LENGTH` followed by exactly
/// LENGTH bytes.
enum WorkerProtocol {
    /// The request line for one message, newline included.
    static func request(for message: Message, in layout: SpoolLayout) -> Bytes {
        var line = Bytes()
        line.reserveCapacity(message.id.count + message.name.count * 3 + 96)
        appendRequest(for: message, in: layout, to: &line)
        return line
    }

    /// Appends the request line for one message, newline included, to `line`: requests written
    /// ahead go into one buffer, without a buffer of their own each.
    static func appendRequest(for message: Message, in layout: SpoolLayout, to line: inout Bytes) {
        // No `reserveCapacity` here: growing by exact amounts would defeat the array's doubling
        // when many requests go into one buffer, which keeps its capacity between writes.
        line += message.id
        line.append(space)
        line += message.event.rawValue.utf8
        line.append(space)
        appendEscaped(message.name, to: &line)
        line.append(space)
        switch message.body {
        case .line where message.event == .signal:
            if let value = message.extras.signalValue { line += String(value).utf8 } else { line.append(dash) }
        case .line(let bytes): appendEscaped(bytes, to: &line)
        case .claimedFile, .stateFile: appendEscaped(message.path(in: layout), to: &line)
        case .none: line.append(dash)
        }
        let peer = message.peer
        appendNumber(peer?.pid.map(Int.init), to: &line)
        appendNumber(peer.map { Int($0.uid) }, to: &line)
        appendNumber(peer?.gid.map(Int.init), to: &line)
        if message.event == .mq {
            // A dead letter put back by `retry` comes without its priority: unknown, not 0.
            appendNumber(message.extras.priority.map(Int.init), to: &line)
        }
        line.append(newline)
    }

    /// A space, then the number, or `-` when it is unknown.
    private static func appendNumber(_ number: Int?, to line: inout Bytes) {
        line.append(space)
        if let number { line += String(number).utf8 } else { line.append(dash) }
    }

    /// Writes `value` with `%XX` escapes; empty or `-` as described above.
    static func appendEscaped(_ value: Bytes, to line: inout Bytes) {
        if value.isEmpty { return line.append(dash) }
        if value == [dash] { return line += "%2D".utf8 }
        for byte in value {
            if byte >= 0x21 && byte <= 0x7E && byte != percent {
                line.append(byte)
            } else {
                PercentEscape.append(byte, to: &line)
            }
        }
    }

    /// A worker's answer line, read without its newline.
    enum Answer: Equatable {
        case ok
        case fail(reason: Bytes)
        /// The reply's length; its bytes follow the line.
        case reply(length: Int)
    }

    /// Longest answer line taken: past it, what the worker writes is not an answer.
    static let longestAnswerLine = 4096
    /// Longest reply taken, as a one-shot `reply` rule's stdout is.
    static let longestReply = 65536

    /// The answer a line says, or nil when it is none (a protocol error).
    static func answer(_ line: ArraySlice<UInt8>) -> Answer? {
        if line.elementsEqual("ok".utf8) { return .ok }
        if line.elementsEqual("fail".utf8) { return .fail(reason: []) }
        if line.starts(with: "fail ".utf8) { return .fail(reason: Bytes(line.dropFirst(5))) }
        guard line.starts(with: "reply ".utf8) else { return nil }
        let digits = line.dropFirst(6)
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        let length = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        return .reply(length: length)
    }

    private static let space = UInt8(ascii: " ")
    private static let dash = UInt8(ascii: "-")
    private static let percent = UInt8(ascii: "%")
    private static let newline = UInt8(ascii: "\n")
}
