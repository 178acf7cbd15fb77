import CSpoolBusLinux
import Glibc

/// An epoll instance. Each registration carries a 64-bit token chosen by the caller, so an event
/// for a descriptor that was closed and reused meanwhile can be recognised as stale.
struct Epoll {
    let descriptor: FileDescriptor

    struct Interest: OptionSet {
        let rawValue: UInt32
        /// EPOLLIN
        static let readable = Interest(rawValue: EPOLLIN.rawValue)
        /// EPOLLOUT
        static let writable = Interest(rawValue: EPOLLOUT.rawValue)
        /// EPOLLRDHUP: the peer shut down its writing side.
        static let peerClosed = Interest(rawValue: EPOLLRDHUP.rawValue)
        /// EPOLLHUP, always reported.
        static let hangUp = Interest(rawValue: EPOLLHUP.rawValue)
        /// EPOLLERR, always reported.
        static let error = Interest(rawValue: EPOLLERR.rawValue)
    }

    struct Event {
        let token: UInt64
        let readiness: Interest
    }

    init() throws {
        let fd = try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        descriptor = FileDescriptor(rawValue: fd)
    }

    func add(_ fd: FileDescriptor, interest: Interest, token: UInt64) throws {
        try control(EPOLL_CTL_ADD, fd, interest, token)
    }

    func modify(_ fd: FileDescriptor, interest: Interest, token: UInt64) throws {
        try control(EPOLL_CTL_MOD, fd, interest, token)
    }

    func remove(_ fd: FileDescriptor) {
        var event = epoll_event()
        _ = epoll_ctl(descriptor.rawValue, EPOLL_CTL_DEL, fd.rawValue, &event)
    }

    private func control(_ operation: Int32, _ fd: FileDescriptor, _ interest: Interest, _ token: UInt64) throws {
        var event = epoll_event()
        event.events = interest.rawValue
        event.data.u64 = token
        _ = try syscall("epoll_ctl") { epoll_ctl(descriptor.rawValue, operation, fd.rawValue, &event) }
    }

    typealias EventBuffer = [epoll_event]

    static func makeBuffer(capacity: Int) -> EventBuffer {
        EventBuffer(repeating: epoll_event(), count: capacity)
    }

    /// Waits for events; `timeout` -1 waits forever. Returns an empty list when interrupted.
    func wait(into buffer: inout EventBuffer, timeout: Int32) throws -> [Event] {
        let count = buffer.withUnsafeMutableBufferPointer { raw in
            epoll_wait(descriptor.rawValue, raw.baseAddress, Int32(raw.count), timeout)
        }
        if count < 0 {
            if errno == EINTR { return [] }
            throw SystemError(errno: errno, operation: "epoll_wait")
        }
        return (0..<Int(count)).map { Event(token: buffer[$0].data.u64, readiness: Interest(rawValue: buffer[$0].events)) }
    }
}
