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
    /// When each was read (the tests poll every 20 ms or so).
    private(set) var arrivals: [ContinuousClock.Instant] = []

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
        self.fd = fd
        self.address = abstract ? "@" + path : path
    }

    deinit { close(fd) }

    /// Reads what has arrived since the last call.
    func receive() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { return }
            messages.append(String(decoding: buffer[..<count], as: UTF8.self))
            arrivals.append(ContinuousClock.now)
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
