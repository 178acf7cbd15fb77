/// The ids of the last `capacity` messages received from one broker, kept on disk in
/// `.spoolbus/mqtt-NAME.seen` so that a message the broker sends again (a QoS 1 resend after a
/// lost PUBACK, a restart of either side) is not written twice, even across restarts.
///
/// The file is appended to, one hex-encoded key per line, once per batch of messages, and made
/// durable with the message files before their PUBACKs; it is rewritten with the newest
/// `capacity` keys when it would hold more than twice as many.
final class DuplicateWindow {
    let capacity: Int
    private let folder: Directory
    private let temporary: Directory
    private let fileName: Bytes
    private var order: [Bytes] = []
    private var orderStart = 0
    private var members: Set<Bytes> = []
    private var linesInFile = 0
    private var file: FileDescriptor?
    /// Lines of keys recorded since the last `save`.
    private var unsaved = Bytes()
    private var unsavedCount = 0

    static let defaultCapacity = 10_000

    init(broker: String, folder: Directory, temporary: Directory, capacity: Int = DuplicateWindow.defaultCapacity) {
        self.capacity = capacity
        self.folder = folder
        self.temporary = temporary
        fileName = "mqtt-\(broker).seen".bytes
        let content = (try? folder.read(fileName)) ?? []
        for line in content.split(separator: UInt8(ascii: "\n")) {
            if let key = Self.decode(line) { remember(key) }
            linesInFile += 1
        }
    }

    func contains(_ key: Bytes) -> Bool { members.contains(key) }

    /// Adds `key`; it reaches the file with the next `save`.
    func record(_ key: Bytes) {
        remember(key)
        unsaved += Self.encode(key) + [UInt8(ascii: "\n")]
        unsavedCount += 1
    }

    /// Writes the keys recorded since the last save in one write (not synced: the caller syncs
    /// the file system before the PUBACKs). After an error they stay unsaved, for the next save.
    func save() throws {
        guard unsavedCount > 0 else { return }
        if linesInFile + unsavedCount > 2 * capacity {
            try rewrite()
        } else {
            if file == nil { file = try folder.open(fileName, [.writeOnly, .create, .append], mode: 0o600) }
            try file!.writeAll(unsaved)
            linesInFile += unsavedCount
        }
        unsaved.removeAll(keepingCapacity: unsaved.count <= 4096)
        unsavedCount = 0
    }

    func close() {
        file?.close()
        file = nil
    }

    private func remember(_ key: Bytes) {
        guard members.insert(key).inserted else { return }
        order.append(key)
        while order.count - orderStart > capacity {
            members.remove(order[orderStart])
            orderStart += 1
        }
        if orderStart > capacity {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    /// The newest `capacity` keys, those not saved yet among them, as the whole file.
    private func rewrite() throws {
        let content = order[orderStart...].flatMap { Self.encode($0) + [UInt8(ascii: "\n")] }
        try folder.writeAtomically(content, to: fileName, through: temporary)
        file?.close()
        file = nil
        linesInFile = order.count - orderStart
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func encode(_ key: Bytes) -> Bytes {
        key.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }
    }

    private static func decode(_ line: ArraySlice<UInt8>) -> Bytes? {
        guard line.count % 2 == 0 else { return nil }
        var key = Bytes()
        var index = line.startIndex
        while index < line.endIndex {
            guard let high = digits.firstIndex(of: line[index]), let low = digits.firstIndex(of: line[index + 1]) else { return nil }
            key.append(UInt8(high << 4 | low))
            index += 2
        }
        return key
    }
}
