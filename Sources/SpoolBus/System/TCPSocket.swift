import CSpoolBusLinux
import Glibc

/// A resolved IPv4 or IPv6 address and port, as connect(2) takes it.
struct TCPAddress: Sendable, CustomStringConvertible {
    fileprivate var storage = sockaddr_storage()
    fileprivate var length: socklen_t = 0
    var family: Int32 { Int32(storage.ss_family) }

    /// `127.0.0.1:1883`, `[::1]:1883`.
    var description: String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), port = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        var storage = storage
        let status = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &port, socklen_t(port.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard status == 0 else { return "?" }
        let hostText = String(cString: host), portText = String(cString: port)
        return family == AF_INET6 ? "[\(hostText)]:\(portText)" : "\(hostText):\(portText)"
    }
}

/// A host name that did not resolve, in getaddrinfo's words.
struct TCPResolveError: Error, Sendable, CustomStringConvertible {
    let host: String
    let message: String
    var description: String { "cannot resolve '\(host)': \(message)" }
}

/// TCP client sockets: thin wrappers over socket(2), connect(2), send(2) and recv(2), each
/// throwing a `SystemError` that names the call. Every descriptor is close-on-exec and
/// non-blocking; sends use MSG_NOSIGNAL, so a broker that went away is an EPIPE, not a SIGPIPE.
enum TCPSocket {
    /// getaddrinfo(3) for a stream socket: a name is looked up the way the C library does
    /// (/etc/hosts, then DNS), which blocks, for seconds when DNS does not answer.
    static func resolve(host: String, port: UInt16) throws(TCPResolveError) -> [TCPAddress] {
        try lookUp(host: host, port: port, flags: 0)
    }

    /// The address `host` writes out (`192.0.2.1`, `::1`), found without asking anyone; nil for
    /// a name.
    static func numericAddresses(host: String, port: UInt16) -> [TCPAddress]? {
        try? lookUp(host: host, port: port, flags: AI_NUMERICHOST)
    }

    private static func lookUp(host: String, port: UInt16, flags: Int32) throws(TCPResolveError) -> [TCPAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | flags
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            let message = status == EAI_SYSTEM ? SystemError.message(for: errno) : String(cString: gai_strerror(status))
            throw TCPResolveError(host: host, message: message)
        }
        defer { freeaddrinfo(list) }
        var addresses: [TCPAddress] = []
        var entry = list
        while let current = entry {
            if let raw = current.pointee.ai_addr, Int(current.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var address = TCPAddress()
                withUnsafeMutableBytes(of: &address.storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(current.pointee.ai_addrlen)))
                }
                address.length = current.pointee.ai_addrlen
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC), with TCP_NODELAY: MQTT's
    /// small packets go out at once instead of waiting for the peer's ACK.
    static func open(for address: TCPAddress) throws -> FileDescriptor {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = FileDescriptor(rawValue: try syscall("socket") { socket(address.family, type, 0) })
        var on: Int32 = 1
        _ = setsockopt(fd.rawValue, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Starts connect(2) on a non-blocking socket: true when it connected at once, false while
    /// in progress (the socket turns writable when it is done; `connectResult` says how).
    static func startConnect(_ fd: FileDescriptor, to address: TCPAddress) throws -> Bool {
        var address = address
        let result = withUnsafePointer(to: &address.storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd.rawValue, $0, address.length) }
        }
        if result == 0 { return true }
        let code = errno
        if code == EINPROGRESS || code == EINTR { return false }
        throw SystemError(errno: code, operation: "connect \(address)")
    }

    /// SO_ERROR after a non-blocking connect: nil when it connected, else the error.
    static func connectResult(_ fd: FileDescriptor, to address: TCPAddress) -> SystemError? {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd.rawValue, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { code = errno }
        return code == 0 ? nil : SystemError(errno: code, operation: "connect \(address)")
    }

    /// send(2) with MSG_NOSIGNAL | MSG_DONTWAIT: how many bytes went, nil when the buffer is full.
    static func send(_ fd: FileDescriptor, _ bytes: UnsafeRawBufferPointer) throws -> Int? {
        try nonBlockingSyscall("send") { Glibc.send(fd.rawValue, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// recv(2), MSG_DONTWAIT: 0 when the peer closed, nil when nothing is waiting.
    static func receive(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try nonBlockingSyscall("recv") { Glibc.recv(fd.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT)) }
    }
}
