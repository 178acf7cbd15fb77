/// Who sent a message: from SO_PEERCRED for socket messages, the file's owner for files, the
/// signalfd's sender for signals (no group: the kernel does not say it).
public struct Peer: Sendable, Equatable {
    public var pid: Int32?
    public var uid: UInt32
    public var gid: UInt32?

    public init(pid: Int32?, uid: UInt32, gid: UInt32?) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// Where a message's body is.
enum MessageBody {
    /// A claimed file in `.spoolbus/work/`.
    case claimedFile(ClaimedFile)
    /// A state file (`then=keep`), read where it is.
    case stateFile(StateFile)
    /// A line from a FIFO or a socket.
    case line(Bytes)
    /// `node` and `gone` events have none.
    case none
}

/// A state file (`then=keep`): never claimed, so each run opens it again where it is, beneath
/// the spool's descriptor (a folder on the way swapped for a symlink makes the open fail).
struct StateFile {
    /// `SPOOL_PATH`; never opened.
    let path: Bytes
    let spool: Directory
    let name: Bytes

    /// Opens the file for reading; anything but a regular file is an error.
    func open() throws -> FileDescriptor {
        let fd = try spool.open(name, [.readOnly, .nonBlocking])
        guard (try? fd.status())?.type == .file else {
            fd.close()
            throw SystemError(errno: SystemError.invalidArgument, operation: "open (not a regular file)", path: path)
        }
        return fd
    }
}

/// Facts that come with a message of some channels only.
struct MessageExtras {
    /// An `mq` message's priority (`SPOOL_PRIORITY`).
    var priority: UInt32?
    /// A `signal` message's `sigqueue` value (`SPOOL_SIGNAL_VALUE`).
    var signalValue: Int32?
    /// The descriptor a socket client passed with the message: the handler's stdin.
    var descriptor: PassedDescriptor?

    init(priority: UInt32? = nil, signalValue: Int32? = nil, descriptor: PassedDescriptor? = nil) {
        self.priority = priority
        self.signalValue = signalValue
        self.descriptor = descriptor
    }
}

/// One message on the bus, as handlers see it.
struct Message {
    let id: Bytes
    let name: Bytes
    let event: EventKind
    let type: NodeType
    let body: MessageBody
    let peer: Peer?
    /// What only some channels' messages carry.
    var extras = MessageExtras()

    /// `SPOOL_PATH`: the claimed file for `file` messages, the node itself otherwise.
    func path(in layout: SpoolLayout) -> Bytes {
        switch body {
        case .claimedFile(let file): return file.path
        case .stateFile(let file): return file.path
        case .line, .none:
            if event == .mq || event == .signal { return Self.path(ofQueueOrSignal: name, event: event) }
            return layout.path(of: name)
        }
    }

    /// `SPOOL_PATH` of a queue's message: where the mqueue file system shows the queue
    /// (`/dev/mqueue/jobs`). A signal is nowhere: empty.
    static func path(ofQueueOrSignal name: Bytes, event: EventKind) -> Bytes {
        event == .mq ? "/dev/mqueue/".bytes + name : []
    }

    /// A `node` or `gone` event: it lives only in memory, and nothing finds it again later.
    var isNodeEvent: Bool { event == .node || event == .gone }

    /// The line, for `fifo` and `socket` messages (`SPOOL_MESSAGE`).
    var line: Bytes? {
        if case .line(let bytes) = body { return bytes }
        return nil
    }

    /// The text a placeholder stands for.
    func value(of placeholder: Placeholder, in layout: SpoolLayout) -> Bytes {
        switch placeholder {
        case .name: return name
        case .path: return path(in: layout)
        case .id: return id
        case .type: return type.rawValue.bytes
        case .event: return event.rawValue.bytes
        }
    }
}
