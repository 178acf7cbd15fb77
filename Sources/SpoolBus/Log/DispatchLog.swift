
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
        var line = Timestamp.rfc3339(millisecondsSinceEpoch: milliseconds)
        line.append(UInt8(ascii: " "))
        line += Bytes(verb.utf8)
        line += Bytes(repeating: UInt8(ascii: " "), count: max(1, 8 - verb.utf8.count))
        for (index, field) in fields.enumerated() {
            if index > 0 { line.append(UInt8(ascii: " ")) }
            line += Bytes(field.key.utf8)
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
    private let destination: FileDescriptor
    private let mirrorToStandardError: Bool
    private var pending = Bytes()
    private static let flushThreshold = 64 * 1024
    private var subscribers: [Int: (LogRecord, Bytes) -> Void] = [:]
    private var nextSubscriber = 0

    /// Opens the log at `path` for appending (created 0644), or writes to stdout when nil.
    public init(path: Bytes?) throws {
        if let path {
            destination = try FileDescriptor.open(path, [.writeOnly, .append, .create])
        } else {
            destination = .standardOutput
        }
        mirrorToStandardError = FileDescriptor.standardError.isTerminal && destination != .standardError
            && !(path == nil && FileDescriptor.standardOutput.isTerminal)
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
    public func flush() {
        guard !pending.isEmpty else { return }
        FaultInjection.reach(.log)
        // A full disk or a closed stdout must not stop the bus; the lines are lost, nothing else.
        try? destination.writeAll(pending)
        if mirrorToStandardError { try? FileDescriptor.standardError.writeAll(pending) }
        pending.removeAll(keepingCapacity: pending.count <= Self.flushThreshold)
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
