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

    /// Blocks the calling thread for `duration` (only where nothing else could run meanwhile).
    public static func sleep(_ duration: Duration) {
        var request = timespec(tv_sec: Int(duration.nanoseconds / 1_000_000_000), tv_nsec: Int(duration.nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// Prints `text` to stderr as is.
    public static func printError(_ text: String) {
        try? FileDescriptor.standardError.writeAll(text.bytes)
    }
}
