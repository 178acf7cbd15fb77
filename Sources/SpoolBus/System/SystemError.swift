import Glibc

/// A failed system call: the errno, the call's name, and the path it was about when there was one.
///
/// Its description reads like `open '/srv/spool/x': No such file or directory (errno 2)`, so call
/// sites never write error text of their own.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public let errno: Int32
    public let operation: String
    public let path: [UInt8]?

    public init(errno: Int32, operation: String, path: [UInt8]? = nil) {
        self.errno = errno
        self.operation = operation
        self.path = path
    }

    public var description: String {
        var text = operation
        if let path { text += " '" + String(decoding: path, as: UTF8.self) + "'" }
        return text + ": " + SystemError.message(for: errno) + " (errno \(errno))"
    }

    /// The C library's words for an errno, without the "(errno N)".
    public static func message(for errno: Int32) -> String {
        String(cString: strerror(errno))
    }

    public static let interrupted = EINTR
    public static let wouldBlock = EAGAIN
    public static let noEntry = ENOENT
    public static let exists = EEXIST
    public static let notDirectory = ENOTDIR
    public static let tooManySymbolicLinks = ELOOP
    public static let noSuchDevice = ENXIO
    public static let permissionDenied = EACCES
    public static let invalidArgument = EINVAL
    public static let nameTooLong = ENAMETOOLONG
    public static let busy = EBUSY
}

/// Runs a system call that returns -1 and sets errno on failure, retrying on EINTR.
///
/// Every blocking call in the package goes through here; `close` does not (retrying close after
/// EINTR is unsafe on Linux).
@inline(__always)
func syscall<T: BinaryInteger>(
    _ operation: String, path: [UInt8]? = nil, _ body: () -> T
) throws -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw SystemError(errno: code, operation: operation, path: path)
    }
}

/// Like `syscall`, but EAGAIN is an answer, not an error: nil means "would block".
@inline(__always)
func nonBlockingSyscall<T: BinaryInteger>(
    _ operation: String, path: [UInt8]? = nil, _ body: () -> T
) throws -> T? {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        if code == EAGAIN { return nil }
        throw SystemError(errno: code, operation: operation, path: path)
    }
}
