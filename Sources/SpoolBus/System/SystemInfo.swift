import Glibc

/// Facts about the process and the machine.
public enum SystemInfo {
    public static var processorCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
    public static var processID: Int32 { getpid() }
    public static var isRoot: Bool { geteuid() == 0 }

    /// The process environment, as `KEY=value` byte strings.
    public static var environment: [Bytes] {
        var result: [Bytes] = []
        guard var cursor = Optional(environ) else { return result }
        while let entry = cursor.pointee {
            result.append(Bytes(UnsafeRawBufferPointer(start: entry, count: strlen(entry))))
            cursor = cursor.advanced(by: 1)
        }
        return result
    }

    /// Prints `text` to stderr as is.
    public static func printError(_ text: String) {
        try? FileDescriptor.standardError.writeAll(text.bytes)
    }

    /// Prints `text` to stdout as is.
    public static func printOutput(_ text: Bytes) {
        try? FileDescriptor.standardOutput.writeAll(text)
    }
}
