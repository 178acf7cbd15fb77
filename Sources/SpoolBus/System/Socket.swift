import CSpoolBusLinux
import Glibc

/// The kinds of Unix-domain socket the bus listens on.
enum SocketKind: Sendable {
    /// SOCK_STREAM: a byte stream; lines are framed by newlines.
    case stream
    /// SOCK_SEQPACKET: connected, reliable, one message per packet.
    case seqpacket
    /// SOCK_DGRAM: connectionless, one message per datagram.
    case datagram

    fileprivate var rawValue: Int32 {
        switch self {
        case .stream: return Int32(SOCK_STREAM.rawValue)
        case .seqpacket: return Int32(SOCK_SEQPACKET.rawValue)
        case .datagram: return Int32(SOCK_DGRAM.rawValue)
        }
    }
}

/// Who is at the other end of a Unix socket, as the kernel vouches for it.
struct SocketCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// A raw Unix-domain socket address (`struct sockaddr_un`, `length` bytes of it), kept to send
/// a datagram back to whoever sent one.
struct SocketAddress: Sendable {
    fileprivate var storage = sockaddr_un()
    fileprivate var length: socklen_t = 0

    /// Whether the sender had an address at all (an unbound datagram socket has none).
    var isBound: Bool { Int(length) > MemoryLayout<sa_family_t>.size }

    /// The file-system path the sender bound, as it gave it; nil for an abstract address
    /// (which starts with a NUL byte) or none.
    var path: Bytes? {
        guard isBound else { return nil }
        var storage = storage
        let count = Int(length) - MemoryLayout<sa_family_t>.size
        return withUnsafeBytes(of: &storage.sun_path) { raw -> Bytes? in
            let name = raw.prefix(min(count, raw.count))
            guard let first = name.first, first != 0 else { return nil }
            return Bytes(name.prefix { $0 != 0 })
        }
    }
}

/// One datagram or seqpacket packet, as received.
struct ReceivedPacket {
    /// Bytes placed in the buffer.
    var count: Int
    /// The packet's full length, which is more than `count` when it did not fit (the rest is
    /// lost).
    var length: Int
    /// From SCM_CREDENTIALS, when the socket passes them (SO_PASSCRED).
    var credentials: SocketCredentials?
    var sender: SocketAddress
    /// What came in the control data besides credentials.
    var control: ReceivedControl
}

/// The control data of one received message, beyond credentials: the descriptors passed with
/// it (SCM_RIGHTS), owned by the receiver now, and whether the control data was whole and of a
/// kind the daemon knows.
struct ReceivedControl {
    /// Close-on-exec; at most `UnixSocket.descriptorRoom` (the kernel closed any beyond).
    var descriptors: [FileDescriptor] = []
    /// MSG_CTRUNC: the kernel cut the control data (and closed what did not fit).
    var truncated = false
    /// A control message that is neither credentials nor descriptors.
    var unexpected = false

    /// Whether there is anything to look at.
    var isEmpty: Bool { descriptors.isEmpty && !truncated && !unexpected }

    /// Closes every descriptor received.
    func closeAll() {
        for descriptor in descriptors where descriptor.isOpen { descriptor.close() }
    }
}

/// Unix-domain sockets: thin wrappers over socket(2) and friends, each throwing a
/// `SystemError` that names the call and the path.
///
/// Every descriptor is close-on-exec, so no socket of the daemon leaks into a handler. Sends
/// use MSG_NOSIGNAL: a peer that went away is an EPIPE to handle, never a SIGPIPE.
enum UnixSocket {
    /// socket(AF_UNIX, kind | SOCK_CLOEXEC [| SOCK_NONBLOCK], 0).
    static func open(_ kind: SocketKind, nonBlocking: Bool) throws -> FileDescriptor {
        var type = kind.rawValue | Int32(SOCK_CLOEXEC.rawValue)
        if nonBlocking { type |= Int32(SOCK_NONBLOCK.rawValue) }
        let fd = try syscall("socket") { socket(AF_UNIX, type, 0) }
        return FileDescriptor(rawValue: fd)
    }

    /// bind(2) to `path`. A path longer than `sun_path` is reached through its folder.
    static func bind(_ fd: FileDescriptor, to path: Bytes) throws {
        try withAddress(of: path, operation: "bind") { address, length in
            _ = try syscall("bind", path: path) { Glibc.bind(fd.rawValue, address, length) }
        }
    }

    /// The longest backlog of pending connections the kernel allows (SOMAXCONN).
    static let maximumBacklog = SOMAXCONN

    /// listen(2).
    static func listen(_ fd: FileDescriptor, backlog: Int32) throws {
        _ = try syscall("listen") { Glibc.listen(fd.rawValue, backlog) }
    }

    /// accept4(2) of one pending connection, close-on-exec and non-blocking; nil when none is
    /// pending.
    static func accept(_ fd: FileDescriptor) throws -> FileDescriptor? {
        try nonBlockingSyscall("accept4") { csb_accept4(fd.rawValue) }.map(FileDescriptor.init(rawValue:))
    }

    /// connect(2) to `path`. On a non-blocking socket a full backlog is EAGAIN, thrown like
    /// any other error.
    static func connect(_ fd: FileDescriptor, to path: Bytes) throws {
        try withAddress(of: path, operation: "connect") { address, length in
            _ = try syscall("connect", path: path) { Glibc.connect(fd.rawValue, address, length) }
        }
    }

    /// send(2) with MSG_NOSIGNAL | MSG_DONTWAIT: how many bytes went, or nil when the socket's
    /// buffer is full.
    static func send(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws -> Int? {
        try nonBlockingSyscall("send") {
            Glibc.send(fd.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
        }
    }

    /// send(2) that waits while the buffer is full, with MSG_NOSIGNAL (for the blocking client).
    static func sendAll(_ fd: FileDescriptor, _ bytes: Bytes) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                offset += try syscall("send") { Glibc.send(fd.rawValue, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    /// sendto(2) of one datagram to `address`, MSG_NOSIGNAL | MSG_DONTWAIT; nil when the
    /// receiver's queue is full.
    static func send(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, to address: SocketAddress) throws -> Int? {
        var address = address
        return try withUnsafePointer(to: &address.storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try nonBlockingSyscall("sendto") {
                    Glibc.sendto(fd.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), raw, address.length)
                }
            }
        }
    }

    /// sendto(2) of one datagram to the socket named `address`, MSG_NOSIGNAL | MSG_DONTWAIT:
    /// a path, or, when it starts with `@`, a name in the abstract namespace (the `@` stands
    /// for the NUL byte such a name starts with, as `NOTIFY_SOCKET` writes it). Nil when the
    /// receiver's queue is full.
    static func send(_ fd: FileDescriptor, _ bytes: Bytes, toAddress address: Bytes) throws -> Int? {
        guard address.first == UInt8(ascii: "@") else {
            var sent: Int?
            try withAddress(of: address, operation: "sendto") { pointer, length in
                sent = try bytes.withUnsafeBytes { buffer in
                    try nonBlockingSyscall("sendto") {
                        Glibc.sendto(fd.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), pointer, length)
                    }
                }
            }
            return sent
        }
        var storage = sockaddr_un()
        let name = [0] + address.dropFirst()
        guard name.count <= MemoryLayout.size(ofValue: storage.sun_path) else {
            throw SystemError(errno: ENAMETOOLONG, operation: "sendto", path: address)
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: name) }
        // An abstract name is exactly its bytes: no terminating NUL is counted.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count)
        return try withUnsafePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try bytes.withUnsafeBytes { buffer in
                    try nonBlockingSyscall("sendto") {
                        Glibc.sendto(fd.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), raw, length)
                    }
                }
            }
        }
    }

    /// An O_PATH descriptor of the node at `path` (absolute, or relative to the working
    /// folder), reached by openat2(RESOLVE_NO_SYMLINKS): a symlink anywhere on the way, the
    /// last component included, is ELOOP. Opening a socket this way neither connects to it nor
    /// needs write permission on it.
    static func openNode(_ path: Bytes) throws -> FileDescriptor {
        let fd = try syscall("open", path: path) { path.withCPath { csb_open_path_no_symlinks($0) } }
        return FileDescriptor(rawValue: fd)
    }

    /// connect(2) to the socket `name` beneath the folder `folder`: the node is found beneath
    /// the folder's descriptor without following a symlink anywhere on the way (a producer may
    /// have put one in the spool), and connected to as `/proc/self/fd/N` of its O_PATH
    /// descriptor, which checks write permission on it as a path would. A failure is said as a
    /// connect to the whole path, whichever step it was.
    static func connect(_ fd: FileDescriptor, toSocket name: Bytes, beneath folder: Bytes) throws {
        do {
            let directory = try Directory.open(folder)
            defer { directory.close() }
            let node = try directory.openPath(name)
            defer { node.close() }
            try connect(fd, to: "/proc/self/fd/\(node.rawValue)".bytes)
        } catch let error as SystemError {
            throw SystemError(errno: error.errno, operation: "connect", path: folder.appendingPathComponent(name))
        }
    }

    /// sendto(2) of one datagram to the socket that `node` (from `openNode`) holds, named
    /// `/proc/self/fd/N`, MSG_NOSIGNAL | MSG_DONTWAIT; nil when the receiver's queue is full.
    /// The datagram reaches that very node, whatever stands at its old path by now.
    static func send(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer, toNode node: FileDescriptor) throws -> Int? {
        var sent: Int?
        try withAddress(of: "/proc/self/fd/\(node.rawValue)".bytes, operation: "sendto") { address, length in
            sent = try nonBlockingSyscall("sendto") {
                Glibc.sendto(fd.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), address, length)
            }
        }
        return sent
    }

    /// Descriptors taken from one message, at most (the shim's control buffer holds this many).
    static let descriptorRoom = 16

    /// recvmsg(2) of one packet with its credentials, sender and passed descriptors; nil when
    /// none is waiting. A count of 0 on a connected socket means the peer closed.
    static func receivePacket(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws -> ReceivedPacket? {
        var sender = SocketAddress()
        sender.length = socklen_t(MemoryLayout<sockaddr_un>.size)
        // MSG_TRUNC makes the call return the packet's real length even when it did not fit.
        guard let received = try receive(fd, into: buffer, flags: Int32(MSG_DONTWAIT | MSG_TRUNC), sender: &sender) else { return nil }
        return ReceivedPacket(count: min(received.length, buffer.count), length: received.length, credentials: received.credentials,
                              sender: sender, control: received.control)
    }

    /// recvmsg(2) of what a stream socket has, up to `buffer.count` bytes, with the descriptors
    /// passed with it; nil when nothing is waiting, a count of 0 at end of file. The kernel ends
    /// such a read at the end of the write that carried descriptors, so they belong to its last byte.
    static func receiveStream(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws -> (count: Int, control: ReceivedControl)? {
        var sender = SocketAddress()
        sender.length = socklen_t(MemoryLayout<sockaddr_un>.size)
        guard let received = try receive(fd, into: buffer, flags: Int32(MSG_DONTWAIT), sender: &sender) else { return nil }
        return (received.length, received.control)
    }

    private static func receive(
        _ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer, flags: Int32, sender: inout SocketAddress
    ) throws -> (length: Int, credentials: SocketCredentials?, control: ReceivedControl)? {
        var pid: pid_t = -1
        var uid: uid_t = 0
        var gid: gid_t = 0
        var fds = [Int32](repeating: -1, count: descriptorRoom)
        var count: Int32 = 0
        var truncated: Int32 = 0
        var unexpected: Int32 = 0
        let length = try nonBlockingSyscall("recvmsg") {
            csb_recv_with_rights(fd.rawValue, buffer.baseAddress, buffer.count, flags, &fds, Int32(descriptorRoom), &count,
                                 &truncated, &unexpected, &pid, &uid, &gid, &sender.storage, &sender.length)
        }
        guard let length else { return nil }
        let control = ReceivedControl(descriptors: fds.prefix(Int(count)).map(FileDescriptor.init(rawValue:)),
                                      truncated: truncated != 0, unexpected: unexpected != 0)
        let credentials = pid == -1 ? nil : SocketCredentials(pid: pid, uid: uid, gid: gid)
        return (length, credentials, control)
    }

    /// sendmsg(2) of `bytes` with `passed` (SCM_RIGHTS), waiting while the buffer is full, with
    /// MSG_NOSIGNAL; the descriptor goes with the first call, the rest of a short write after it.
    static func sendAll(_ fd: FileDescriptor, _ bytes: Bytes, passing passed: FileDescriptor) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = try syscall("sendmsg") { csb_send_with_descriptor(fd.rawValue, buffer.baseAddress, buffer.count, passed.rawValue) }
            while offset < buffer.count {
                let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
                offset += try syscall("send") { Glibc.send(fd.rawValue, rest.baseAddress, rest.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    /// SO_PEERCRED: who connected (as of their connect call).
    static func peerCredentials(_ fd: FileDescriptor) throws -> SocketCredentials {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
        _ = try syscall("getsockopt(SO_PEERCRED)") { csb_peer_credentials(fd.rawValue, &pid, &uid, &gid) }
        return SocketCredentials(pid: pid, uid: uid, gid: gid)
    }

    /// SO_PASSCRED: datagrams arrive with their sender's credentials.
    static func enableCredentialPassing(_ fd: FileDescriptor) throws {
        _ = try syscall("setsockopt(SO_PASSCRED)") { csb_enable_passcred(fd.rawValue) }
    }

    /// shutdown(SHUT_WR): the peer reads end of file once it has read what was sent.
    static func shutdownWriting(_ fd: FileDescriptor) {
        _ = Glibc.shutdown(fd.rawValue, Int32(SHUT_WR))
    }

    /// Whether a live socket answers at `path`: false when the file is a leftover nobody
    /// listens on (ECONNREFUSED) or is gone.
    static func isLive(at path: Bytes) -> Bool {
        for kind in [SocketKind.stream, .seqpacket, .datagram] {
            guard let probe = try? open(kind, nonBlocking: true) else { return false }
            defer { probe.close() }
            do {
                try connect(probe, to: path)
                return true
            } catch let error as SystemError {
                switch error.errno {
                case EAGAIN: return true  // listening, backlog full
                case EPROTOTYPE: continue  // live, but of another kind: try the next
                default: return false
                }
            } catch {
                return false
            }
        }
        return false
    }

    /// Calls `body` with a `sockaddr_un` for `path`. A path too long for `sun_path` is named
    /// through `/proc/self/fd/N/` of its folder, which Linux resolves like any other path.
    private static func withAddress(
        of path: Bytes, operation: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> Void
    ) throws {
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        var name = path
        var folder: FileDescriptor?
        defer { folder?.close() }
        if path.count >= capacity {
            let opened = try FileDescriptor.open(path.deletingLastPathComponent, [.readOnly, .directory])
            folder = opened
            name = "/proc/self/fd/\(opened.rawValue)/".bytes + path.lastPathComponent
            guard name.count < capacity else {
                throw SystemError(errno: ENAMETOOLONG, operation: operation, path: path)
            }
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: name)
            raw[name.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + 1)
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }
}

extension SystemError {
    /// EMSGSIZE: a packet too big for the socket.
    static let messageTooLong = EMSGSIZE
    /// ELOOP: a symlink where none may be followed.
    static let symlinkRefused = ELOOP
    /// EPROTOTYPE: a socket of another kind than the one that connects.
    static let wrongSocketType = EPROTOTYPE
}

/// The per-process limit on open descriptors.
enum DescriptorLimit {
    /// Raises the soft limit to the hard one (at most `ceiling`), so a thousand clients do not
    /// run into the customary 1024. Returns the soft limit now in force.
    @discardableResult
    static func raise(upTo ceiling: UInt64) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 0 }
        let wanted = min(UInt64(limit.rlim_max), ceiling)
        if UInt64(limit.rlim_cur) < wanted {
            var raised = limit
            raised.rlim_cur = rlim_t(wanted)
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { return wanted }
        }
        return UInt64(limit.rlim_cur)
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
