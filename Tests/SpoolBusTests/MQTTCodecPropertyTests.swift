import Testing
@testable import SpoolBus

private func randomText(_ random: inout SplitMix64, maxCount: Int) -> [UInt8] {
    let alphabet = Array("abcxyz/+#$ é🙂-_.".unicodeScalars).map { String($0) }
    var text = ""
    for _ in 0..<random.below(maxCount + 1) { text += random.pick(alphabet) }
    return Array(text.utf8)
}

private func randomProperties(_ random: inout SplitMix64) -> MQTTProperties {
    var properties = MQTTProperties()
    for _ in 0..<random.below(4) {
        switch random.below(4) {
        case 0: properties.add(MQTTProperties.userProperty, .pair(randomText(&random, maxCount: 8), randomText(&random, maxCount: 8)))
        case 1: properties.add(MQTTProperties.sessionExpiryInterval, .fourBytes(UInt32(truncatingIfNeeded: random.next())))
        case 2: properties.add(MQTTProperties.receiveMaximum, .twoBytes(UInt16(truncatingIfNeeded: random.next())))
        default: properties.add(0x0B, .variableInteger(random.below(268_435_455)))
        }
    }
    return properties
}

private func randomPacket(_ random: inout SplitMix64) -> MQTTPacket {
    let id = UInt16(1 + random.below(65_535))
    switch random.below(9) {
    case 0:
        return .connect(MQTTConnect(clientID: randomText(&random, maxCount: 20), keepAlive: UInt16(random.below(65_536)),
                                    cleanStart: random.chance(1, in: 2),
                                    username: random.chance(1, in: 2) ? randomText(&random, maxCount: 10) : nil,
                                    password: random.chance(1, in: 2) ? random.bytes(count: random.below(12)) : nil,
                                    properties: randomProperties(&random)))
    case 1: return .connack(MQTTConnack(sessionPresent: random.chance(1, in: 2), reasonCode: UInt8(random.below(256)),
                                        properties: randomProperties(&random)))
    case 2:
        let qos = UInt8(random.below(2))
        return .publish(MQTTPublish(topic: randomText(&random, maxCount: 30), payload: random.bytes(count: random.below(400)), qos: qos,
                                    retain: random.chance(1, in: 2), duplicate: qos == 1 && random.chance(1, in: 2),
                                    packetID: qos == 1 ? id : nil, properties: randomProperties(&random)))
    case 3:
        let reason = random.chance(1, in: 2) ? UInt8(random.below(256)) : 0
        return .puback(MQTTPuback(packetID: id, reasonCode: reason, properties: random.chance(1, in: 3) ? randomProperties(&random) : MQTTProperties()))
    case 4:
        let filters = (0...random.below(3)).map { _ in MQTTSubscribe.Filter(filter: randomText(&random, maxCount: 12), qos: UInt8(random.below(2))) }
        return .subscribe(MQTTSubscribe(packetID: id, filters: filters, properties: randomProperties(&random)))
    case 5: return .suback(MQTTSuback(packetID: id, reasonCodes: random.bytes(count: 1 + random.below(4))))
    case 6: return .pingRequest
    case 7: return .pingResponse
    default: return .disconnect(MQTTDisconnect(reasonCode: UInt8(random.below(256)), properties: randomProperties(&random)))
    }
}

@Suite struct MQTTCodecPropertyTests {
    @Test func everyPacketRoundTripsThroughAnySplitOfTheStream() {
        checkProperty("mqtt round trip", cases: 300) { random in
            let packets = (0..<(1 + random.below(5))).map { _ in randomPacket(&random) }
            let stream = packets.flatMap { $0.encode() }
            var reader = MQTTFrameReader(maximumPacketSize: 1 << 20)
            var decoded: [MQTTPacket] = []
            var offset = 0
            do {
                while offset < stream.count {
                    let step = 1 + random.below(64)
                    reader.append(Array(stream[offset..<min(stream.count, offset + step)]))
                    offset += step
                    while let packet = try reader.next() { decoded.append(packet) }
                }
            } catch {
                return "decoding failed: \(error) for \(shownBytes(stream))"
            }
            return decoded == packets ? nil : "decoded \(decoded) from \(shownBytes(stream)), expected \(packets)"
        }
    }

    /// Corrupted and random streams end in an error or in wanting more bytes, never in a trap,
    /// and a reader never holds more than the bound plus a header.
    @Test func corruptedStreamsAreErrorsNotCrashes() {
        checkProperty("mqtt corrupted input", cases: 2000) { random in
            var stream = random.chance(1, in: 4)
                ? random.bytes(count: random.below(64))
                : (0..<(1 + random.below(3))).flatMap { _ in randomPacket(&random).encode() }
            for _ in 0..<(1 + random.below(4)) where !stream.isEmpty {
                switch random.below(3) {
                case 0: stream[random.below(stream.count)] = UInt8(random.below(256))
                case 1: stream.removeSubrange(random.below(stream.count)...)
                default: stream.insert(UInt8(random.below(256)), at: random.below(stream.count))
                }
            }
            var reader = MQTTFrameReader(maximumPacketSize: 512)
            reader.append(stream)
            var packets = 0
            do {
                while try reader.next() != nil {
                    packets += 1
                    if packets > stream.count { return "more packets than bytes from \(shownBytes(stream))" }
                }
            } catch is MQTTDecodeError {
                return nil
            } catch {
                return "unexpected error \(error)"
            }
            return reader.pending <= 512 + 5 ? nil : "\(reader.pending) bytes held for \(shownBytes(stream))"
        }
    }
}
