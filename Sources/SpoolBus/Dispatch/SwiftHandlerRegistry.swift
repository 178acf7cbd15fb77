import Synchronization

/// A message as a Swift handler sees it: the same facts a handler program gets in its
/// environment, as values.
public struct SpoolMessage: Sendable {
    /// The name relative to the spool (`SPOOL_NAME`); bytes, not necessarily UTF-8.
    public let name: [UInt8]
    public let event: EventKind
    public let type: NodeType
    /// The message id (`SPOOL_ID`).
    public let id: String
    /// 1 for the first run, 2 for the first retry, …
    public let attempt: Int
    /// The rule's line in the rules file (`SPOOL_RULE`).
    public let rule: Int
    /// The sender, when known.
    public let peer: Peer?
    /// An `mq` message's priority (`SPOOL_PRIORITY`).
    public var priority: UInt32? = nil
    /// A `signal` message's `sigqueue` value (`SPOOL_SIGNAL_VALUE`).
    public var signalValue: Int32? = nil
    /// What the descriptor passed with a socket message is (`SPOOL_FD_TYPE`: `file`, `pipe`, …);
    /// the descriptor itself is for handler programs, a Swift handler gets the message's bytes.
    public var descriptorType: String? = nil
    /// The spool's absolute path (`SPOOL_DIR`).
    public let spoolDirectory: [UInt8]
    /// The rules file's folder, against which relative paths in handler options are resolved.
    public let rulesDirectory: [UInt8]
    /// Where the body can be read now (`SPOOL_PATH`).
    public let path: [UInt8]
    /// The words after `swift:NAME` in the rule, placeholders already replaced.
    public let arguments: [[UInt8]]
    let services: HandlerServices
    let bodyLoader: BodyLoader

    /// The body: a file's content, or a FIFO or socket line without its newline. A file is read
    /// on first use (and kept), so a handler that never looks at the body never pays for it;
    /// reading it can fail, as reading a file can.
    public var body: [UInt8] {
        get throws { try bodyLoader.bytes() }
    }

    /// Where a message received from an MQTT broker (`subscribe`) came from; nil for any other
    /// message. Read from its file on first use, as the body is.
    public var origin: MessageOrigin? { bodyLoader.origin() }

    /// The name as text (invalid UTF-8 shown as U+FFFD).
    public var nameText: String { String(decoding: name, as: UTF8.self) }
    /// The body as text (invalid UTF-8 shown as U+FFFD).
    public var bodyText: String {
        get throws { String(decoding: try body, as: UTF8.self) }
    }

    /// Sends `bytes` back to the client of a socket message whose rule has `reply`; ignored
    /// for other messages. Several calls are sent in order.
    public func reply(_ bytes: [UInt8]) { services.reply(bytes) }

    /// Sends `text` back, as `reply(_:)` does with its UTF-8 bytes.
    public func reply(_ text: String) { services.reply(Array(text.utf8)) }
}

/// What the daemon lends a Swift handler run: a place for its reply, and the `watch`
/// subscribers (for `swift:broadcast`).
final class HandlerServices: Sendable {
    private let replies = Mutex<[UInt8]>([])
    private let broadcaster: @Sendable (LogRecord) -> Void

    init(broadcaster: @escaping @Sendable (LogRecord) -> Void) {
        self.broadcaster = broadcaster
    }

    func reply(_ bytes: [UInt8]) { replies.withLock { $0 += bytes } }

    var replyOutput: [UInt8] { replies.withLock { $0 } }

    func broadcast(_ record: LogRecord) { broadcaster(record) }
}

/// A Swift handler: succeeds by returning, fails by throwing. A synchronous closure is fine
/// too; it runs on Swift's cooperative thread pool, never on the daemon's event loop.
public typealias SwiftHandler = @Sendable (SpoolMessage) async throws -> Void

/// A Swift handler run on the daemon's event loop itself: no task, no thread hop, the fastest
/// path there is. For handlers that only compute — count, route, drop, hand to watchers — and
/// never block or wait: while one runs the whole bus waits, and `timeout=` cannot stop it.
public typealias InlineSwiftHandler = @Sendable (SpoolMessage) throws -> Void

/// The Swift handlers a daemon knows, by the name rules use after `swift:`.
public struct HandlerRegistry: Sendable {
    /// How a registered handler runs.
    enum Entry: Sendable {
        case task(SwiftHandler)
        case inline(InlineSwiftHandler)
    }

    private var handlers: [String: Entry] = [:]

    /// An empty registry.
    public init() {}

    /// Registers `handler` under `name`, to run as a task on Swift's cooperative pool; a later
    /// registration of the same name replaces it.
    public mutating func register(_ name: String, _ handler: @escaping SwiftHandler) {
        handlers[name] = .task(handler)
    }

    /// Registers `handler` under `name`, to run on the event loop (see `InlineSwiftHandler`:
    /// only for handlers that never block).
    public mutating func registerInline(_ name: String, _ handler: @escaping InlineSwiftHandler) {
        handlers[name] = .inline(handler)
    }

    /// Whether a handler is registered under `name`.
    public func contains(_ name: String) -> Bool { handlers[name] != nil }

    func entry(named name: String) -> Entry? { handlers[name] }

    /// The names registered, sorted.
    public var names: [String] { handlers.keys.sorted() }
}

/// A message's body and its origin, each read on first use and kept: a file is read by
/// whichever thread first asks, a line is there already.
final class BodyLoader: Sendable {
    private let source: MessageBody
    private let cache = Mutex<[UInt8]?>(nil)
    private let originCache = Mutex<MessageOrigin??>(nil)

    init(_ source: MessageBody) {
        self.source = source
        if case .line(let line) = source { cache.withLock { $0 = line } }
    }

    func bytes() throws -> [UInt8] {
        if let cached = cache.withLock({ $0 }) { return cached }
        let read = try source.read()
        cache.withLock { $0 = read }
        return read
    }

    /// Only a claimed file can have come from a broker; one that cannot be opened says nothing.
    func origin() -> MessageOrigin? {
        if let cached = originCache.withLock({ $0 }) { return cached }
        var origin: MessageOrigin?
        if case .claimedFile(let file) = source, let fd = try? file.open() {
            origin = MessageOrigin(of: fd)
            fd.close()
        }
        originCache.withLock { $0 = .some(origin) }
        return origin
    }
}
