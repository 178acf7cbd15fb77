/// Writes what a broker sends into the spool, where the rules dispatch it like any file.
///
/// Each message becomes `SPOOL/FOLDER/<topic levels as folders>/<last level>.<message id>`
/// (see `MQTTTopicPath`): written in `.spoolbus/tmp/`, its origin set as extended attributes,
/// then renamed into place beneath the spool's descriptor (never through a symlink, never
/// replacing anything). One syncfs makes a whole batch durable, files, folders and the
/// duplicate window together, before any of it is acknowledged.
///
/// In a shared spool a producer may make a subscription's FOLDER before the daemon does: a
/// symlink there would fail every message (never acknowledged, sent again at each reconnect),
/// a folder of the producer's own would hand it what the broker sent. FOLDER and each folder
/// above it in the spool must be the daemon's user's (or root's) and writable by no one else;
/// while one is not, the messages for it are kept as dead letters, with the reason, and
/// acknowledged: `spoolbus dead` lists them, `spoolbus retry` puts them in place once mended.
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
        // Why each subscription folder of this batch is refused (nil: it may be written).
        var refusals: [Bytes: String?] = [:]
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
            if refusals[subscription.folder] == nil { refusals[subscription.folder] = .some(refusal(of: subscription.folder)) }
            let refused = refusals[subscription.folder] ?? nil
            do {
                if let refused {
                    try keepAsDeadLetter(publish, origin: origin, name: subscription.folder + [UInt8(ascii: "/")] + relative, id: id, reason: refused)
                    if let key = origin.duplicateKey {
                        window.record(key)
                        keys.insert(key)
                    }
                    continue
                }
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

    /// Why `folder` may not be written into, or nil: each of its folders that exists must be a
    /// folder (not a symlink), owned by the daemon's user or root, and writable by no one else.
    private func refusal(of folder: Bytes) -> String? {
        // Made first, then checked: a part missing at the check and made by the daemon after it
        // could be made by a producer in between. Once checked, each part is the daemon's in a
        // parent that is the daemon's or sticky, so no producer can swap it. What cannot be made
        // (a symlink on the way) the check below says.
        try? layout.spool.makeDirectories(folder)
        let components = folder.split(separator: UInt8(ascii: "/"))
        let me = SystemInfo.effectiveUserID
        for count in 1...max(1, components.count) {
            let path = Bytes(components.prefix(count).joined(separator: [UInt8(ascii: "/")]))
            let shown = "the subscription's folder '\(text(folder))'" + (count < components.count ? " (at '\(text(path))')" : "")
            let found: FileStatus?
            do {
                found = try layout.spool.statusIfPresent(path)
            } catch {
                return "\(shown) cannot be reached without following a symlink (\(error))"
            }
            // The rest is made by the daemon, its own.
            guard let found else { return nil }
            if found.type != .dir { return "\(shown) is a \(found.type?.rawValue ?? "node"), not a folder" }
            if found.owner != me && found.owner != 0 { return "\(shown) belongs to uid \(found.owner), not to the daemon's user" }
            if found.permissions & 0o022 != 0 { return "\(shown) is writable by others (mode \(String(found.permissions, radix: 8)))" }
        }
        return nil
    }

    /// Keeps a message whose folder is refused in `failed/` under the name it would have had,
    /// its reason beside it.
    private func keepAsDeadLetter(_ publish: MQTTPublish, origin: MessageOrigin, name: Bytes, id: Bytes, reason: String) throws {
        let entry: Bytes
        if let short = EntryName.make(id: id, name: name) {
            entry = short
        } else {
            try layout.failed.writeAtomically(name, to: EntryName.sidecar(id, "name"), through: layout.temporary)
            entry = id
        }
        try layout.failed.writeAtomically((reason + "; kept as a dead letter\n").bytes, to: EntryName.sidecar(id, "reason"), through: layout.temporary)
        try write(publish.payload, origin: origin, into: layout.failed, as: entry, temporaryName: "mqtt-".bytes + id)
        log.record("error", name: name, [("id", id), ("broker", broker), ("topic", publish.topic), ("kept", ".spoolbus/failed/".bytes + entry),
                                        ("err", reason + "; kept as a dead letter")])
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
