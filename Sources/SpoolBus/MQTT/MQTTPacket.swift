/// The MQTT 5 packets the bus sends and receives: only what publishing, subscribing and keeping
/// a session need (no QoS 2, no will, no AUTH, no UNSUBSCRIBE).
enum MQTTPacket: Equatable {
    case connect(MQTTConnect)
    case connack(MQTTConnack)
    case publish(MQTTPublish)
    case puback(MQTTPuback)
    case subscribe(MQTTSubscribe)
    case suback(MQTTSuback)
    case pingRequest
    case pingResponse
    case disconnect(MQTTDisconnect)

    /// The packet type, the high four bits of the first byte.
    enum Kind: UInt8 {
        case connect = 1, connack = 2, publish = 3, puback = 4, subscribe = 8, suback = 9
        case pingRequest = 12, pingResponse = 13, disconnect = 14
    }

    /// The whole packet: fixed header, variable header, payload.
    func encode() -> Bytes {
        var body = MQTTWriter()
        let kind: Kind
        var flags: UInt8 = 0
        switch self {
        case .connect(let packet):
            kind = .connect
            packet.encodeBody(into: &body)
        case .connack(let packet):
            kind = .connack
            packet.encodeBody(into: &body)
        case .publish(let packet):
            kind = .publish
            flags = packet.flags
            packet.encodeBody(into: &body)
        case .puback(let packet):
            kind = .puback
            packet.encodeBody(into: &body)
        case .subscribe(let packet):
            kind = .subscribe
            flags = 0b0010
            packet.encodeBody(into: &body)
        case .suback(let packet):
            kind = .suback
            packet.encodeBody(into: &body)
        case .pingRequest: kind = .pingRequest
        case .pingResponse: kind = .pingResponse
        case .disconnect(let packet):
            kind = .disconnect
            packet.encodeBody(into: &body)
        }
        var packet = MQTTWriter()
        packet.byte(kind.rawValue << 4 | flags)
        packet.variableInteger(body.bytes.count)
        packet.append(body.bytes)
        return packet.bytes
    }

    /// Decodes one packet's body, given its first byte.
    static func decode(firstByte: UInt8, body: ArraySlice<UInt8>) throws -> MQTTPacket {
        guard let kind = Kind(rawValue: firstByte >> 4) else {
            throw MQTTDecodeError("unsupported packet type \(firstByte >> 4)")
        }
        let flags = firstByte & 0x0F
        let expectedFlags: UInt8 = kind == .subscribe ? 0b0010 : 0
        guard kind == .publish || flags == expectedFlags else {
            throw MQTTDecodeError("reserved flags \(flags) on packet type \(kind.rawValue)")
        }
        var reader = MQTTReader(body)
        let packet: MQTTPacket
        switch kind {
        case .connect: packet = .connect(try MQTTConnect(from: &reader))
        case .connack: packet = .connack(try MQTTConnack(from: &reader))
        case .publish: packet = .publish(try MQTTPublish(flags: flags, from: &reader))
        case .puback: packet = .puback(try MQTTPuback(from: &reader))
        case .subscribe: packet = .subscribe(try MQTTSubscribe(from: &reader))
        case .suback: packet = .suback(try MQTTSuback(from: &reader))
        case .pingRequest: packet = .pingRequest
        case .pingResponse: packet = .pingResponse
        case .disconnect: packet = .disconnect(try MQTTDisconnect(from: &reader))
        }
        guard reader.isAtEnd else { throw MQTTDecodeError("\(reader.remaining) bytes past the end of a packet of type \(kind.rawValue)") }
        return packet
    }
}

/// CONNECT (3.1): who the client is and how long the broker keeps its session.
struct MQTTConnect: Equatable {
    var clientID: Bytes
    /// Seconds; 0 turns keepalive off.
    var keepAlive: UInt16
    /// Off: the broker resumes the session it holds for this client id.
    var cleanStart: Bool
    var username: Bytes?
    var password: Bytes?
    var properties = MQTTProperties()

    private static let protocolName = Array("MQTT".utf8)
    private static let protocolLevel: UInt8 = 5

    init(clientID: Bytes, keepAlive: UInt16, cleanStart: Bool, username: Bytes? = nil, password: Bytes? = nil,
         properties: MQTTProperties = MQTTProperties()) {
        self.clientID = clientID
        self.keepAlive = keepAlive
        self.cleanStart = cleanStart
        self.username = username
        self.password = password
        self.properties = properties
    }

    func encodeBody(into writer: inout MQTTWriter) {
        writer.string(Self.protocolName)
        writer.byte(Self.protocolLevel)
        var flags: UInt8 = 0
        if cleanStart { flags |= 0x02 }
        if password != nil { flags |= 0x40 }
        if username != nil { flags |= 0x80 }
        writer.byte(flags)
        writer.twoBytes(keepAlive)
        properties.encode(into: &writer)
        writer.string(clientID)
        if let username { writer.string(username) }
        if let password { writer.binary(password) }
    }

    init(from reader: inout MQTTReader) throws {
        guard try reader.string() == Self.protocolName else { throw MQTTDecodeError("protocol name is not MQTT") }
        guard try reader.byte() == Self.protocolLevel else { throw MQTTDecodeError("protocol level is not 5") }
        let flags = try reader.byte()
        guard flags & 0x01 == 0 else { throw MQTTDecodeError("reserved CONNECT flag set") }
        guard flags & 0x3C == 0 else { throw MQTTDecodeError("CONNECT with a will, which the bus does not use") }
        cleanStart = flags & 0x02 != 0
        keepAlive = try reader.twoBytes()
        properties = try MQTTProperties.decode(from: &reader)
        clientID = try reader.string()
        username = flags & 0x80 != 0 ? try reader.string() : nil
        password = flags & 0x40 != 0 ? try reader.binary() : nil
    }
}

/// CONNACK (3.2): whether the broker took the connection, and whether it kept the session.
struct MQTTConnack: Equatable {
    var sessionPresent: Bool
    var reasonCode: UInt8
    var properties = MQTTProperties()

    func encodeBody(into writer: inout MQTTWriter) {
        writer.byte(sessionPresent ? 1 : 0)
        writer.byte(reasonCode)
        properties.encode(into: &writer)
    }

    init(sessionPresent: Bool, reasonCode: UInt8, properties: MQTTProperties = MQTTProperties()) {
        self.sessionPresent = sessionPresent
        self.reasonCode = reasonCode
        self.properties = properties
    }

    init(from reader: inout MQTTReader) throws {
        let flags = try reader.byte()
        guard flags & 0xFE == 0 else { throw MQTTDecodeError("reserved CONNACK flags set") }
        sessionPresent = flags == 1
        reasonCode = try reader.byte()
        properties = try MQTTProperties.decode(from: &reader)
    }
}

/// PUBLISH (3.3) at QoS 0 or 1.
struct MQTTPublish: Equatable {
    var topic: Bytes
    var payload: Bytes
    /// 0 or 1.
    var qos: UInt8 = 0
    var retain = false
    /// Set on a resend of a QoS 1 message the broker may have seen.
    var duplicate = false
    /// Present exactly when `qos` is 1.
    var packetID: UInt16?
    var properties = MQTTProperties()

    init(topic: Bytes, payload: Bytes, qos: UInt8 = 0, retain: Bool = false, duplicate: Bool = false, packetID: UInt16? = nil,
         properties: MQTTProperties = MQTTProperties()) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.duplicate = duplicate
        self.packetID = packetID
        self.properties = properties
    }

    var flags: UInt8 {
        (duplicate ? 0x08 : 0) | qos << 1 | (retain ? 0x01 : 0)
    }

    func encodeBody(into writer: inout MQTTWriter) {
        writer.string(topic)
        if qos > 0 { writer.twoBytes(packetID ?? 0) }
        properties.encode(into: &writer)
        writer.append(payload)
    }

    init(flags: UInt8, from reader: inout MQTTReader) throws {
        qos = (flags >> 1) & 0x03
        guard qos <= 1 else { throw MQTTDecodeError(qos == 2 ? "PUBLISH at QoS 2, which the bus never asks for" : "PUBLISH with QoS 3") }
        duplicate = flags & 0x08 != 0
        guard !(duplicate && qos == 0) else { throw MQTTDecodeError("PUBLISH at QoS 0 marked duplicate") }
        retain = flags & 0x01 != 0
        topic = try reader.string()
        packetID = nil
        if qos > 0 {
            let id = try reader.twoBytes()
            guard id != 0 else { throw MQTTDecodeError("PUBLISH with packet identifier 0") }
            packetID = id
        }
        properties = try MQTTProperties.decode(from: &reader)
        payload = reader.rest()
    }
}

/// PUBACK (3.4): the broker (or the bus, for a message it received) took a QoS 1 message.
struct MQTTPuback: Equatable {
    var packetID: UInt16
    /// 0 success, 0x10 no matching subscribers (still a success); 0x80 and above a refusal.
    var reasonCode: UInt8 = 0
    var properties = MQTTProperties()

    init(packetID: UInt16, reasonCode: UInt8 = 0, properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.reasonCode = reasonCode
        self.properties = properties
    }

    func encodeBody(into writer: inout MQTTWriter) {
        writer.twoBytes(packetID)
        // The short form (3.4.2.1): no reason and no properties means success.
        guard reasonCode != 0 || !properties.entries.isEmpty else { return }
        writer.byte(reasonCode)
        if !properties.entries.isEmpty { properties.encode(into: &writer) }
    }

    init(from reader: inout MQTTReader) throws {
        packetID = try reader.twoBytes()
        reasonCode = reader.isAtEnd ? 0 : try reader.byte()
        properties = reader.isAtEnd ? MQTTProperties() : try MQTTProperties.decode(from: &reader)
    }
}

/// SUBSCRIBE (3.8): topic filters (shared ones `$share/GROUP/FILTER` too) with their QoS.
struct MQTTSubscribe: Equatable {
    struct Filter: Equatable {
        var filter: Bytes
        /// 0 or 1.
        var qos: UInt8
    }

    var packetID: UInt16
    var filters: [Filter]
    var properties = MQTTProperties()

    init(packetID: UInt16, filters: [Filter], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.filters = filters
        self.properties = properties
    }

    func encodeBody(into writer: inout MQTTWriter) {
        writer.twoBytes(packetID)
        properties.encode(into: &writer)
        for filter in filters {
            writer.string(filter.filter)
            writer.byte(filter.qos)
        }
    }

    init(from reader: inout MQTTReader) throws {
        packetID = try reader.twoBytes()
        properties = try MQTTProperties.decode(from: &reader)
        filters = []
        while !reader.isAtEnd {
            let filter = try reader.string()
            let options = try reader.byte()
            guard options & 0xC0 == 0 else { throw MQTTDecodeError("reserved subscription option bits set") }
            guard options & 0x03 != 3 else { throw MQTTDecodeError("subscription at QoS 3") }
            filters.append(Filter(filter: filter, qos: options & 0x03))
        }
        guard !filters.isEmpty else { throw MQTTDecodeError("SUBSCRIBE without a topic filter") }
    }
}

/// SUBACK (3.9): one reason code per filter asked for (the QoS granted, or a refusal).
struct MQTTSuback: Equatable {
    var packetID: UInt16
    var reasonCodes: [UInt8]
    var properties = MQTTProperties()

    init(packetID: UInt16, reasonCodes: [UInt8], properties: MQTTProperties = MQTTProperties()) {
        self.packetID = packetID
        self.reasonCodes = reasonCodes
        self.properties = properties
    }

    func encodeBody(into writer: inout MQTTWriter) {
        writer.twoBytes(packetID)
        properties.encode(into: &writer)
        for code in reasonCodes { writer.byte(code) }
    }

    init(from reader: inout MQTTReader) throws {
        packetID = try reader.twoBytes()
        properties = try MQTTProperties.decode(from: &reader)
        reasonCodes = reader.rest()
    }
}

/// DISCONNECT (3.14), from either side, with the reason.
struct MQTTDisconnect: Equatable {
    var reasonCode: UInt8 = 0
    var properties = MQTTProperties()

    init(reasonCode: UInt8 = 0, properties: MQTTProperties = MQTTProperties()) {
        self.reasonCode = reasonCode
        self.properties = properties
    }

    func encodeBody(into writer: inout MQTTWriter) {
        guard reasonCode != 0 || !properties.entries.isEmpty else { return }
        writer.byte(reasonCode)
        if !properties.entries.isEmpty { properties.encode(into: &writer) }
    }

    init(from reader: inout MQTTReader) throws {
        reasonCode = reader.isAtEnd ? 0 : try reader.byte()
        properties = reader.isAtEnd ? MQTTProperties() : try MQTTProperties.decode(from: &reader)
    }
}
