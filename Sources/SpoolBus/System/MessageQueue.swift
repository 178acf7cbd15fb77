import CSpoolBusLinux
import Glibc

/// POSIX message queues (mq_overview(7)): thin wrappers, each throwing a `SystemError` that
/// names the call and the queue. On Linux a queue descriptor is a file descriptor (of the
/// mqueue file system): epoll can watch it, close(2) closes it, so `FileDescriptor` owns it.
enum MessageQueue {
    /// What `mq_getattr` says of a queue.
    struct Limits: Equatable {
        var maxMessages: Int
        var messageSize: Int
        var waiting: Int
    }

    /// Priorities run from 0 to this, less one (MQ_PRIO_MAX on Linux).
    static let priorityLimit: UInt32 = 32768

    /// Creates the queue `name` (`/jobs`) for reading, non-blocking: O_EXCL, so the caller
    /// knows it made it. nil limits leave them to the system's defaults.
    static func create(_ name: Bytes, mode: UInt32, maxMessages: Int, messageSize: Int) throws -> FileDescriptor {
        let fd = try syscall("mq_open", path: name) {
            name.withCPath { csb_mq_open_reading($0, 1, mode, maxMessages, messageSize) }
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Opens the existing queue `name` for reading, non-blocking.
    static func openForReading(_ name: Bytes) throws -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("mq_open", path: name) { name.withCPath { csb_mq_open_reading($0, 0, 0, 0, 0) } })
    }

    /// Opens the existing queue `name` for writing; a send waits while it is full unless
    /// `nonBlocking`.
    static func openForWriting(_ name: Bytes, nonBlocking: Bool) throws -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("mq_open", path: name) {
            name.withCPath { csb_mq_open_writing($0, nonBlocking ? 1 : 0) }
        })
    }

    static func limits(_ fd: FileDescriptor) throws -> Limits {
        var maxMessages = 0, messageSize = 0, waiting = 0
        _ = try syscall("mq_getattr") { csb_mq_limits(fd.rawValue, &maxMessages, &messageSize, &waiting) }
        return Limits(maxMessages: maxMessages, messageSize: messageSize, waiting: waiting)
    }

    /// mq_receive of the oldest message of the highest priority: its length and priority, or
    /// nil when the queue is empty. `buffer` must hold the queue's message size.
    static func receive(_ fd: FileDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws -> (count: Int, priority: UInt32)? {
        var priority: UInt32 = 0
        let count = try nonBlockingSyscall("mq_receive") {
            csb_mq_receive(fd.rawValue, buffer.baseAddress, buffer.count, &priority)
        }
        return count.map { ($0, priority) }
    }

    /// mq_send of one message, waiting while the queue is full (a blocking descriptor).
    static func send(_ fd: FileDescriptor, _ bytes: Bytes, priority: UInt32) throws {
        _ = try bytes.withUnsafeBytes { raw in
            try syscall("mq_send") { csb_mq_send(fd.rawValue, raw.baseAddress, raw.count, priority) }
        }
    }

    /// A value of `/proc/sys/fs/mqueue/` (`msg_max`, `msgsize_max`, `msg_default`,
    /// `msgsize_default`); nil when it cannot be read.
    static func systemValue(_ name: String) -> Int? {
        guard let fd = try? FileDescriptor.open("/proc/sys/fs/mqueue/\(name)".bytes, [.readOnly]) else { return nil }
        defer { fd.close() }
        guard let content = try? fd.readAll(limit: 64) else { return nil }
        return Int(text(content.filter { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }))
    }
}
