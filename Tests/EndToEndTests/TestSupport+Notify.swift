import Foundation
import Glibc

/// A service manager's end of the sd_notify protocol: a datagram socket the daemon is told
/// about in `NOTIFY_SOCKET`, at a path or (`@name`) in the abstract namespace. Each datagram
/// is one notification of `KEY=VALUE` lines.
final class NotifyReceiver {
    /// What `NOTIFY_SOCKET` is set to.
    let address: String
    private let fd: Int32
    /// Every notification so far, in order of arrival.
    private(set) var messages: [String] = []
    /// When each arrived, in microseconds of the wall clock, as the kernel stamped it
    /// (SO_TIMESTAMP): how often the daemon sent, however late a busy test reads.
    private(set) var arrivals: [Int64] = []

    /// Binds at `path`, or in the abstract namespace when `abstract` is true.
    init(path: String, abstract: Bool = false) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemCallFailed("socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let name = abstract ? [0] + Array(path.utf8) : Array(path.utf8) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count - (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else {
            close(fd)
            throw SystemCallFailed("bind", Bytes(text: path))
        }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &on, socklen_t(MemoryLayout<Int32>.size))
        self.fd = fd
        self.address = abstract ? "@" + path : path
    }

    deinit { close(fd) }

    /// Reads what has arrived since the last call.
    func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var control = [UInt8](repeating: 0, count: 128)
        while true {
            var stamp: Int64 = 0
            let count = buffer.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var header = msghdr()
                        header.msg_iov = vectorPointer
                        header.msg_iovlen = 1
                        header.msg_control = controlBytes.baseAddress
                        header.msg_controllen = controlBytes.count
                        let count = recvmsg(fd, &header, Int32(MSG_DONTWAIT))
                        // One control message: struct cmsghdr (len, level, type), then a timeval.
                        let headerSize = MemoryLayout<cmsghdr>.size
                        if count > 0, header.msg_controllen >= headerSize + MemoryLayout<timeval>.size {
                            let cmsg = controlBytes.load(as: cmsghdr.self)
                            if cmsg.cmsg_level == SOL_SOCKET && cmsg.cmsg_type == SO_TIMESTAMP {
                                let time = controlBytes.loadUnaligned(fromByteOffset: headerSize, as: timeval.self)
                                stamp = Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_usec)
                            }
                        }
                        return count
                    }
                }
            }
            guard count > 0 else { return }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
            arrivals.append(stamp)
        }
    }

    /// The indices of the notifications that hold the line `line` (`READY=1`).
    func indices(of line: String) -> [Int] {
        receive()
        return messages.indices.filter { messages[$0].split(separator: "\n").contains { $0 == line } }
    }

    /// The notifications that hold a line starting with `prefix` (`STATUS=`).
    func lines(startingWith prefix: String) -> [String] {
        receive()
        return messages.flatMap { $0.split(separator: "\n").map(String.init) }.filter { $0.hasPrefix(prefix) }
    }
}
