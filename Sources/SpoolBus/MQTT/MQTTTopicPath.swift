/// Where a received message is written: its topic's levels as folders beneath the subscription's
/// folder, the last level as the file's name, then `.` and a unique suffix.
///
/// A topic can never name a path outside the folder: each level is first unescaped (undoing
/// `MQTTTopicEscaping`, so a spool name sent as a topic comes back as itself, byte for byte),
/// then made a safe path component: `/` and NUL (which only an unescaped `%2F` or `%00` can
/// give) are written `%2F` and `%00`, a leading `.` as `%2E` (so `.`, `..` and hidden names
/// cannot happen), and an empty level as a lone `%`. A level longer than `longestComponent`
/// bytes is cut there and ends in `%+`. Different topics may so give the same path (`a%2Fb`
/// and `a%252Fb`); the unique suffix keeps their files apart, and the exact topic is in
/// `SPOOL_MQTT_TOPIC`.
enum MQTTTopicPath {
    /// Bytes of a level kept in a path component (NAME_MAX is 255, and the suffix follows).
    static let longestComponent = 200

    /// The path of the message's file relative to the folder, components joined by `/`.
    static func relativePath(forTopic topic: [UInt8], suffix: [UInt8]) -> [UInt8] {
        let levels = topic.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var components = levels.map { component(MQTTTopicEscaping.unescape($0)) }
        components[components.count - 1] += [UInt8(ascii: ".")] + suffix
        return Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    /// The whole topic as one file name (its `/` written `%2F`), for a topic whose folders
    /// cannot be made: `a/b` is `a%2Fb.<suffix>`.
    static func flatName(forTopic topic: [UInt8], suffix: [UInt8]) -> [UInt8] {
        component(MQTTTopicEscaping.unescape(topic)) + [UInt8(ascii: ".")] + suffix
    }

    /// One level as a path component.
    static func component(_ level: [UInt8]) -> [UInt8] {
        guard !level.isEmpty else { return [UInt8(ascii: "%")] }
        var out: [UInt8] = []
        for (index, byte) in level.enumerated() {
            if byte == UInt8(ascii: "/") || byte == 0 || (index == 0 && byte == UInt8(ascii: ".")) {
                PercentEscape.append(byte, to: &out)
            } else {
                out.append(byte)
            }
        }
        if out.count > longestComponent {
            out = Array(out.prefix(longestComponent)) + Array("%+".utf8)
        }
        return out
    }
}
