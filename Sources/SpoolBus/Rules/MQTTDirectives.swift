/// `broker NAME mqtt://HOST[:PORT] [client-id=ID] [username=U] [password-file=FILE] [keepalive=DURATION]`:
/// one MQTT broker the daemon keeps a connection (and a persistent session) with.
public struct BrokerDirective: Sendable, Equatable {
    public var line: Int
    /// What `mqtt:NAME` handlers and `subscribe NAME` lines call it.
    public var name: String
    /// A host name or an address (an IPv6 one without its brackets).
    public var host: String
    public var port: UInt16 = 1883
    /// Fixed across restarts, so the broker keeps the session; nil: made from the host name,
    /// the broker's name and the spool (`MQTTClientIdentity`).
    public var clientID: String?
    public var username: String?
    /// Absolute (resolved against the rules file's folder); read at each connect, so a changed
    /// password needs no reload.
    public var passwordFile: [UInt8]?
    public var keepAlive: Duration = .seconds(60)

    public init(line: Int, name: String, host: String, port: UInt16 = 1883) {
        self.line = line
        self.name = name
        self.host = host
        self.port = port
    }
}

/// `subscribe NAME TOPIC-FILTER into FOLDER [qos=0|1]`: what the broker NAME sends on topics
/// matching the filter becomes files in `SPOOL/FOLDER/`.
public struct SubscribeDirective: Sendable, Equatable {
    public var line: Int
    public var broker: String
    /// As sent in SUBSCRIBE, `$share/GROUP/` included.
    public var filter: [UInt8]
    /// Relative to the spool.
    public var folder: [UInt8]
    public var qos: UInt8 = 1

    public init(line: Int, broker: String, filter: [UInt8], folder: [UInt8], qos: UInt8 = 1) {
        self.line = line
        self.broker = broker
        self.filter = filter
        self.folder = folder
        self.qos = qos
    }

    /// The filter topics are matched against: without a `$share/GROUP/` prefix.
    public var matchedFilter: [UInt8] { MQTTTopicFilter.unshared(filter) }
}

/// `mqtt:NAME TOPIC [qos=0|1] [retain]`: the handler that publishes the message to a broker.
public struct MQTTPublishSpec: Sendable, Equatable {
    public var broker: String
    /// Placeholders are escaped when expanded (`MQTTTopicEscaping`); literal parts were checked.
    public var topic: ArgumentTemplate
    public var qos: UInt8 = 1
    public var retain = false

    public init(broker: String, topic: ArgumentTemplate, qos: UInt8 = 1, retain: Bool = false) {
        self.broker = broker
        self.topic = topic
        self.qos = qos
        self.retain = retain
    }
}

extension MQTTPublishSpec {
    /// The topic for a message: each placeholder's value escaped (`MQTTTopicEscaping`).
    public func expandedTopic(_ values: (Placeholder) -> [UInt8]) -> [UInt8] {
        var topic: [UInt8] = []
        for piece in self.topic.pieces {
            switch piece {
            case .literal(let literal): topic += literal
            case .placeholder(let placeholder): topic += MQTTTopicEscaping.escape(values(placeholder), atStart: topic.isEmpty)
            }
        }
        return topic
    }

    /// `mqtt:NAME TOPIC qos=N [retain]`, as a summary and `explain` show it.
    func words(topic: [UInt8]) -> [[UInt8]] {
        var words = [Array("mqtt:\(broker)".utf8), topic, Array("qos=\(qos)".utf8)]
        if retain { words.append(Array("retain".utf8)) }
        return words
    }
}

extension BrokerDirective {
    /// `line 1: broker hub mqtt://127.0.0.1:1883 client-id=(default) keepalive=60s`, then the
    /// user name and password file when set.
    public var summary: String {
        let address = host.contains(":") ? "[\(host)]" : host
        var text = "line \(line): broker \(name) mqtt://\(address):\(port) client-id=\(clientID.map { displayWord(Array($0.utf8)) } ?? "(default)")"
        if let username { text += " username=" + displayWord(Array(username.utf8)) }
        if let passwordFile { text += " password-file=" + displayWord(passwordFile) }
        return text + " keepalive=" + formatDuration(keepAlive)
    }
}

extension SubscribeDirective {
    /// `line 2: subscribe hub jobs/# into inbox qos=1`.
    public var summary: String {
        "line \(line): subscribe \(broker) \(displayWord(filter)) into \(displayWord(folder)) qos=\(qos)"
    }
}
