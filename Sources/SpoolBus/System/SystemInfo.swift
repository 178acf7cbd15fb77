import CSpoolBusLinux
import Glibc

/// Facts about the process and the machine.
public enum SystemInfo {
    public static var processorCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
    public static var processID: Int32 { getpid() }
    public static var isRoot: Bool { geteuid() == 0 }
    /// The effective user id.
    public static var userID: UInt32 { geteuid() }

    /// The words after the program name, as bytes: `CommandLine.arguments` would replace bytes
    /// that are not UTF-8.
    public static var commandLineArguments: [Bytes] {
        (1..<Int(CommandLine.argc)).compactMap { index in
            CommandLine.unsafeArgv[index].map { Bytes(UnsafeRawBufferPointer(start: $0, count: strlen($0))) }
        }
    }

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

    /// The machine's host name (gethostname), "localhost" if it has none.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0, buffer[0] != 0 else { return "localhost" }
        return String(cString: buffer)
    }

    /// The running kernel's release, e.g. "6.1.0-18-amd64".
    public static var kernelRelease: String {
        var buffer = [CChar](repeating: 0, count: 65)
        guard csb_kernel_release(&buffer, Int32(buffer.count)) == 0 else { return "" }
        return String(cString: buffer)
    }

    /// The oldest kernel the daemon runs on: openat2 (5.6) resolves every spool path beneath the
    /// spool's descriptor, and pidfd_open (5.3) watches handlers.
    public static let minimumKernel = (major: 5, minor: 6)

    /// Whether `release` ("MAJOR.MINOR…") is at least `minimumKernel`.
    public static func isSupportedKernel(_ release: String) -> Bool {
        // Bytes, not Characters: Character properties pull Unicode tables into an idle daemon.
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let numbers = release.utf8.split(whereSeparator: { !isDigit($0) }).prefix(2)
            .compactMap { Int(String(decoding: $0, as: UTF8.self)) }
        guard numbers.count == 2 else { return false }
        return (numbers[0], numbers[1]) >= (minimumKernel.major, minimumKernel.minor)
    }

    /// Lets the kernel take back the pages of code and read-only data that only start-up used
    /// (parsing and checking the rules, preparing the spool): an idle daemon then holds little
    /// more than its loop. The kernel never drops modified data this way (copied-on-write pages
    /// go to swap or stay) and skips pages other processes map; a page used again is read back,
    /// from the page cache or, if it was evicted meanwhile, from disk.
    public static func releaseStartupPages() {
        _ = csb_page_out_file_mappings()
    }

    /// Prints `text` to stderr as is.
    public static func printError(_ text: String) {
        try? FileDescriptor.standardError.writeAll(text.bytes)
    }
}
