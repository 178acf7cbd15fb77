import CSpoolBusLinux
import Glibc

/// Extended attributes of an open file (fsetxattr, fgetxattr), in the `user.` namespace: what a
/// received message's origin travels in, with the file through every rename the daemon makes.
extension FileDescriptor {
    /// fsetxattr(2).
    func setAttribute(_ name: String, _ value: Bytes) throws {
        _ = try syscall("fsetxattr \(name)") {
            value.withUnsafeBytes { fsetxattr(rawValue, name, $0.baseAddress, $0.count, 0) }
        }
    }

    /// fgetxattr(2); nil when the file has no such attribute (or the file system none at all),
    /// or one longer than `limit`.
    func attribute(_ name: String, limit: Int = 4096) -> Bytes? {
        // Its size first: most files have none, and cost no buffer then.
        let size = fgetxattr(rawValue, name, nil, 0)
        guard size >= 0, size <= limit else { return nil }
        var buffer = Bytes(repeating: 0, count: size)
        // One grown since is ERANGE: nil, as one over the limit is.
        let count = buffer.withUnsafeMutableBytes { fgetxattr(rawValue, name, $0.baseAddress, $0.count) }
        return count < 0 ? nil : Bytes(buffer.prefix(count))
    }
}

extension SystemError {
    /// EOPNOTSUPP (ENOTSUP): a file system without user extended attributes.
    static let notSupported = EOPNOTSUPP
    /// What fsetxattr says of a value too large for the file system (ext4 keeps at most a block,
    /// ENOSPC; past XATTR_SIZE_MAX, E2BIG; ERANGE from some others).
    static let attributeTooLarge: Set<Int32> = [ENOSPC, E2BIG, ERANGE]
}
