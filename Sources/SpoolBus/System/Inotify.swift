import CSpoolBusLinux
import Glibc

/// An inotify instance, non-blocking, read by the event loop.
struct Inotify {
    let descriptor: FileDescriptor

    struct Mask: OptionSet, Hashable {
        let rawValue: UInt32
        /// IN_CLOSE_WRITE: a file opened for writing was closed.
        static let closeWrite = Mask(rawValue: UInt32(IN_CLOSE_WRITE))
        /// IN_MOVED_TO
        static let movedTo = Mask(rawValue: UInt32(IN_MOVED_TO))
        /// IN_MOVED_FROM
        static let movedFrom = Mask(rawValue: UInt32(IN_MOVED_FROM))
        /// IN_CREATE
        static let create = Mask(rawValue: UInt32(IN_CREATE))
        /// IN_DELETE
        static let delete = Mask(rawValue: UInt32(IN_DELETE))
        /// IN_DELETE_SELF
        static let deleteSelf = Mask(rawValue: UInt32(IN_DELETE_SELF))
        /// IN_MOVE_SELF
        static let moveSelf = Mask(rawValue: UInt32(IN_MOVE_SELF))
        /// IN_ATTRIB
        static let attributes = Mask(rawValue: UInt32(IN_ATTRIB))
        /// IN_ONLYDIR
        static let onlyDirectory = Mask(rawValue: UInt32(IN_ONLYDIR))
        /// IN_DONT_FOLLOW
        static let dontFollow = Mask(rawValue: UInt32(IN_DONT_FOLLOW))
        /// IN_MASK_ADD: add to the mask of a watch that already exists instead of replacing it.
        static let addToMask = Mask(rawValue: UInt32(IN_MASK_ADD))
        /// IN_ISDIR, set on events about a folder.
        static let isDirectory = Mask(rawValue: UInt32(IN_ISDIR))
        /// IN_IGNORED: the watch is gone.
        static let ignored = Mask(rawValue: UInt32(IN_IGNORED))
        /// IN_Q_OVERFLOW: events were lost.
        static let overflow = Mask(rawValue: UInt32(IN_Q_OVERFLOW))
    }

    struct Event {
        let watch: Int32
        let mask: Mask
        let cookie: UInt32
        let name: Bytes
    }

    init() throws {
        let fd = try syscall("inotify_init1") { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) }
        descriptor = FileDescriptor(rawValue: fd)
    }

    /// Adds (or replaces) a watch on `path`; returns its watch descriptor.
    func addWatch(_ path: Bytes, mask: Mask) throws -> Int32 {
        try syscall("inotify_add_watch", path: path) {
            path.withCPath { inotify_add_watch(descriptor.rawValue, $0, mask.rawValue) }
        }
    }

    func removeWatch(_ watch: Int32) {
        _ = inotify_rm_watch(descriptor.rawValue, watch)
    }

    /// Reads the events queued now; an empty list when there are none.
    func readEvents(into buffer: inout Bytes) throws -> [Event] {
        let count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) } ?? 0
        var events: [Event] = []
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        buffer.withUnsafeBytes { raw in
            while offset + header <= count {
                let watch = raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let cookie = raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameBytes = raw[(offset + header)..<(offset + header + length)]
                events.append(Event(watch: watch, mask: Mask(rawValue: mask), cookie: cookie,
                                    name: Bytes(nameBytes.prefix(while: { $0 != 0 }))))
                offset += header + length
            }
        }
        return events
    }
}
