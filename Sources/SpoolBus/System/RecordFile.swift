import Glibc

/// A small file of fixed-size records, kept whole in memory and changed one record at a time
/// with pwrite(2): what is written is the file's content at once for a process started after
/// (the page cache holds it however this one ends), and one pwrite of a record within a page
/// is never torn by a kill (a fatal signal ends a process between system calls).
///
/// Not a shared mapping: a store into a mapped page of a copy-on-write file system (btrfs, XFS
/// with reflinks, ZFS) needs new space, and on a full one kills the process with SIGBUS, where
/// a pwrite returns ENOSPC.
final class RecordFile {
    private let descriptor: FileDescriptor
    private let path: Bytes
    /// The file's content, as last read or written by this process.
    private(set) var bytes: Bytes

    /// Reads the file `descriptor` has open read-write (and now owns), grown first with zeros
    /// to at least `minimumSize` bytes. `path` names it in errors.
    init(_ descriptor: FileDescriptor, path: Bytes, minimumSize: Int) throws {
        self.descriptor = descriptor
        self.path = path
        bytes = []
        do {
            let size = try descriptor.status().size
            bytes = Bytes(repeating: 0, count: size)
            var done = 0
            while done < size {
                let count = try bytes.withUnsafeMutableBytes { buffer in
                    try syscall("pread", path: path) { pread(descriptor.rawValue, buffer.baseAddress! + done, size - done, off_t(done)) }
                }
                // Shorter than its size said (truncated meanwhile): the rest reads as zeros.
                if count == 0 { break }
                done += count
            }
            try grow(to: minimumSize)
        } catch {
            descriptor.close()
            throw error
        }
    }

    deinit { descriptor.close() }

    /// Grows the file to `newSize` bytes of zeros written for real; on failure it stays as it
    /// was in memory (the file may have grown: the next start reads it all).
    func grow(to newSize: Int) throws {
        guard newSize > bytes.count else { return }
        let zeros = Bytes(repeating: 0, count: newSize - bytes.count)
        try write(zeros, at: bytes.count)
    }

    /// Writes `record` at `offset`, in the file and in `bytes`.
    func write(_ record: Bytes, at offset: Int) throws {
        try record.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                done += try syscall("pwrite", path: path) {
                    pwrite(descriptor.rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
                }
            }
        }
        if offset + record.count > bytes.count { bytes += Bytes(repeating: 0, count: offset + record.count - bytes.count) }
        bytes.replaceSubrange(offset..<(offset + record.count), with: record)
    }
}
