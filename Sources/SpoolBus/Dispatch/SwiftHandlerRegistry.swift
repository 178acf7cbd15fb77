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
    /// The rule's line in the rules file.
    public let rule: Int
    /// The sender, when known.
    public let peer: Peer?
    /// The spool's absolute path.
    public let spoolDirectory: [UInt8]
    /// Where the body can be read now (`SPOOL_PATH`).
    public let path: [UInt8]
    /// The words after `swift:NAME` in the rule, placeholders already replaced.
    public let arguments: [[UInt8]]

    /// The name as text (invalid UTF-8 shown as U+FFFD).
    public var nameText: String { String(decoding: name, as: UTF8.self) }
    /// The body as text (invalid UTF-8 shown as U+FFFD).
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What a Swift handler can do besides returning or throwing.
public protocol SpoolReplying: Sendable {
    /// Sends `bytes` back to the client of a `reply` socket rule (ignored for other rules).
    func reply(_ bytes: [UInt8])
}

/// A Swift handler: succeeds by returning, fails by throwing.
public typealias SwiftHandler = @Sendable (SpoolMessage) async throws -> Void

/// The Swift handlers a daemon knows, by the name rules use after `swift:`.
public struct HandlerRegistry: Sendable {
    private(set) var handlers: [String: SwiftHandler] = [:]

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
