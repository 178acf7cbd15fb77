import Glibc

/// File names, paths and message bodies are bytes on Linux; nothing here assumes UTF-8.
public typealias Bytes = [UInt8]

extension Array where Element == UInt8 {
    /// Calls `body` with a NUL-terminated copy, for C functions that take a path.
    @inline(__always)
    func withCPath<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer in
            buffer.withMemoryRebound(to: UInt8.self) { raw in
                _ = raw.initialize(fromContentsOf: self)
                raw[count] = 0
            }
            return try body(buffer.baseAddress!)
        }
    }

    /// `self/child`, or `child` alone when either side is empty.
    func appendingPathComponent(_ child: Bytes) -> Bytes {
        if isEmpty { return child }
        if child.isEmpty { return self }
        var joined = self
        if last != UInt8(ascii: "/") { joined.append(UInt8(ascii: "/")) }
        joined += child
        return joined
    }

    /// Everything before the last `/` ("" for a bare name, "/" for a top-level path).
    var deletingLastPathComponent: Bytes {
        guard let slash = lastIndex(of: UInt8(ascii: "/")) else { return [] }
        return slash == 0 ? [UInt8(ascii: "/")] : Bytes(self[..<slash])
    }

    /// Everything after the last `/`.
    var lastPathComponent: Bytes {
        guard let slash = lastIndex(of: UInt8(ascii: "/")) else { return self }
        return Bytes(self[(slash + 1)...])
    }

    /// The components between slashes, empty ones dropped.
    var pathComponents: [Bytes] {
        split(separator: UInt8(ascii: "/")).map(Bytes.init)
    }
}

extension String {
    /// The string's UTF-8 bytes.
    var bytes: Bytes { Bytes(utf8) }
}

/// Text for humans from bytes that may not be UTF-8 (invalid sequences become U+FFFD).
func text(_ bytes: Bytes) -> String { String(decoding: bytes, as: UTF8.self) }
