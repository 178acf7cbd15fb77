/// Where things live in a spool: the folder producers write to, and the daemon's own state
/// under `.spoolbus/`.
public struct SpoolLayout: Sendable {
    /// The spool's absolute path.
    public let root: Bytes

    public init(root: Bytes) { self.root = root }

    public var state: Bytes { root.appendingPathComponent(".spoolbus".bytes) }
    public var temporary: Bytes { state.appendingPathComponent("tmp".bytes) }
    public var work: Bytes { state.appendingPathComponent("work".bytes) }
    public var failed: Bytes { state.appendingPathComponent("failed".bytes) }
    public var done: Bytes { state.appendingPathComponent("done".bytes) }
    public var lock: Bytes { state.appendingPathComponent("lock".bytes) }
    public var controlSocket: Bytes { state.appendingPathComponent("control.sock".bytes) }
    public var defaultLog: Bytes { state.appendingPathComponent("dispatch.log".bytes) }

    /// The absolute path of a message name.
    public func path(of name: Bytes) -> Bytes { root.appendingPathComponent(name) }

    /// Creates the spool and its state folders if they are missing.
    public func create() throws {
        try FileSystem.makeDirectories(root)
        for folder in [state, temporary, work, failed, done] { try FileSystem.makeDirectory(folder) }
    }

    /// Drops `body` into the spool as the file message `name`: written under `.spoolbus/tmp/`,
    /// fsynced, then renamed into place, so the daemon never sees it half-written.
    /// Returns the message's absolute path.
    @discardableResult
    public func drop(_ body: Bytes, as name: Bytes) throws -> Bytes {
        guard SpoolLayout.isValidMessageName(name) else {
            throw SpoolBusError("invalid message name '\(text(name))': it must be relative, without '..' or a component starting with '.'")
        }
        let target = path(of: name)
        try FileSystem.makeDirectories(temporary)
        try FileSystem.makeDirectories(target.deletingLastPathComponent)
        try FileSystem.writeAtomically(body, to: target, temporaryFolder: temporary)
        return target
    }

    /// Whether a name is ever dispatched: no component may start with `.`, the convention for
    /// files still being written and for the daemon's own `.spoolbus/`.
    public static func isDispatchable(_ name: Bytes) -> Bool {
        !name.isEmpty && !name.pathComponents.contains { $0.first == UInt8(ascii: ".") }
    }

    /// Whether `name` is acceptable to `send` and `retry`: relative, no `..`, no dot component.
    public static func isValidMessageName(_ name: Bytes) -> Bool {
        guard !name.isEmpty, name.first != UInt8(ascii: "/"), name.last != UInt8(ascii: "/") else { return false }
        let components = name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        return components.allSatisfy { !$0.isEmpty && $0.first != UInt8(ascii: ".") }
    }
}
