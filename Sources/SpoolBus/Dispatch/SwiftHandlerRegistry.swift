import Synchronization

/// A message as a Swift handler sees it: the same facts a handler program gets in its
/// environment, as values.
public struct SpoolMessage: Sendable {
    /// The name relative to the spool (`SPOOL_NAME`); bytes, not necessarily UTF-8.
    public let name: [UInt8]
    /// The body: a file's content, or a FIFO or socket line without its newline.
    public let body: [UInt8]
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
    /// The spool's absolute path (`SPOOL_DIR`).
    public let spoolDirectory: [UInt8]
    /// The rules file's folder, against which relative paths in handler options are resolved.
    public let rulesDirectory: [UInt8]
    /// Where the body can be read now (`SPOOL_PATH`).
    public let path: [UInt8]
    /// The words after `swift:NAME` in the rule, placeholders already replaced.
    public let arguments: [[UInt8]]
    let services: HandlerServices

    /// The name as text (invalid UTF-8 shown as U+FFFD).
    public var nameText: String { String(decoding: name, as: UTF8.self) }
    /// The body as text (invalid UTF-8 shown as U+FFFD).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

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

/// The Swift handlers a daemon knows, by the name rules use after `swift:`.
public struct HandlerRegistry: Sendable {
    private var handlers: [String: SwiftHandler] = [:]

    /// An empty registry.
    public init() {}

    /// Registers `handler` under `name`; a later registration of the same name replaces it.
    public mutating func register(_ name: String, _ handler: @escaping SwiftHandler) {
        handlers[name] = handler
    }

    /// The handler registered under `name`.
    public func handler(named name: String) -> SwiftHandler? { handlers[name] }

    /// The names registered, sorted.
    public var names: [String] { handlers.keys.sorted() }
}
