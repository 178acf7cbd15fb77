/// Writes what a broker sends into the spool, where the rules dispatch it like any file.
///
/// Each message becomes `SPOOL/FOLDER/<topic levels as folders>/<last level>.<message id>`
/// (see `MQTTTopicPath`): written in `.spoolbus/tmp/`, its origin set as extended attributes,
/// then renamed into place beneath the spool's descriptor (never through a symlink, never
/// replacing anything). One syncfs makes a whole batch durable, files, folders and the
/// duplicate window together, before any of it is acknowledged.
final class MQTTInbox {
    private let broker: String
    private let layout: SpoolLayout
    private let log: DispatchLog
    private let nextID: () -> Bytes
    private let window: DuplicateWindow
    private(set) var duplicates = 0
    private var attributesUnsupported = false

    init(broker: String, layout: SpoolLayout, log: DispatchLog, nextID: @escaping () -> Bytes) {
        self.broker = broker
        self.layout = layout
        self.log = log
        self.nextID = nextID
        window = DuplicateWindow(broker: broker, folder: layout.state, temporary: layout.temporary)
    }

    func close() { window.close() }

    /// Stores `batch`; false when a message could not be written (nothing of the batch is then
    /// acknowledged: the broker sends it again, and what was written is dropped as a duplicate).
    func store(_ batch: [MQTTPublish], subscriptions: [SubscribeDirective]) -> Bool {
        var keys: Set<Bytes> = []
        // The folders of this batch, each made and opened once.
        var folders: [Bytes: Directory] = [:]
        defer { for folder in folders.values { folder.close() } }
        for publish in batch {
            let origin = MessageOrigin(publish, broker: broker)
            if let key = origin.duplicateKey, window.contains(key) || keys.contains(key) {
                duplicates += 1
                log.record("duplicate", [("broker", broker), ("topic", publish.topic), ("origin_host", origin.host ?? []),
                                         ("origin_id", origin.id ?? [])])
                continue
            }
            guard let subscription = subscriptions.first(where: { MQTTTopicFilter.matches($0.matchedFilter, publish.topic) }) else {
                log.record("error", [("broker", broker), ("topic", publish.topic),
                                     ("err", "no subscribe line matches the topic (a subscription kept by the broker's session?); dropped")])
                continue
            }
            let id = nextID()
            let relative = MQTTTopicPath.relativePath(forTopic: publish.topic, suffix: id)
            do {
                let stored: Bytes
                do {
                    stored = try store(publish, origin: origin, in: subscription.folder, as: relative, id: id, folders: &folders)
                } catch let error as SystemError where Self.isAboutThePath(error) {
                    // The topic's folders cannot be had (a file or a symlink where a folder would
                    // go, a path too long): the message goes into FOLDER itself under the whole
                    // topic as one name, so no topic can wedge the subscription.
                    let flat = MQTTTopicPath.flatName(forTopic: publish.topic, suffix: id)
                    stored = try store(publish, origin: origin, in: subscription.folder, as: flat, id: id, folders: &folders)
                    log.record("error", [("broker", broker), ("topic", publish.topic), ("name", stored),
                                         ("err", "cannot store it under its topic's folders (\(error)); stored in the subscription's folder")])
                }
                if let key = origin.duplicateKey {
                    window.record(key)
                    keys.insert(key)
                }
            } catch {
                log.record("error", [("broker", broker), ("topic", publish.topic), ("folder", subscription.folder),
                                     ("err", "cannot store a received message: \(error)")])
                return false
            }
        }
        do {
            try window.save()
            try layout.spool.descriptor.synchronizeFileSystem()
        } catch {
            log.record("error", [("broker", broker), ("err", "cannot sync received messages: \(error)")])
            return false
        }
        return true
    }

    /// Writes one message as `relative` beneath `folder`; returns its name in the spool.
    private func store(_ publish: MQTTPublish, origin: MessageOrigin, in folder: Bytes, as relative: Bytes, id: Bytes,
                       folders: inout [Bytes: Directory]) throws -> Bytes {
        let name = folder + [UInt8(ascii: "/")] + relative
        let folderName = name.deletingLastPathComponent
        let directory: Directory
        if let opened = folders[folderName] {
            directory = opened
        } else {
            try layout.spool.makeDirectories(folderName)
            directory = try layout.spool.openDirectory(folderName)
            folders[folderName] = directory
        }
        try write(publish.payload, origin: origin, into: directory, as: name.lastPathComponent, temporaryName: "mqtt-".bytes + id)
        return name
    }

    /// Errors of the topic's path itself, not of the disk: another name may work.
    private static func isAboutThePath(_ error: SystemError) -> Bool {
        [SystemError.exists, SystemError.notDirectory, SystemError.tooManySymbolicLinks, SystemError.nameTooLong].contains(error.errno)
    }

    /// `temporaryName` is unique without more ado: `tmp/` is emptied at start and only this
    /// daemon (it holds the spool's lock) writes there.
    private func write(_ payload: Bytes, origin: MessageOrigin, into folder: Directory, as name: Bytes, temporaryName: Bytes) throws {
        let fd = try layout.temporary.open(temporaryName, [.writeOnly, .create, .exclusive], mode: 0o644)
        do {
            defer { fd.close() }
            try fd.writeAll(payload)
            if !attributesUnsupported {
                do {
                    try origin.write(to: fd)
                } catch let error as SystemError where error.errno == SystemError.notSupported {
                    attributesUnsupported = true
                    log.record("error", [("broker", broker), ("err", "the spool's file system keeps no user extended attributes: "
                                            + "handlers of received messages get no SPOOL_ORIGIN_* (\(error))")])
                } catch let error as SystemError where SystemError.attributeTooLarge.contains(error.errno) {
                    // The topic and user properties are the publisher's to choose: refusing
                    // the message would have the broker send it again at every reconnect, and
                    // nothing after it would ever come.
                    log.record("error", [("broker", broker), ("topic", origin.topic),
                                         ("err", "its origin is too large for an extended attribute (\(error)): "
                                            + "stored without it, its handlers get no SPOOL_ORIGIN_* or SPOOL_MQTT_*")])
                }
            }
            try layout.temporary.rename(temporaryName, to: folder, as: name, replacing: false)
        } catch {
            try? layout.temporary.removeIfPresent(temporaryName)
            throw error
        }
    }
}
