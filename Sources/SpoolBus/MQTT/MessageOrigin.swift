/// Where a message received from a broker came from: the user properties a sending spoolbus
/// put on it, the topic and the broker. Kept as `user.spoolbus.*` extended attributes of the
/// message's file; handler programs get them as `SPOOL_ORIGIN_HOST`, `SPOOL_ORIGIN_ID`,
/// `SPOOL_ORIGIN_NAME`, `SPOOL_MQTT_TOPIC` and `SPOOL_MQTT_BROKER`, Swift handlers as
/// ``SpoolMessage/origin``.
public struct MessageOrigin: Sendable, Equatable {
    /// The sending spoolbus's host name (`SPOOL_ORIGIN_HOST`); nil when another client published it.
    public internal(set) var host: Bytes?
    /// The message's id in the sending spool (`SPOOL_ORIGIN_ID`).
    public internal(set) var id: Bytes?
    /// The message's name in the sending spool (`SPOOL_ORIGIN_NAME`), `%XX`-escaped as in a topic.
    public internal(set) var name: Bytes?
    /// The topic it was published to (`SPOOL_MQTT_TOPIC`).
    public internal(set) var topic: Bytes
    /// The `broker` it came through, by the rules file's name for it (`SPOOL_MQTT_BROKER`).
    public internal(set) var broker: Bytes

    /// The user property names a publishing spoolbus sets.
    static let nameProperty = "spool-name"
    static let idProperty = "spool-id"
    static let hostProperty = "origin-host"

    /// The one extended attribute it is kept in: `KEY=VALUE` pairs separated by NUL bytes (MQTT
    /// strings hold no NUL), so one call writes it and one reads it.
    static let attribute = "user.spoolbus.origin"

    /// Keys in the attribute, and the variables handlers get them as.
    private static let variables: [(key: String, variable: String)] = [
        ("origin-host", "SPOOL_ORIGIN_HOST"), ("origin-id", "SPOOL_ORIGIN_ID"), ("origin-name", "SPOOL_ORIGIN_NAME"),
        ("topic", "SPOOL_MQTT_TOPIC"), ("broker", "SPOOL_MQTT_BROKER"),
    ]

    init(_ publish: MQTTPublish, broker: String) {
        host = publish.properties.userProperty(Self.hostProperty)
        id = publish.properties.userProperty(Self.idProperty)
        name = publish.properties.userProperty(Self.nameProperty)
        topic = publish.topic
        self.broker = broker.bytes
    }

    /// The key a redelivered message is known by: its origin host and id, when it has both.
    var duplicateKey: Bytes? {
        guard let host, let id else { return nil }
        return host + [0] + id
    }

    func write(to fd: FileDescriptor) throws {
        var value = Bytes()
        for (index, field) in [host, id, name, topic, broker].enumerated() {
            guard let field else { continue }
            if !value.isEmpty { value.append(0) }
            value += Self.variables[index].key.bytes + [UInt8(ascii: "=")] + field
        }
        try fd.setAttribute(Self.attribute, value)
    }

    /// `SPOOL_*` variables for a handler of the file `fd` holds: none for a file that did not
    /// come from a broker.
    static func environment(of fd: FileDescriptor) -> [(String, Bytes)] {
        attributePairs(of: fd).compactMap { key, value in
            variables.first { $0.key.bytes == key }.map { ($0.variable, value) }
        }
    }

    /// What the file `fd` holds says; nil for a file that did not come from a broker.
    init?(of fd: FileDescriptor) {
        let pairs = Self.attributePairs(of: fd)
        func field(_ key: String) -> Bytes? { pairs.first { $0.key == key.bytes }?.value }
        guard let topic = field("topic"), let broker = field("broker") else { return nil }
        host = field("origin-host")
        id = field("origin-id")
        name = field("origin-name")
        self.topic = topic
        self.broker = broker
    }

    /// Only a file the daemon's own user owns can hold an origin the inbox wrote: a producer may
    /// set any `user.` attribute on a file of its own, and would so forge `SPOOL_MQTT_BROKER`,
    /// `SPOOL_MQTT_TOPIC` and `SPOOL_ORIGIN_*` for a file it dropped.
    private static func attributePairs(of fd: FileDescriptor) -> [(key: Bytes, value: Bytes)] {
        guard (try? fd.status())?.owner == SystemInfo.effectiveUserID,
              let value = fd.attribute(attribute, limit: 5 * 65_536) else { return [] }
        return value.split(separator: 0).compactMap { pair in
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { return nil }
            return (Bytes(pair[..<equals]), Bytes(pair[(equals + 1)...]))
        }
    }
}
