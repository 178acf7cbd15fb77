/// Topic filters (MQTT 5, 4.7): checking them, and matching topics against them.
enum MQTTTopicFilter {
    private static let slash = UInt8(ascii: "/")
    private static let plus = UInt8(ascii: "+")
    private static let hash = UInt8(ascii: "#")
    private static let sharePrefix = Array("$share/".utf8)

    /// Why `filter` is not a valid filter, or nil. `$share/GROUP/FILTER` is a shared one.
    static func problem(in filter: [UInt8]) -> String? {
        guard !filter.isEmpty else { return "it is empty" }
        guard filter.count <= 0xFFFF else { return "longer than 65535 bytes" }
        guard MQTTText.isValidString(filter) else { return "not valid UTF-8, or holds a NUL" }
        var inner = filter
        if filter.starts(with: sharePrefix) {
            let rest = filter.dropFirst(sharePrefix.count)
            guard let end = rest.firstIndex(of: slash) else { return "a shared subscription needs $share/GROUP/FILTER" }
            let group = rest[..<end]
            guard !group.isEmpty, !group.contains(plus), !group.contains(hash) else {
                return "the share group must be a non-empty name without '+' or '#'"
            }
            inner = Array(rest[(end + 1)...])
            guard !inner.isEmpty else { return "a shared subscription needs a filter after its group" }
        }
        let levels = inner.split(separator: slash, omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains(hash) && (level.count != 1 || index != levels.count - 1) {
                return "'#' must be a whole level, and the last"
            }
            if level.contains(plus) && level.count != 1 { return "'+' must be a whole level" }
        }
        return nil
    }

    /// The filter without a `$share/GROUP/` prefix.
    static func unshared(_ filter: [UInt8]) -> [UInt8] {
        guard filter.starts(with: sharePrefix) else { return filter }
        let rest = filter.dropFirst(sharePrefix.count)
        guard let end = rest.firstIndex(of: slash) else { return filter }
        return Array(rest[(end + 1)...])
    }

    /// Whether `topic` matches `filter` (not shared). Wildcards in the first level do not match
    /// a topic starting with `$` (4.7.2).
    static func matches(_ filter: [UInt8], _ topic: [UInt8]) -> Bool {
        let filterLevels = filter.split(separator: slash, omittingEmptySubsequences: false)
        let topicLevels = topic.split(separator: slash, omittingEmptySubsequences: false)
        if topic.first == UInt8(ascii: "$"), let first = filterLevels.first, first.elementsEqual([plus]) || first.elementsEqual([hash]) {
            return false
        }
        for (index, level) in filterLevels.enumerated() {
            if level.elementsEqual([hash]) { return true }
            guard index < topicLevels.count else { return false }
            if level.elementsEqual([plus]) { continue }
            guard level.elementsEqual(topicLevels[index]) else { return false }
        }
        return filterLevels.count == topicLevels.count
    }
}
