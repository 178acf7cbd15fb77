/// The MQTT lines of a rules file: `broker` and `subscribe` directives and `mqtt:` handlers.
extension RulesFileParser {
    static let mqttPrefix = Array("mqtt:".utf8)
    private static let brokerUsage = "broker NAME mqtt://HOST[:PORT] [client-id=ID] [username=U] [password-file=FILE] [keepalive=DURATION]"
    private static let subscribeUsage = "subscribe NAME TOPIC-FILTER into FOLDER [qos=0|1]"

    mutating func parseBroker(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        guard words.count >= 3 else {
            report(at: words[words.count - 1].end, "missing \(words.count == 1 ? "name" : "mqtt://HOST[:PORT]"); expected \(Self.brokerUsage)")
            return
        }
        let name = brokerName(words[1])
        let address = brokerAddress(words[2])
        var directive = BrokerDirective(line: lineNumber(words[0].start), name: name ?? "", host: address?.host ?? "", port: address?.port ?? 1883)
        var seen: Set<String> = []
        for word in words.dropFirst(3) {
            guard let (option, value) = mqttOption(word, known: ["client-id", "username", "password-file", "keepalive"],
                                                   usage: Self.brokerUsage, seen: &seen) else { continue }
            switch option {
            case "client-id", "username":
                guard let text = String(validating: value.bytes, as: UTF8.self), MQTTText.isValidString(value.bytes),
                      value.bytes.count <= 0xFFFF else {
                    report(at: value.start, "\(option) must be UTF-8 text without NUL")
                    continue
                }
                if option == "client-id" { directive.clientID = text } else { directive.username = text }
            case "password-file":
                guard !value.bytes.isEmpty else {
                    report(at: value.start, "password-file must name a file")
                    continue
                }
                directive.passwordFile = absoluteInRulesFolder(value.bytes)
            default:
                guard let duration = parseDuration(value.bytes), duration >= .seconds(1), duration <= .seconds(65_535) else {
                    report(at: value.start, "invalid keepalive '\(displayBytes(value.bytes))'; expected a duration from 1s to 65535s, like 60s")
                    continue
                }
                directive.keepAlive = duration
            }
        }
        guard let name, address != nil, diagnostics.count == errorsBefore else { return }
        if let earlier = ruleSet.brokers.first(where: { $0.name == name }) {
            report(at: words[1].start, "duplicate broker '\(name)' (already declared on line \(earlier.line))")
            return
        }
        ruleSet.brokers.append(directive)
    }

    mutating func parseSubscribe(_ words: [Word]) {
        let errorsBefore = diagnostics.count
        guard words.count >= 5, words[3].isBare, words[3].bytes == Array("into".utf8) else {
            let at = words.count >= 4 ? words[3].start : words[words.count - 1].end
            report(at: at, "expected \(Self.subscribeUsage)")
            return
        }
        let broker = brokerName(words[1])
        let filter = words[2].bytes
        if let problem = MQTTTopicFilter.problem(in: filter) {
            report(at: words[2].start, "invalid topic filter '\(displayBytes(filter))': \(problem)")
        }
        let folder = validateName(words[4], directive: "subscribe")
        var directive = SubscribeDirective(line: lineNumber(words[0].start), broker: broker ?? "", filter: filter, folder: folder ?? [])
        var seen: Set<String> = []
        for word in words.dropFirst(5) {
            guard let (_, value) = mqttOption(word, known: ["qos"], usage: Self.subscribeUsage, seen: &seen) else { continue }
            if let qos = qosValue(value) { directive.qos = qos }
        }
        guard let broker, folder != nil, diagnostics.count == errorsBefore else { return }
        brokerReferences.append((broker, words[1].start))
        ruleSet.subscriptions.append(directive)
    }

    /// `mqtt:NAME TOPIC [qos=0|1] [retain]`.
    mutating func parseMQTTHandler(_ words: ArraySlice<Word>) -> HandlerSpec? {
        let first = words[words.startIndex]
        let usage = "mqtt:NAME TOPIC [qos=0|1] [retain]"
        let nameWord = first.slice(Self.mqttPrefix.count..<first.bytes.count)
        guard let broker = brokerName(nameWord) else { return nil }
        guard words.count >= 2 else {
            report(at: first.end, "missing topic; expected \(usage)")
            return nil
        }
        let topicWord = words[words.startIndex + 1]
        guard let topic = parseTemplate(topicWord) else { return nil }
        for case .literal(let literal) in topic.pieces {
            if let problem = MQTTTopicEscaping.problem(inLiteral: literal) {
                report(at: topicWord.start, "invalid topic '\(displayBytes(topicWord.bytes))': \(problem)")
                return nil
            }
        }
        guard !topic.pieces.isEmpty else {
            report(at: topicWord.start, "the topic must not be empty")
            return nil
        }
        var spec = MQTTPublishSpec(broker: broker, topic: topic)
        var seen: Set<String> = []
        for word in words.dropFirst(2) {
            if word.isBare, word.bytes == Array("retain".utf8) {
                if !seen.insert("retain").inserted { report(at: word.start, "duplicate option 'retain'") }
                spec.retain = true
                continue
            }
            guard let (_, value) = mqttOption(word, known: ["qos"], usage: usage, seen: &seen) else { return nil }
            guard let qos = qosValue(value) else { return nil }
            spec.qos = qos
        }
        brokerReferences.append((broker, nameWord.start))
        return .mqtt(spec)
    }

    /// Reports each `mqtt:` handler and `subscribe` line naming a broker no `broker` line declares.
    mutating func checkBrokerReferences() {
        let declared = Set(ruleSet.brokers.map(\.name))
        for reference in brokerReferences where !declared.contains(reference.name) {
            if let guess = closestName(to: reference.name, among: Array(declared)) {
                report(at: reference.offset, "no broker '\(reference.name)' is declared; did you mean '\(guess)'?")
            } else {
                report(at: reference.offset, "no broker '\(reference.name)' is declared (add a line 'broker \(reference.name) mqtt://HOST')")
            }
        }
    }

    // MARK: Pieces

    /// Letters, digits, `-` and `_`.
    private mutating func brokerName(_ word: Word) -> String? {
        let valid = !word.bytes.isEmpty && word.bytes.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
        guard valid else {
            report(at: word.start, word.bytes.isEmpty ? "missing broker name" : "invalid broker name '\(displayBytes(word.bytes))'; use letters, digits, '-' and '_'")
            return nil
        }
        return String(decoding: word.bytes, as: UTF8.self)
    }

    /// `mqtt://HOST[:PORT]`, HOST a name, an IPv4 address or `[IPv6]`.
    private mutating func brokerAddress(_ word: Word) -> (host: String, port: UInt16)? {
        let scheme = Array("mqtt://".utf8)
        let shown = displayBytes(word.bytes)
        guard word.bytes.starts(with: scheme), let text = String(validating: word.bytes.dropFirst(scheme.count), as: UTF8.self) else {
            let tls = word.bytes.starts(with: Array("mqtts://".utf8))
            report(at: word.start, tls
                ? "mqtts:// is not supported (no TLS); connect to a local Mosquitto that bridges over TLS"
                : "invalid broker address '\(shown)'; expected mqtt://HOST[:PORT]")
            return nil
        }
        var host = Substring(text), portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else {
                report(at: word.start, "invalid broker address '\(shown)': '[' without ']'")
                return nil
            }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    report(at: word.start, "invalid broker address '\(shown)'")
                    return nil
                }
                portText = after.dropFirst()
            }
        } else if let colon = host.lastIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        let hostValid = !host.isEmpty && host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) }
        guard hostValid else {
            report(at: word.start, "invalid broker address '\(shown)': missing or invalid host")
            return nil
        }
        var port: UInt16 = 1883
        if let portText {
            guard let value = UInt16(portText), value > 0 else {
                report(at: word.start, "invalid broker address '\(shown)': port must be from 1 to 65535")
                return nil
            }
            port = value
        }
        return (String(host), port)
    }

    private mutating func qosValue(_ value: Word) -> UInt8? {
        switch value.bytes {
        case Array("0".utf8): return 0
        case Array("1".utf8): return 1
        default:
            report(at: value.start, "invalid qos '\(displayBytes(value.bytes))'; expected 0 or 1 (QoS 2 is not supported)")
            return nil
        }
    }

    private mutating func mqttOption(_ word: Word, known: [String], usage: String, seen: inout Set<String>) -> (String, Word)? {
        guard let equals = word.bytes.firstIndex(of: UInt8(ascii: "=")), equals > 0,
              word.quoting[..<equals].allSatisfy({ $0 == .plain }) else {
            report(at: word.start, "unexpected word '\(displayBytes(word.bytes))'; expected \(usage)")
            return nil
        }
        let name = String(decoding: word.bytes[..<equals], as: UTF8.self)
        guard known.contains(name) else {
            if let guess = closestName(to: name, among: known) {
                report(at: word.start, "unknown option '\(name)'; did you mean '\(guess)'?")
            } else {
                report(at: word.start, "unknown option '\(name)'; expected \(usage)")
            }
            return nil
        }
        guard seen.insert(name).inserted else {
            report(at: word.start, "duplicate option '\(name)'")
            return nil
        }
        return (name, word.slice((equals + 1)..<word.bytes.count))
    }

    private func absoluteInRulesFolder(_ path: [UInt8]) -> [UInt8] {
        guard path.first != UInt8(ascii: "/"), !directory.isEmpty else { return path }
        return directory.appendingPathComponent(path)
    }
}
