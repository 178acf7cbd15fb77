/// What a socket client gets back for each message it sent, in the order it sent them.
///
/// Every reply starts with one status line whose first word says what follows:
///
///     ok ID                  accepted and dispatched (no `reply` rule): sent at once
///     reply ID LENGTH        a `reply` rule's handler succeeded; LENGTH bytes of its stdout
///                            follow, then a newline when those bytes do not end with one
///     fail ID REASON         a `reply` rule's handler gave up (after its retries)
///     error REASON           the line was refused before it became a message
///
/// A person reading `echo ping | nc -U ask.sock` sees the status line and the handler's
/// output as it printed it; a program reads one line, and for `reply` exactly LENGTH bytes
/// (plus the newline when they lack one), so any output, binary or multi-line, is unambiguous.
/// On seqpacket and datagram sockets each reply is one packet holding the same text.
enum ChannelReply {
    static func accepted(_ id: Bytes) -> Bytes {
        "ok ".bytes + id + [newline]
    }

    static func output(_ id: Bytes, _ output: Bytes) -> Bytes {
        var reply = "reply ".bytes + id + " \(output.count)\n".bytes + output
        if output.last != newline { reply.append(newline) }
        return reply
    }

    static func failed(_ id: Bytes, _ reason: String) -> Bytes {
        "fail ".bytes + id + [space] + oneLine(reason) + [newline]
    }

    static func refused(_ reason: String) -> Bytes {
        "error ".bytes + oneLine(reason) + [newline]
    }

    /// A reason is one line whatever a handler printed.
    private static func oneLine(_ text: String) -> Bytes {
        text.bytes.map { $0 == newline || $0 == 0x0D ? space : $0 }
    }

    private static let newline = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
}
