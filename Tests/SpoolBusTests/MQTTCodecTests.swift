import Testing
@testable import SpoolBus

private func mqttText(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Decodes exactly one packet from `encoded`, fed in one piece.
private func decodeOne(_ encoded: [UInt8], limit: Int = 1 << 20) throws -> MQTTPacket? {
    var reader = MQTTFrameReader(maximumPacketSize: limit)
    reader.append(encoded)
    let packet = try reader.next()
    #expect(reader.pending == 0)
    return packet
}

private func userProperties(_ pairs: [(String, String)]) -> MQTTProperties {
    var properties = MQTTProperties()
    for (name, value) in pairs { properties.add(MQTTProperties.userProperty, .pair(mqttText(name), mqttText(value))) }
    return properties
}

@Suite struct MQTTCodecTests {
    @Test func connectRoundTripsWithPropertiesAndCredentials() throws {
        var properties = MQTTProperties()
        properties.add(MQTTProperties.sessionExpiryInterval, .fourBytes(86_400))
        properties.add(MQTTProperties.receiveMaximum, .twoBytes(64))
        let connect = MQTTConnect(clientID: mqttText("spoolbus-a"), keepAlive: 30, cleanStart: false,
                                  username: mqttText("user"), password: [0, 1, 0xFF], properties: properties)
        let encoded = MQTTPacket.connect(connect).encode()
        #expect(encoded[0] == 0x10)
        // Protocol name, level 5, flags: username + password, clean start off.
        #expect(Array(encoded[2..<10]) == [0, 4, 0x4D, 0x51, 0x54, 0x54, 5, 0xC0])
        #expect(try decodeOne(encoded) == .connect(connect))
    }

    @Test func connectWithoutCredentialsAndCleanStart() throws {
        let connect = MQTTConnect(clientID: [], keepAlive: 0, cleanStart: true)
        let encoded = MQTTPacket.connect(connect).encode()
        #expect(encoded == [0x10, 13, 0, 4, 0x4D, 0x51, 0x54, 0x54, 5, 0x02, 0, 0, 0, 0, 0])
        #expect(try decodeOne(encoded) == .connect(connect))
    }

    @Test func connackCarriesReasonAndSessionPresent() throws {
        // What Mosquitto sends for a wrong password: no session, 0x86, no properties.
        #expect(try decodeOne([0x20, 3, 0, 0x86, 0]) == .connack(MQTTConnack(sessionPresent: false, reasonCode: 0x86)))
        var properties = MQTTProperties()
        properties.add(MQTTProperties.receiveMaximum, .twoBytes(20))
        properties.add(MQTTProperties.assignedClientIdentifier, .string(mqttText("auto-1")))
        let connack = MQTTConnack(sessionPresent: true, reasonCode: 0, properties: properties)
        let decoded = try decodeOne(MQTTPacket.connack(connack).encode())
        #expect(decoded == .connack(connack))
        guard case .connack(let read) = decoded else { return }
        #expect(read.properties.integer(MQTTProperties.receiveMaximum) == 20)
        #expect(read.properties.text(MQTTProperties.assignedClientIdentifier) == mqttText("auto-1"))
        #expect(MQTTReasonCode.describe(0x86) == "bad user name or password (0x86)")
    }

    @Test func publishAtQoS0AndQoS1WithRetainAndUserProperties() throws {
        let plain = MQTTPublish(topic: mqttText("a/b"), payload: mqttText("hi"))
        #expect(MQTTPacket.publish(plain).encode() == [0x30, 8, 0, 3, 0x61, 0x2F, 0x62, 0, 0x68, 0x69])
        #expect(try decodeOne(MQTTPacket.publish(plain).encode()) == .publish(plain))
        let full = MQTTPublish(topic: mqttText("spool/inbox/x"), payload: [0, 0xFF, 10], qos: 1, retain: true, duplicate: true,
                               packetID: 513, properties: userProperties([("spool-id", "0193-1"), ("origin-host", "box")]))
        let encoded = MQTTPacket.publish(full).encode()
        #expect(encoded[0] == 0x3B)
        let decoded = try decodeOne(encoded)
        #expect(decoded == .publish(full))
        guard case .publish(let read) = decoded else { return }
        #expect(read.properties.userProperty("origin-host") == mqttText("box"))
    }

    @Test func pubackShortAndLongForms() throws {
        #expect(MQTTPacket.puback(MQTTPuback(packetID: 7)).encode() == [0x40, 2, 0, 7])
        #expect(try decodeOne([0x40, 2, 0, 7]) == .puback(MQTTPuback(packetID: 7)))
        // A reason without properties (3.4.2.2: property length may be left out).
        #expect(try decodeOne([0x40, 3, 0, 7, 0x87]) == .puback(MQTTPuback(packetID: 7, reasonCode: 0x87)))
        var properties = MQTTProperties()
        properties.add(MQTTProperties.reasonString, .string(mqttText("no")))
        let refused = MQTTPuback(packetID: 9, reasonCode: 0x97, properties: properties)
        #expect(try decodeOne(MQTTPacket.puback(refused).encode()) == .puback(refused))
    }

    @Test func subscribeWithSharedFilterAndSuback() throws {
        let subscribe = MQTTSubscribe(packetID: 1, filters: [
            .init(filter: mqttText("$share/workers/jobs/#"), qos: 1), .init(filter: mqttText("sensors/+/temp"), qos: 0),
        ])
        let encoded = MQTTPacket.subscribe(subscribe).encode()
        #expect(encoded[0] == 0x82)
        #expect(try decodeOne(encoded) == .subscribe(subscribe))
        let suback = MQTTSuback(packetID: 1, reasonCodes: [1, 0x87])
        #expect(MQTTPacket.suback(suback).encode() == [0x90, 5, 0, 1, 0, 1, 0x87])
        #expect(try decodeOne([0x90, 5, 0, 1, 0, 1, 0x87]) == .suback(suback))
    }

    @Test func pingsAndDisconnect() throws {
        #expect(MQTTPacket.pingRequest.encode() == [0xC0, 0])
        #expect(MQTTPacket.pingResponse.encode() == [0xD0, 0])
        #expect(try decodeOne([0xC0, 0]) == .pingRequest)
        #expect(try decodeOne([0xD0, 0]) == .pingResponse)
        #expect(MQTTPacket.disconnect(MQTTDisconnect()).encode() == [0xE0, 0])
        #expect(try decodeOne([0xE0, 0]) == .disconnect(MQTTDisconnect()))
        #expect(try decodeOne([0xE0, 1, 0x8E]) == .disconnect(MQTTDisconnect(reasonCode: 0x8E)))
        var properties = MQTTProperties()
        properties.add(MQTTProperties.reasonString, .string(mqttText("taken over")))
        let disconnect = MQTTDisconnect(reasonCode: 0x8E, properties: properties)
        #expect(try decodeOne(MQTTPacket.disconnect(disconnect).encode()) == .disconnect(disconnect))
    }

    @Test func variableIntegersAtTheirBoundaries() throws {
        for (value, encoded) in [(0, [0x00]), (127, [0x7F]), (128, [0x80, 0x01]), (16_383, [0xFF, 0x7F]),
                                 (16_384, [0x80, 0x80, 0x01]), (2_097_152, [0x80, 0x80, 0x80, 0x01]),
                                 (268_435_455, [0xFF, 0xFF, 0xFF, 0x7F])] as [(Int, [UInt8])] {
            var writer = MQTTWriter()
            writer.variableInteger(value)
            #expect(writer.bytes == encoded)
            var reader = MQTTReader(encoded[...])
            #expect(try reader.variableInteger() == value)
        }
    }

    @Test func packetsSplitAnywhereComeOutWhole() throws {
        let packets: [MQTTPacket] = [
            .connack(MQTTConnack(sessionPresent: true, reasonCode: 0)),
            .publish(MQTTPublish(topic: mqttText("t"), payload: Array(repeating: 7, count: 300), qos: 1, packetID: 2)),
            .pingResponse, .suback(MQTTSuback(packetID: 3, reasonCodes: [0])),
        ]
        let stream = packets.flatMap { $0.encode() }
        for cut in 1..<stream.count {
            var reader = MQTTFrameReader(maximumPacketSize: 4096)
            var out: [MQTTPacket] = []
            reader.append(Array(stream[..<cut]))
            while let packet = try reader.next() { out.append(packet) }
            reader.append(Array(stream[cut...]))
            while let packet = try reader.next() { out.append(packet) }
            #expect(out == packets, "cut at \(cut)")
        }
    }
}

/// Input a broker must never get through: each is an error, not a crash or a wait.
@Suite struct MQTTMalformedInputTests {
    static let cases: [(String, [UInt8])] = [
        ("truncated string length", [0x30, 1, 0]),
        ("string longer than the packet", [0x30, 4, 0, 9, 0x61, 0]),
        ("property length beyond the packet", [0x20, 3, 0, 0, 9]),
        ("unknown property", [0x20, 4, 0, 0, 2, 0x7E, 0]),
        ("oversize variable integer in properties", [0x20, 7, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
        ("bad UTF-8 in a topic", [0x30, 5, 0, 2, 0xC3, 0x28, 0]),
        ("NUL in a topic", [0x30, 5, 0, 2, 0x61, 0x00, 0]),
        ("unknown packet type 0", [0x00, 0]),
        ("AUTH is not spoken", [0xF0, 0]),
        ("QoS 2 publish", [0x34, 6, 0, 1, 0x61, 0, 1, 0]),
        ("QoS 3 publish", [0x36, 6, 0, 1, 0x61, 0, 1, 0]),
        ("packet id 0", [0x32, 6, 0, 1, 0x61, 0, 0, 0]),
        ("reserved flags on PINGRESP", [0xD1, 0]),
        ("bytes past the end of a PINGRESP", [0xD0, 1, 0]),
        ("CONNACK reserved flag", [0x20, 3, 2, 0, 0]),
        ("non-minimal remaining length", [0xD0, 0x80, 0x00]),
        ("remaining length of five bytes", [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
    ]

    @Test(arguments: cases)
    func rejected(_ name: String, _ input: [UInt8]) {
        var reader = MQTTFrameReader(maximumPacketSize: 1 << 20)
        reader.append(input)
        #expect(throws: MQTTDecodeError.self, "\(name)") { _ = try reader.next() }
    }

    @Test func remainingLengthBeyondTheBoundIsRefusedBeforeItsBytesArrive() {
        var reader = MQTTFrameReader(maximumPacketSize: 1000)
        // Announces 2,000 bytes, sends none of them.
        reader.append([0x30, 0xD0, 0x0F])
        #expect(throws: MQTTDecodeError.self) { _ = try reader.next() }
    }

    @Test func anIncompletePacketWaitsWithoutError() throws {
        var reader = MQTTFrameReader(maximumPacketSize: 1000)
        reader.append([0x30, 0x85])
        #expect(try reader.next() == nil)
        reader.append([0x01])
        #expect(try reader.next() == nil)
    }
}
