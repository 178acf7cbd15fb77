/// Cuts packets out of the bytes a broker sends, however the stream split them.
///
/// A packet whose remaining length is beyond `maximumPacketSize` is refused as soon as its
/// header is read, before any of it is buffered: a broker (or something posing as one) cannot
/// make the daemon hold more than that.
struct MQTTFrameReader {
    let maximumPacketSize: Int
    private var buffer: Bytes = []
    private var start = 0

    init(maximumPacketSize: Int) {
        self.maximumPacketSize = maximumPacketSize
    }

    /// Bytes waiting for the rest of their packet.
    var pending: Int { buffer.count - start }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start == buffer.count {
            // A large packet's room is given back once it is consumed: an idle connection holds little.
            buffer.removeAll(keepingCapacity: buffer.capacity <= 65_536)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    mutating func append(_ bytes: Bytes) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next complete packet, nil when more bytes are needed; throws on malformed input
    /// (after which the stream is lost: the connection is closed).
    mutating func next() throws -> MQTTPacket? {
        guard let header = try Self.header(buffer[start...]) else { return nil }
        guard header.remainingLength <= maximumPacketSize else {
            throw MQTTDecodeError("remaining length \(header.remainingLength) beyond the limit of \(maximumPacketSize) bytes")
        }
        let bodyStart = start + header.headerLength
        guard buffer.count - bodyStart >= header.remainingLength else { return nil }
        let bodyEnd = bodyStart + header.remainingLength
        let packet = try MQTTPacket.decode(firstByte: buffer[start], body: buffer[bodyStart..<bodyEnd])
        start = bodyEnd
        if start > 65536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return packet
    }

    /// The fixed header's length and the remaining length it announces, nil if incomplete.
    private static func header(_ bytes: ArraySlice<UInt8>) throws -> (headerLength: Int, remainingLength: Int)? {
        guard bytes.count >= 2 else { return nil }
        var value = 0, multiplier = 1
        var index = bytes.startIndex + 1
        for position in 0..<4 {
            guard index < bytes.endIndex else { return nil }
            let digit = bytes[index]
            value += Int(digit & 0x7F) * multiplier
            index += 1
            if digit & 0x80 == 0 {
                if position > 0 && digit == 0 { throw MQTTDecodeError("remaining length not in its shortest form") }
                return (index - bytes.startIndex, value)
            }
            multiplier *= 128
        }
        throw MQTTDecodeError("remaining length longer than four bytes")
    }
}
