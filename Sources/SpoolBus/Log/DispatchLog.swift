
/// A value in a dispatch-log line.
public protocol LogValue {
    var logBytes: Bytes { get }
}

extension Bytes: LogValue { public var logBytes: Bytes { self } }
extension String: LogValue { public var logBytes: Bytes { Bytes(utf8) } }
extension Int: LogValue { public var logBytes: Bytes { Bytes(String(self).utf8) } }
extension Int32: LogValue { public var logBytes: Bytes { Bytes(String(self).utf8) } }
extension Int64: LogValue { public var logBytes: Bytes { Bytes(String(self).utf8) } }
extension UInt32: LogValue { public var logBytes: Bytes { Bytes(String(self).utf8) } }

/// One step of the bus, as written to the dispatch log.
public struct LogRecord: Sendable {
    public var verb: String
    public var fields: [(key: String, value: Bytes)]
    /// The message name this record is about, when there is one (for `watch` filters).
    public var name: Bytes?

    /// The full line: timestamp, verb padded to 7 columns, `key=value` pairs, newline.
    func line(at milliseconds: Int64) -> Bytes {
        var line = Bytes()
        // One allocation for most lines (every message makes two or three of them).
        line.reserveCapacity(160)
        Timestamp.appendRFC3339(millisecondsSinceEpoch: milliseconds, to: &line)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: verb.utf8)
        for _ in 0..<max(1, 8 - verb.utf8.count) { line.append(UInt8(ascii: " ")) }
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(UInt8(ascii: " ")) }
            line.append(contentsOf: field.key.utf8)
            line.append(UInt8(ascii: "="))
            LogEscaping.append(field.value, to: &line)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }
}

/// The dispatch log: one line per step, appended with a single write, so it is flushed per
/// line and safe to `tail -f`. Lines also go to stderr when stderr is a terminal, and to
/// whoever subscribed (the `watch` command).
///
/// Lines are gathered while the event loop handles one batch of events and written with one
/// `write` before it waits again (or sooner, past 64 KiB): a line is never written in pieces,
/// and never waits longer than the work that produced it, but a burst of thousands of messages
/// costs a handful of writes instead of four per message.
public final class DispatchLog {
    /// Where the lines go, and how the log is opened again after a rotation.
    private enum Target {
        case standardOutput
        /// `name` beneath `folder`, never through a symlink; `own` for the default log in
        /// `.spoolbus/`, whose mode the daemon keeps (see `init(in:name:)`).
        case file(folder: Directory, name: Bytes, own: Bool)
    }

    private let target: Target
    private var destination: FileDescriptor
    private let mirrorToStandardError: Bool
    /// `--log-max`: past this size the log is renamed `NAME.1` and a new one started.
    private let maxSize: Int?
    /// The log file's size as far as this daemon knows (what it found, plus what it wrote).
    private var size = 0
    private var pending = Bytes()
    private static let flushThreshold = 64 * 1024
    /// Lines that could not be written since the log was opened.
    public private(set) var lostLines = 0
    /// Lines lost since the last `error` line said so, and why the last write failed.
    private var unreportedLoss: (lines: Int, reason: String)?
    /// The last failed write left a line without its newline in the file.
    private var cutLine = false
    private var subscribers: [Int: (LogRecord, Bytes) -> Void] = [:]
    private var nextSubscriber = 0

    /// Opens the log at `path` for appending (created 0640), or writes to stdout when nil.
    /// The file is opened beneath its folder's descriptor, held from now on, without following
    /// a symlink, so a rotation (`reopen`, `maxSize`) always acts in that same folder.
    /// `maxSize`: past it, the log is renamed `NAME.1` (replacing an older one) and a new one
    /// started.
    public convenience init(path: Bytes?, maxSize: Int? = nil) throws {
        guard let path else {
            self.init(target: .standardOutput, destination: .standardOutput, maxSize: nil)
            return
        }
        let folder = try Directory.open(path.deletingLastPathComponent.isEmpty ? ".".bytes : path.deletingLastPathComponent)
        let fd: FileDescriptor
        do {
            fd = try Self.open(path.lastPathComponent, in: folder, own: false)
        } catch let error as SystemError where error.errno == SystemError.symlinkRefused {
            folder.close()
            throw SpoolBusError("the log '\(text(path))' is a symbolic link, which the daemon never follows (it could not rotate it): "
                                + "name the file itself, or write --log - for stdout")
        } catch {
            folder.close()
            throw error
        }
        self.init(target: .file(folder: folder, name: path.lastPathComponent, own: false), destination: fd, maxSize: maxSize)
    }

    /// Opens the log `name` in the state folder `folder`, never through a symlink. A new log is
    /// made 0640 (not readable by others: it holds message bodies and handler output); an
    /// existing one keeps its group and the group's permissions, so an admin may share it with a
    /// group, but loses any access of others (a log an older version made 0644).
    public convenience init(in folder: Directory, name: Bytes, maxSize: Int? = nil) throws {
        let fd = try Self.open(name, in: folder, own: true)
        self.init(target: .file(folder: folder, name: name, own: true), destination: fd, maxSize: maxSize)
    }

    /// Opens without blocking, then writes blocking: a FIFO at the name would otherwise hold
    /// the open, and the whole bus, until a reader came.
    private static func open(_ name: Bytes, in folder: Directory, own: Bool) throws -> FileDescriptor {
        guard own else {
            let fd = try folder.open(name, [.writeOnly, .append, .create, .nonBlocking], mode: SpoolLayout.logMode)
            do { try fd.clearNonBlocking() } catch { fd.close(); throw error }
            return fd
        }
        do {
            let fd = try folder.open(name, [.writeOnly, .append, .create, .exclusive], mode: 0o640)
            do { try fd.changeMode(0o640) } catch { fd.close(); throw error }
            return fd
        } catch let error as SystemError where error.errno == SystemError.exists {
            let fd = try folder.open(name, [.writeOnly, .append, .nonBlocking])
            do {
                let status = try fd.status()
                guard status.type == .file else {
                    throw SpoolBusError("the dispatch log '\(text(folder.path.appendingPathComponent(name)))' is not a regular file: remove it")
                }
                if status.permissions & 0o007 != 0 { try fd.changeMode(status.permissions & ~0o007) }
                try fd.clearNonBlocking()
            } catch {
                fd.close()
                throw error
            }
            return fd
        }
    }

    private init(target: Target, destination file: FileDescriptor, maxSize: Int?) {
        self.target = target
        destination = file
        self.maxSize = maxSize
        size = (try? file.status()).map { $0.type == .file ? $0.size : 0 } ?? 0
        let isStandardOutput = if case .standardOutput = target { true } else { false }
        mirrorToStandardError = FileDescriptor.standardError.isTerminal && destination != .standardError
            && !(isStandardOutput && FileDescriptor.standardOutput.isTerminal)
    }

    /// Writes what is pending, then opens the log's name again: after `mv dispatch.log
    /// dispatch.log.1` (logrotate), new lines go to a new `dispatch.log`, made 0640. When the
    /// name cannot be opened, lines go on to the file held so far and an `error` line says why.
    public func reopen() {
        flush()
        guard case .file(let folder, let name, let own) = target else { return }
        do {
            if let fd = try openAgain(name, in: folder, own: own) { replaceDestination(with: fd) }
        } catch {
            record("error", [("err", "cannot reopen the dispatch log \(text(folder.path.appendingPathComponent(name))): \(error); "
                + "writing on to the file open before")])
        }
    }

    /// The log's name opened again (`reopen`, rotation). Only a regular file is taken: a FIFO or
    /// device slipped in at the name would swallow the lines or stall every write of the bus.
    /// nil when the name still holds the very file written so far (`--log /dev/null`).
    private func openAgain(_ name: Bytes, in folder: Directory, own: Bool) throws -> FileDescriptor? {
        let fd = try Self.open(name, in: folder, own: own)
        do {
            let found = try fd.status()
            if found.type == .file { return fd }
            let held = try destination.status()
            guard found.device == held.device && found.inode == held.inode else {
                throw SpoolBusError("'\(text(folder.path.appendingPathComponent(name)))' is not a regular file")
            }
        } catch {
            fd.close()
            throw error
        }
        fd.close()
        return nil
    }

    private func replaceDestination(with fd: FileDescriptor) {
        destination.close()
        destination = fd
        size = (try? fd.status()).map { $0.type == .file ? $0.size : 0 } ?? 0
        cutLine = false
    }

    /// `--log-max`: once the log passes its size, it becomes `NAME.1` (replacing the older
    /// one) and a new log is started, by rename and open beneath the log's folder. A log that
    /// is not a regular file (`/dev/null`) is never rotated.
    private func rotateIfFull() {
        guard let maxSize, size > maxSize, case .file(let folder, let name, let own) = target,
              let held = try? destination.status(), held.type == .file else { return }
        let older = name + ".1".bytes
        do {
            // Only the file written so far is renamed: whatever took its name since (a FIFO
            // after a failed rotation) must not replace the lines kept in `NAME.1`.
            let current = try folder.status(name)
            guard current.device == held.device && current.inode == held.inode else {
                throw SpoolBusError("the name no longer holds the file written so far")
            }
            try folder.rename(name, to: folder, as: older)
            guard let fd = try openAgain(name, in: folder, own: own) else { return }
            replaceDestination(with: fd)
            record("rotate", [("log", folder.path.appendingPathComponent(name)), ("kept", folder.path.appendingPathComponent(older))])
        } catch {
            // Tried again after the next write; said once per size passed, not per line.
            size = 0
            record("error", [("err", "cannot rotate the dispatch log \(text(folder.path.appendingPathComponent(name))): \(error)")])
        }
    }

    /// Appends one line: `verb` and its fields, in order.
    public func record(_ verb: String, name: Bytes? = nil, _ fields: [(String, any LogValue)]) {
        let record = LogRecord(verb: verb, fields: fields.map { ($0.0, $0.1.logBytes) }, name: name)
        let line = record.line(at: WallClock.milliseconds())
        pending += line
        if pending.count >= Self.flushThreshold { flush() }
        for subscriber in subscribers.values { subscriber(record, line) }
    }

    /// Writes the lines gathered so far.
    ///
    /// A full disk or a closed stdout must not stop the bus: lines that could not be written are
    /// lost, but counted (`lostLines`, in `status`), and the next write that gets through starts
    /// with an `error` line saying how many were lost since the last such line, and why. A line
    /// cut by the failure is ended first, so the loss line starts a line of its own.
    public func flush() {
        guard !pending.isEmpty else { return }
        FaultInjection.reach(.log)
        var batch = Bytes()
        if cutLine { batch.append(UInt8(ascii: "\n")) }
        if let loss = unreportedLoss {
            let record = LogRecord(verb: "error", fields: [
                ("err", "dispatch-log lines were lost: \(loss.reason)".bytes), ("lost", loss.lines.logBytes),
            ])
            batch += record.line(at: WallClock.milliseconds())
        }
        let reportEnd = batch.count
        batch += pending
        if mirrorToStandardError { try? FileDescriptor.standardError.writeAll(Bytes(batch[(cutLine ? 1 : 0)...])) }
        pending.removeAll(keepingCapacity: pending.count <= Self.flushThreshold)
        let (written, failure) = writeSome(batch)
        size += written
        if written > 0 { cutLine = batch[written - 1] != UInt8(ascii: "\n") }
        defer { rotateIfFull() }
        if written >= reportEnd { unreportedLoss = nil }
        guard let failure else { return }
        // Lines of this batch that did not reach the file whole; the loss line is not one of them.
        let lost = batch[max(written, reportEnd)...].reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        lostLines += lost
        let reason = (failure as? SystemError).map { SystemError.message(for: $0.errno) + " (errno \($0.errno))" } ?? "\(failure)"
        unreportedLoss = ((unreportedLoss?.lines ?? 0) + lost, reason)
    }

    /// Writes as much of `bytes` as the destination takes: how much, and why it stopped short.
    private func writeSome(_ bytes: Bytes) -> (Int, Error?) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                do {
                    guard let count = try destination.write(UnsafeRawBufferPointer(rebasing: buffer[offset...])) else {
                        return (offset, SystemError(errno: SystemError.wouldBlock, operation: "write"))
                    }
                    offset += count
                } catch {
                    return (offset, error)
                }
            }
            return (offset, nil)
        }
    }

    /// Hands `record` to the subscribers only, not to the log file (`swift:broadcast`).
    func publish(_ record: LogRecord) {
        let line = record.line(at: WallClock.milliseconds())
        for subscriber in subscribers.values { subscriber(record, line) }
    }

    /// Calls `observer` with every record and its line from now on; returns a key for `unsubscribe`.
    func subscribe(_ observer: @escaping (LogRecord, Bytes) -> Void) -> Int {
        nextSubscriber += 1
        subscribers[nextSubscriber] = observer
        return nextSubscriber
    }

    func unsubscribe(_ key: Int) {
        subscribers[key] = nil
    }
}
