import Testing
@testable import SpoolBus

/// `broker`, `subscribe` and `mqtt:` lines of the rules file.
@Suite struct MQTTRulesTests {
    @Test func brokersSubscriptionsAndPublishingHandlersAreParsed() throws {
        let rules = try parseRules("""
            broker hub mqtt://10.0.0.5:1884 client-id=box-1 username=me password-file=secret keepalive=15s
            broker v6 mqtt://[::1]
            subscribe hub "jobs/#" into inbox qos=0
            subscribe v6 '$share/workers/tasks/+' into work/tasks
            out/** file,fifo concurrency=1 mqtt:hub sensors/{name} qos=0 retain
            """).get()
        #expect(rules.brokers.count == 2)
        let hub = rules.brokers[0]
        #expect(hub.name == "hub" && hub.host == "10.0.0.5" && hub.port == 1884)
        #expect(hub.clientID == "box-1" && hub.username == "me" && hub.keepAlive == .seconds(15))
        #expect(hub.passwordFile == Array("/etc/spool/secret".utf8))
        #expect(rules.brokers[1].host == "::1" && rules.brokers[1].port == 1883 && rules.brokers[1].clientID == nil)
        #expect(rules.subscriptions.map(\.qos) == [0, 1])
        #expect(rules.subscriptions[1].filter == Array("$share/workers/tasks/+".utf8))
        #expect(rules.subscriptions[1].matchedFilter == Array("tasks/+".utf8))
        #expect(rules.subscriptions[1].folder == Array("work/tasks".utf8))
        guard case .mqtt(let spec) = rules.rules[0].handler else {
            Issue.record("not an mqtt handler: \(rules.rules[0].handler)")
            return
        }
        #expect(spec.broker == "hub" && spec.qos == 0 && spec.retain)
        #expect(spec.expandedTopic { $0 == .name ? Array("a/b+c".utf8) : [] } == Array("sensors/a/b%2Bc".utf8))
        #expect(rules.summaryLines[0] == "line 1: broker hub mqtt://10.0.0.5:1884 client-id=box-1 username=me password-file=/etc/spool/secret keepalive=15s")
        #expect(rules.summaryLines[2] == "line 3: subscribe hub jobs/# into inbox qos=0")
        #expect(rules.summaryLines[4].hasSuffix("-> mqtt:hub sensors/{name} qos=0 retain"))
    }

    @Test func aBrokerMayBeDeclaredAfterTheLinesThatUseIt() {
        #expect(diagnostics("x file mqtt:late t\nsubscribe late a into b\nbroker late mqtt://h") == [])
    }

    static let errors: [(String, String)] = [
        ("broker hub", "1:11: error: missing mqtt://HOST[:PORT]; expected broker NAME mqtt://HOST[:PORT] [client-id=ID] [username=U] [password-file=FILE] [keepalive=DURATION]"),
        ("broker hub mqtts://h", "1:12: error: mqtts:// is not supported (no TLS); connect to a local Mosquitto that bridges over TLS"),
        ("broker hub http://h", "1:12: error: invalid broker address 'http://h'; expected mqtt://HOST[:PORT]"),
        ("broker hub mqtt://h:0", "1:12: error: invalid broker address 'mqtt://h:0': port must be from 1 to 65535"),
        ("broker hub mqtt://", "1:12: error: invalid broker address 'mqtt://': missing or invalid host"),
        ("broker a.b mqtt://h", "1:8: error: invalid broker name 'a.b'; use letters, digits, '-' and '_'"),
        ("broker hub mqtt://h kepalive=5s", "1:21: error: unknown option 'kepalive'; did you mean 'keepalive'?"),
        ("broker hub mqtt://h keepalive=0s", "1:31: error: invalid keepalive '0s'; expected a duration from 1s to 65535s, like 60s"),
        ("broker hub mqtt://h\nbroker hub mqtt://i", "2:8: error: duplicate broker 'hub' (already declared on line 1)"),
        ("subscribe hub a/b inbox", "1:19: error: expected subscribe NAME TOPIC-FILTER into FOLDER [qos=0|1]"),
        ("broker hub mqtt://h\nsubscribe hub a/#/b into x", "2:15: error: invalid topic filter 'a/#/b': '#' must be a whole level, and the last"),
        ("broker hub mqtt://h\nsubscribe hub a+ into x", "2:15: error: invalid topic filter 'a+': '+' must be a whole level"),
        ("broker hub mqtt://h\nsubscribe hub '$share/g' into x", "2:15: error: invalid topic filter '$share/g': a shared subscription needs $share/GROUP/FILTER"),
        ("broker hub mqtt://h\nsubscribe hub a into ../x", "2:22: error: subscribe name '../x' must not contain '..'"),
        ("broker hub mqtt://h\nsubscribe hub a into x qos=2", "2:28: error: invalid qos '2'; expected 0 or 1 (QoS 2 is not supported)"),
        ("broker hub mqtt://h\nsubscribe hbu a into x", "2:11: error: no broker 'hbu' is declared; did you mean 'hub'?"),
        ("x file mqtt:nobody t", "1:13: error: no broker 'nobody' is declared (add a line 'broker nobody mqtt://HOST')"),
        ("broker hub mqtt://h\nx file mqtt:hub", "2:16: error: missing topic; expected mqtt:NAME TOPIC [qos=0|1] [retain]"),
        ("broker hub mqtt://h\nx file mqtt:hub a/+/b", "2:17: error: invalid topic 'a/+/b': '+' and '#' are wildcards, not allowed in a topic name"),
        ("broker hub mqtt://h\nx file mqtt:hub 'a\tb'", "2:17: error: invalid topic 'a\\x09b': control characters and Unicode non-characters are refused by brokers"),
        ("broker hub mqtt://h\nx file mqtt:hub t qos=3", "2:23: error: invalid qos '3'; expected 0 or 1 (QoS 2 is not supported)"),
        ("broker hub mqtt://h\nx file mqtt:hub t {name}", "2:19: error: unexpected word '{name}'; expected mqtt:NAME TOPIC [qos=0|1] [retain]"),
        ("broker hub mqtt://h\nx file mqtt:hub t/{nme}", "2:19: error: unknown placeholder '{nme}'; did you mean '{name}'?"),
    ]

    @Test(arguments: errors)
    func reports(text: String, expected: String) {
        #expect(diagnostics(text) == ["spoolbus.rules:" + expected])
    }
}

@Suite struct MQTTTopicTests {
    @Test func filtersMatchAsMQTTSays() {
        let cases: [(String, String, Bool)] = [
            ("a/b", "a/b", true), ("a/+", "a/b", true), ("a/+", "a/b/c", false), ("a/#", "a", true), ("a/#", "a/b/c", true),
            ("#", "a/b", true), ("+/+", "a/b", true), ("+", "$SYS", false), ("#", "$SYS/x", false), ("$SYS/#", "$SYS/x", true),
            ("a//b", "a//b", true), ("a/+/b", "a//b", true), ("a/b", "a/c", false),
        ]
        for (filter, topic, expected) in cases {
            #expect(MQTTTopicFilter.matches(Array(filter.utf8), Array(topic.utf8)) == expected, "\(filter) vs \(topic)")
        }
    }

    @Test func aSpoolNameSurvivesTheTopicAndComesBackAsItself() {
        checkProperty("topic escaping round trip", cases: 500) { random in
            let alphabet: [[UInt8]] = [[0x61], [0x2F], [0x2B], [0x23], [0x25], [0x24], [0x20], [0x0A], [0xFF], [0xC3, 0xA9], [0xEF, 0xBF, 0xBF],
                                       [0x32, 0x46], [0xE2, 0x82], [0x7F], [0xC2, 0x85]]
            var name: [UInt8] = []
            for _ in 0..<(1 + random.below(16)) { name += random.pick(alphabet) }
            let topic = MQTTTopicEscaping.escape(name, atStart: true)
            guard MQTTTopicEscaping.problem(inLiteral: topic) == nil, topic.first != UInt8(ascii: "$") else {
                return "escaped topic \(shownBytes(topic)) is not a valid topic name"
            }
            let back = MQTTTopicEscaping.unescape(topic)
            return back == name ? nil : "\(shownBytes(name)) came back as \(shownBytes(back))"
        }
    }

    @Test func anyTopicGivesAPathInsideTheFolder() {
        checkProperty("topic path safety", cases: 1000) { random in
            let pieces = ["..", ".", "", "%2E%2E", "%2F", "%00", ".hidden", "a", "%", "%2", "é", "x%2F..%2Fy", "~"]
            let topic = (0..<(1 + random.below(6))).map { _ in random.pick(pieces) }.joined(separator: "/")
            let path = MQTTTopicPath.relativePath(forTopic: Array(topic.utf8), suffix: Array("id-1".utf8))
            if path.contains(0) { return "NUL in the path of \(topic)" }
            for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
                if component.isEmpty || component.first == UInt8(ascii: ".") {
                    return "component '\(shownBytes(Array(component)))' in the path \(shownBytes(path)) of \(topic)"
                }
            }
            return path.count >= 5 && path.suffix(5) == Array(".id-1".utf8) ? nil : "suffix missing in \(shownBytes(path))"
        }
    }

    @Test func longLevelsAreCutAndMarked() {
        let path = MQTTTopicPath.relativePath(forTopic: Array(String(repeating: "x", count: 300).utf8), suffix: Array("s".utf8))
        #expect(path == Array((String(repeating: "x", count: 200) + "%+.s").utf8))
    }
}
