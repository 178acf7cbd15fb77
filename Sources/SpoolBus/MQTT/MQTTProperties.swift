/// The properties of an MQTT 5 packet (section 2.2.2), as read or to be written.
///
/// Every property MQTT 5 defines is decoded, so a packet that carries one the bus does not use
/// still parses; an identifier MQTT does not define is an error. Only the ones the bus uses have
/// names here.
struct MQTTProperties: Equatable {
    /// One property: its identifier and its value, in the shape its identifier calls for.
    enum Value: Equatable {
        case byte(UInt8)
        case twoBytes(UInt16)
        case fourBytes(UInt32)
        case variableInteger(Int)
        case string(Bytes)
        case binary(Bytes)
        case pair(Bytes, Bytes)
    }

    /// In the order they came or are to be written.
    var entries: [(identifier: UInt8, value: Value)] = []

    static func == (lhs: MQTTProperties, rhs: MQTTProperties) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.identifier == $1.identifier && $0.value == $1.value }
    }

    // The identifiers the bus writes or reads.
    static let sessionExpiryInterval: UInt8 = 0x11
    static let assignedClientIdentifier: UInt8 = 0x12
    static let serverKeepAlive: UInt8 = 0x13
    static let reasonString: UInt8 = 0x1F
    static let receiveMaximum: UInt8 = 0x21
    static let userProperty: UInt8 = 0x26
    static let maximumPacketSize: UInt8 = 0x27

    /// The value shape of each identifier MQTT 5 defines (table 2-4).
    private enum Shape { case byte, twoBytes, fourBytes, variableInteger, string, binary, pair }

    private static func shape(of identifier: UInt8) -> Shape? {
        switch identifier {
        case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A: return .byte
        case 0x13, 0x21, 0x22, 0x23: return .twoBytes
        case 0x02, 0x11, 0x18, 0x27: return .fourBytes
        case 0x0B: return .variableInteger
        case 0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F: return .string
        case 0x09, 0x16: return .binary
        case 0x26: return .pair
        default: return nil
        }
    }

    init() {}

    mutating func add(_ identifier: UInt8, _ value: Value) { entries.append((identifier, value)) }

    /// `user` properties (name, value), in order; a name may repeat.
    var userProperties: [(name: Bytes, value: Bytes)] {
        entries.compactMap { entry in
            if entry.identifier == Self.userProperty, case .pair(let name, let value) = entry.value { return (name, value) }
            return nil
        }
    }

    /// The first user property called `name`.
    func userProperty(_ name: String) -> Bytes? {
        userProperties.first { $0.name == name.bytes }?.value
    }

    func integer(_ identifier: UInt8) -> Int? {
        for entry in entries where entry.identifier == identifier {
            switch entry.value {
            case .byte(let v): return Int(v)
            case .twoBytes(let v): return Int(v)
            case .fourBytes(let v): return Int(v)
            case .variableInteger(let v): return v
            default: return nil
            }
        }
        return nil
    }

    func text(_ identifier: UInt8) -> Bytes? {
        for entry in entries where entry.identifier == identifier {
            if case .string(let value) = entry.value { return value }
        }
        return nil
    }

    /// The property length (a variable byte integer) and the properties.
    func encode(into writer: inout MQTTWriter) {
        var body = MQTTWriter()
        for (identifier, value) in entries {
            body.variableInteger(Int(identifier))
            switch value {
            case .byte(let v): body.byte(v)
            case .twoBytes(let v): body.twoBytes(v)
            case .fourBytes(let v): body.fourBytes(v)
            case .variableInteger(let v): body.variableInteger(v)
            case .string(let v): body.string(v)
            case .binary(let v): body.binary(v)
            case .pair(let name, let v):
                body.string(name)
                body.string(v)
            }
        }
        writer.variableInteger(body.bytes.count)
        writer.append(body.bytes)
    }

    static func decode(from reader: inout MQTTReader) throws -> MQTTProperties {
        let length = try reader.variableInteger()
        var inner = MQTTReader(try reader.take(length)[...])
        var properties = MQTTProperties()
        while !inner.isAtEnd {
            let identifier = try inner.variableInteger()
            guard identifier <= 0x7F, let shape = shape(of: UInt8(identifier)) else {
                throw MQTTDecodeError("unknown property identifier \(identifier)")
            }
            let value: Value
            switch shape {
            case .byte: value = .byte(try inner.byte())
            case .twoBytes: value = .twoBytes(try inner.twoBytes())
            case .fourBytes: value = .fourBytes(try inner.fourBytes())
            case .variableInteger: value = .variableInteger(try inner.variableInteger())
            case .string: value = .string(try inner.string())
            case .binary: value = .binary(try inner.binary())
            case .pair: value = .pair(try inner.string(), try inner.string())
            }
            properties.add(UInt8(identifier), value)
        }
        return properties
    }
}
