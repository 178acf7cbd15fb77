import CSpoolBusLinux
import Glibc

/// A file mapped into memory, shared: a store into it is the file's content at once, with no
/// system call, and outlives this process however it ends (the kernel's page cache holds it).
///
/// The file only grows, by zeros written for real (never `ftruncate`, which leaves a hole): a
/// store into a hole of a full file system kills the process with SIGBUS, a store into a
/// written block cannot fail.
final class SharedFileMapping {
    private let descriptor: FileDescriptor
    private let path: Bytes
    private(set) var base: UnsafeMutableRawPointer
    private(set) var size: Int

    /// Maps the file `descriptor` has open read-write (and now owns), grown first to at least
    /// `minimumSize` bytes. `path` names it in errors.
    init(_ descriptor: FileDescriptor, path: Bytes, minimumSize: Int) throws {
        self.descriptor = descriptor
        self.path = path
        do {
            var size = try descriptor.status().size
            if size < minimumSize {
                try Self.appendZeros(minimumSize - size, to: descriptor, at: size, path: path)
                size = minimumSize
            }
            self.size = size
            base = try Self.map(descriptor, size: size, path: path)
        } catch {
            descriptor.close()
            throw error
        }
    }

    deinit {
        munmap(base, size)
        descriptor.close()
    }

    /// Grows the file and the mapping to `newSize` bytes; `base` may move. On failure both
    /// stay as they were (the file may have grown: the next map takes it all).
    func grow(to newSize: Int) throws {
        guard newSize > size else { return }
        try Self.appendZeros(newSize - size, to: descriptor, at: size, path: path)
        let moved = try Self.map(descriptor, size: newSize, path: path)
        munmap(base, size)
        base = moved
        size = newSize
    }

    /// Stores `value` at `offset` (4-byte aligned) after every store made before it, and not
    /// torn: what a process reading the file after this one's end finds is either the stores
    /// before it and this one, or not this one.
    func storeReleasing(_ value: Int32, atByteOffset offset: Int) {
        csb_store_releasing((base + offset).assumingMemoryBound(to: Int32.self), value)
    }

    private static func appendZeros(_ count: Int, to descriptor: FileDescriptor, at offset: Int, path: Bytes) throws {
        let zeros = Bytes(repeating: 0, count: count)
        try zeros.withUnsafeBytes { buffer in
            var done = 0
            while done < count {
                done += try syscall("pwrite", path: path) {
                    pwrite(descriptor.rawValue, buffer.baseAddress! + done, count - done, off_t(offset + done))
                }
            }
        }
    }

    private static func map(_ descriptor: FileDescriptor, size: Int, path: Bytes) throws -> UnsafeMutableRawPointer {
        let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor.rawValue, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw SystemError(errno: Glibc.errno, operation: "mmap", path: path)
        }
        return address
    }
}
