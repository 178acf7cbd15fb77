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

    private static let attributes: [(attribute: String, variable: String)] = [
        ("user.spoolbus.origin-host", "SPOOL_ORIGIN_HOST"), ("user.spoolbus.origin-id", "SPOOL_ORIGIN_ID"),
        ("user.spoolbus.origin-name", "SPOOL_ORIGIN_NAME"), ("user.spoolbus.topic", "SPOOL_MQTT_TOPIC"),
        ("user.spoolbus.broker", "SPOOL_MQTT_BROKER"),
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
        for (index, value) in [host, id, name, topic, broker].enumerated() {
            if let value { try fd.setAttribute(Self.attributes[index].attribute, value) }
        }
    }

    /// `SPOOL_*` variables for a handler of the file `fd` holds: none for a file that did not
    /// come from a broker.
    static func environment(of fd: FileDescriptor) -> [(String, Bytes)] {
        attributes.compactMap { entry in fd.attribute(entry.attribute).map { (entry.variable, $0) } }
    }
}
