import Foundation
import Glibc
import Testing

// Support for the channel tests (FIFOs, sockets, control socket). Names carry a `Chan` prefix
// so they cannot clash with the shared end-to-end support.
//
//   ROOT/spoolbus.rules   ROOT/h/record.sh   ROOT/spool/   ROOT/dispatch.log   ROOT/out/
//
// `h/record.sh TAG` records one run as ROOT/out/ID/{env,stdin,tag}. Waiting is always for a
// condition with a generous deadline, never a bare sleep.

/// The `spoolbus` executable: `SPOOLBUS_BINARY`, else beside (or a little above) the test bundle.
let chanBinary: String = {
    if let override = ProcessInfo.processInfo.environment["SPOOLBUS_BINARY"] { return override }
    var folder = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        .deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = folder.appendingPathComponent("spoolbus").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    return "spoolbus"
}()

struct ChanTimeout: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` every 20 ms until it holds; throws after `timeout`.
func chanWait(
    _ what: String, timeout: Duration = .seconds(60), details: @autoclosure () -> String = "",
    _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return }
        if ContinuousClock.now >= deadline { throw ChanTimeout(description: "timed out waiting for \(what)\n\(details())") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// One line of the dispatch log, parsed.
struct ChanLogLine: CustomStringConvertible {
    let verb: String
    let fields: [String: String]
    let raw: String
    subscript(key: String) -> String? { fields[key] }
    var description: String { raw }

    init(_ raw: String) {
        self.raw = raw
        var words: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for char in raw.dropFirst(25) {
            if escaped {
                switch char {
                case "n": current.append("\n")
                case "t": current.append("\t")
                default: current.append(char)
                }
                escaped = false
            } else if quoted && char == "\\" {
                escaped = true
            } else if char == "\"" {
                quoted.toggle()
            } else if char == " " && !quoted {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.append(char)
            }
        }
        if !current.isEmpty { words.append(current) }
        verb = words.first ?? ""
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        self.fields = fields
    }
}

/// What one run of `h/record.sh` saw.
struct ChanRecord: CustomStringConvertible {
    let id: String
    let tag: String
    let environment: [String: String]
    let stdin: [UInt8]
    var body: String { String(decoding: stdin, as: UTF8.self) }
    subscript(key: String) -> String? { environment[key] }
    var description: String { "\(tag) \(id) \(environment["SPOOL_NAME"] ?? "-") stdin=\(body.debugDescription)" }
}

/// A temporary folder with a rules file, a spool, a log and the recorder; and the daemon.
final class ChanSandbox {
    let root: String
    var spool: String { root + "/spool" }
    var logPath: String { root + "/dispatch.log" }
    var out: String { root + "/out" }
    var control: String { spool + "/.spoolbus/control.sock" }
    private(set) var daemon: Process?

    init() throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/chan-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw ChanTimeout(description: "mkdtemp failed") }
        root = String(cString: made)
        try FileManager.default.createDirectory(atPath: root + "/h", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try script("record.sh", """
            #!/bin/sh
            # Records one run: environment, stdin and the first argument, under the message id.
            d="$OUT/$SPOOL_ID.$SPOOL_RULE"
            mkdir -p "$d.tmp"
            cat > "$d.tmp/stdin"
            env > "$d.tmp/env"
            printf '%s' "$1" > "$d.tmp/tag"
            mv "$d.tmp" "$d"
            """)
    }

    /// Writes an executable handler script into ROOT/h/.
    func script(_ name: String, _ text: String) throws {
        let path = root + "/h/" + name
        let text = text.hasPrefix("#!") ? text : "#!/bin/sh\n" + text
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    /// Writes the rules file and starts `spoolbus run` on it; returns once it logged `start`.
    func start(_ rules: String, arguments: [String] = []) async throws {
        try (rules + "\n").write(toFile: root + "/spoolbus.rules", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chanBinary)
        process.arguments = ["run", root + "/spoolbus.rules", "--spool", spool, "--log", logPath, "--env", "OUT"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OUT"] = out
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        FileManager.default.createFile(atPath: root + "/stderr", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: root + "/stderr")
        try process.run()
        daemon = process
        try await chanWait("the daemon to start", timeout: .seconds(30), details: self.report()) {
            guard process.isRunning else { throw ChanTimeout(description: "the daemon exited\n" + report()) }
            return logLines().contains { $0.verb == "start" }
        }
    }

    /// SIGTERM, and waits for the exit.
    func stop() async throws {
        guard let daemon, daemon.isRunning else { return }
        kill(daemon.processIdentifier, SIGTERM)
        try await chanWait("the daemon to stop", timeout: .seconds(30)) { !daemon.isRunning }
    }

    /// Kills whatever is left and removes the folder.
    func tearDown() {
        if let daemon, daemon.isRunning {
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["SPOOLBUS_E2E_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    var daemonIsRunning: Bool { daemon?.isRunning ?? false }

    /// Every complete line (a last line without its newline is still being written).
    func logLines() -> [ChanLogLine] {
        guard var data = FileManager.default.contents(atPath: logPath) else { return [] }
        if let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) {
            data.removeSubrange((lastNewline + 1)...)
        } else {
            data.removeAll()
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { ChanLogLine(String($0)) }
    }

    /// How many log lines have `verb`, without parsing them (for waits over thousands of lines).
    func logCount(_ verb: String) -> Int {
        guard let data = FileManager.default.contents(atPath: logPath) else { return 0 }
        let needle = Array(("Z " + verb + " ").utf8)
        var count = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where line.count > 23 + needle.count {
            if line.dropFirst(23).starts(with: needle) { count += 1 }
        }
        return count
    }

    func records() -> [ChanRecord] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        return entries.filter { !$0.hasSuffix(".tmp") }.sorted().compactMap { entry in
            let folder = out + "/" + entry
            guard let env = FileManager.default.contents(atPath: folder + "/env"),
                  let stdin = FileManager.default.contents(atPath: folder + "/stdin") else { return nil }
            var environment: [String: String] = [:]
            for line in String(decoding: env, as: UTF8.self).split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            let tag = FileManager.default.contents(atPath: folder + "/tag").map { String(decoding: $0, as: UTF8.self) } ?? ""
            return ChanRecord(id: String(entry.split(separator: ".").first ?? ""), tag: tag, environment: environment, stdin: Array(stdin))
        }
    }

    /// The log, the daemon's stderr and the records, for a failure message.
    func report() -> String {
        let stderr = FileManager.default.contents(atPath: root + "/stderr").map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "--- log\n" + logLines().map(\.raw).joined(separator: "\n") + "\n--- stderr\n" + stderr
            + "--- records\n" + records().map(\.description).joined(separator: "\n")
    }

    /// Runs `spoolbus ARGS…` to completion.
    func command(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chanBinary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// Runs `body` with a fresh sandbox, torn down whatever happens.
func withChanSandbox(_ body: (ChanSandbox) async throws -> Void) async throws {
    let sandbox = try ChanSandbox()
    defer { sandbox.tearDown() }
    do {
        try await body(sandbox)
    } catch {
        Issue.record("sandbox \(sandbox.root)\n\(sandbox.report())")
        throw error
    }
}

/// A blocking Unix socket client with a receive deadline, so a test never hangs.
final class ChanSocket {
    let fd: Int32

    enum Kind { case stream, seqpacket, datagram }

    init(_ kind: Kind, bindTo local: String? = nil) throws {
        let type: Int32
        switch kind {
        case .stream: type = Int32(SOCK_STREAM.rawValue)
        case .seqpacket: type = Int32(SOCK_SEQPACKET.rawValue)
        case .datagram: type = Int32(SOCK_DGRAM.rawValue)
        }
        fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ChanTimeout(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if let local {
            let status = ChanSocket.withAddress(local) { Glibc.bind(fd, $0, $1) }
            guard status == 0 else { throw ChanTimeout(description: "bind \(local): errno \(errno)") }
        }
    }

    /// Connects to `path`; false when refused or missing.
    @discardableResult
    func connect(_ path: String) -> Bool {
        ChanSocket.withAddress(path) { Glibc.connect(fd, $0, $1) } == 0
    }

    convenience init(connectingTo path: String, _ kind: Kind = .stream) throws {
        try self.init(kind)
        guard connect(path) else { throw ChanTimeout(description: "connect \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    func send(_ text: String, to path: String) {
        let bytes = Array(text.utf8)
        _ = ChanSocket.withAddress(path) { address, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
    }

    func shutdownWriting() { shutdown(fd, Int32(SHUT_WR)) }

    /// One packet (datagram or seqpacket), or nil at end of file / deadline.
    func receivePacket() -> String? {
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[..<n], as: UTF8.self)
    }

    private var pending: [UInt8] = []

    /// Reads until end of file or the deadline.
    func readToEnd() -> String {
        var all = pending
        pending = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            all += buffer[..<n]
        }
        return String(decoding: all, as: UTF8.self)
    }

    /// One line without its newline, or nil at end of file / deadline.
    func readLine() -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            pending += buffer[..<n]
        }
    }

    /// Exactly `count` bytes (for the body of a `reply` line).
    func read(count: Int) -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while pending.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            pending += buffer[..<n]
        }
        defer { pending.removeSubrange(..<count) }
        return String(decoding: pending[..<count], as: UTF8.self)
    }

    /// One reply as the channel protocol frames it: the status line, and for `reply` the body.
    func readReply() -> (status: String, body: String?)? {
        guard let status = readLine() else { return nil }
        let words = status.split(separator: " ")
        guard words.first == "reply", words.count == 3, let length = Int(words[2]) else { return (status, nil) }
        guard let body = read(count: length) else { return nil }
        if length == 0 || body.last != "\n" { _ = read(count: 1) }
        return (status, body)
    }

    static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long for a test: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)) }
        }
    }
}

/// A writer end of a FIFO, opened without blocking: nil while nobody reads it (ENXIO).
func chanOpenFifoWriter(_ path: String) -> Int32? {
    let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
    return fd < 0 ? nil : fd
}

/// Writes all of `text` to a descriptor (blocking writes; a FIFO writer is made blocking first).
func chanWrite(_ fd: Int32, _ text: String) {
    chanWrite(fd, Array(text.utf8))
}

func chanWrite(_ fd: Int32, _ bytes: [UInt8]) {
    let flags = fcntl(fd, F_GETFL)
    if flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        offset += n
    }
}

/// Bytes written to a pipe or stream socket that its reader has not read yet (FIONREAD on a
/// pipe, SIOCOUTQ on a socket): 0 once the daemon took everything.
func chanUnreadBytes(_ fd: Int32, socket: Bool = false) -> Int32 {
    var count: Int32 = 0
    _ = ioctl(fd, socket ? 0x5411 /* SIOCOUTQ = TIOCOUTQ */ : 0x541B /* FIONREAD */, &count)
    return count
}
