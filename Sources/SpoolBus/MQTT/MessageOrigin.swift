/// Where a message received from a broker came from: the user properties a sending spoolbus
/// put on it, the topic and the broker. Kept as `user.spoolbus.*` extended attributes of the
/// message's file; handlers get them as `SPOOL_ORIGIN_HOST`, `SPOOL_ORIGIN_ID`,
/// `SPOOL_ORIGIN_NAME`, `SPOOL_MQTT_TOPIC` and `SPOOL_MQTT_BROKER`.
struct MessageOrigin {
    var host: Bytes?
    var id: Bytes?
    var name: Bytes?
    var topic: Bytes
    var broker: Bytes

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
        guard let value = fd.attribute(attribute, limit: 5 * 65_536) else { return [] }
        return value.split(separator: 0).compactMap { pair in
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")),
                  let entry = variables.first(where: { $0.key.bytes.elementsEqual(pair[..<equals]) }) else { return nil }
            return (entry.variable, Bytes(pair[(equals + 1)...]))
        }
    }
}
