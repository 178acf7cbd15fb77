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

    /// fgetxattr(2); nil when the file has no such attribute (or the file system none at all).
    func attribute(_ name: String, limit: Int = 4096) -> Bytes? {
        var buffer = Bytes(repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { fgetxattr(rawValue, name, $0.baseAddress, $0.count) }
        return count < 0 ? nil : Bytes(buffer.prefix(count))
    }
}

extension SystemError {
    /// EOPNOTSUPP (ENOTSUP): a file system without user extended attributes.
    static let notSupported = EOPNOTSUPP
}
