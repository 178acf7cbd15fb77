import Foundation
import Glibc
import Testing

// MQTT tests run real Mosquitto brokers: each test starts its own `mosquitto -c CONF` on a free
// loopback port, with persistence in the sandbox, and stops it by pid (never the system
// service). Tear-down kills it with the sandbox's other processes (its environment names the
// sandbox's OUT folder).

/// The `mosquitto` executable, wherever the package put it.
let mosquittoBinary: String? = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"]
    .first { access($0, X_OK) == 0 }

/// A socket of `type` bound to `address`:`port` (0: the kernel's pick), with its port.
func boundLoopbackSocket(_ type: Int32, address: String = "127.0.0.1", port: UInt16 = 0) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, type, 0)
    guard fd >= 0 else { throw SystemCallFailed("socket") }
    var socketAddress = sockaddr_in()
    socketAddress.sin_family = sa_family_t(AF_INET)
    socketAddress.sin_addr.s_addr = inet_addr(address)
    socketAddress.sin_port = port.bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &socketAddress) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Int32 in
            guard bind(fd, raw, length) == 0 else { return -1 }
            return getsockname(fd, raw, &length)
        }
    }
    guard bound == 0 else {
        close(fd)
        throw SystemCallFailed("bind \(address):\(port)")
    }
    return (fd, Int(UInt16(bigEndian: socketAddress.sin_port)))
}

/// A loopback TCP port nobody listens on right now (the kernel's pick; free again once closed).
func freeLoopbackPort() throws -> Int {
    let (fd, port) = try boundLoopbackSocket(Int32(SOCK_STREAM.rawValue))
    close(fd)
    return port
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func acceptsConnections(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// One Mosquitto broker of a test, started and restarted on the same port and persistence.
final class Mosquitto {
    let port: Int
    let configPath: String
    let folder: String
    private let sandbox: Sandbox
    private var child: Child?
    private var starts = 0

    /// The queue Mosquitto keeps per offline client: its default of 1,000 would drop messages
    /// of the larger tests while a receiver is away.
    static let maxQueuedMessages = 100_000

    /// Writes `ROOT/NAME/mosquitto.conf` (listener, persistence, queue limit, then `extra`).
    init(in sandbox: Sandbox, name: String = "broker", extra: String = "") throws {
        self.sandbox = sandbox
        port = try freeLoopbackPort()
        folder = sandbox.root + "/" + name
        try Files.makeDirectories(folder + "/persistence")
        configPath = folder + "/mosquitto.conf"
        var config = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(folder)/persistence/
            max_queued_messages \(Self.maxQueuedMessages)
            log_dest stderr
            log_type all

            """
        // As root, Mosquitto would switch to its own user, which cannot write in the sandbox.
        if geteuid() == 0 { config += "user root\n" }
        try Files.write(configPath, config + extra)
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }
    var pid: pid_t? { child?.pid }
    var stderr: String { Files.readText(folder + "/mosquitto-\(starts).stderr") ?? "" }

    /// Starts the broker and waits until it accepts connections.
    func start() async throws {
        guard let mosquittoBinary else { throw SystemCallFailed("mosquitto is not installed (apt-get install mosquitto)") }
        starts += 1
        let started = try Spawner.spawn(
            [Bytes(text: mosquittoBinary), Bytes(text: "-c"), Bytes(text: configPath)], environment: sandbox.environment,
            directory: folder, stdin: "/dev/null", stdout: folder + "/mosquitto-\(starts).stdout",
            stderr: folder + "/mosquitto-\(starts).stderr", label: "mosquitto #\(starts)")
        child = started
        try await waitFor("mosquitto on port \(port)", details: { self.stderr }) {
            if let status = started.poll() { throw TimedOut(what: "mosquitto exited with \(status)", details: self.stderr) }
            return acceptsConnections(port: self.port)
        }
    }

    /// SIGTERM (Mosquitto saves its persistence file) and waits for it to end.
    func stop() async throws {
        guard let child else { return }
        child.signal(SIGTERM)
        try await waitFor("mosquitto pid \(child.pid) to stop") { !child.isRunning }
        self.child = nil
    }

    /// SIGKILL: what Mosquitto had not saved yet is gone.
    func kill9() async throws {
        guard let child else { return }
        child.signal(SIGKILL)
        try await waitFor("mosquitto pid \(child.pid) to die") { !child.isRunning }
        self.child = nil
    }
}

/// A second spool in the same sandbox, with its own rules, log and daemon: another "host".
struct PeerSpool {
    let root: String
    let rulesPath: String
    let spool: String
    let log: DispatchLog

    init(in sandbox: Sandbox, name: String, rules: String) throws {
        root = sandbox.root + "/" + name
        rulesPath = root + "/spoolbus.rules"
        spool = root + "/spool"
        log = DispatchLog(path: root + "/dispatch.log")
        try Files.makeDirectories(spool)
        try Files.write(rulesPath, rules)
    }

    @discardableResult
    func start(in sandbox: Sandbox) async throws -> Daemon {
        try await sandbox.startDaemon(arguments: ["run", rulesPath, "--spool", spool, "--log", log.path], log: log)
    }

    func drop(_ name: String, _ body: String) throws {
        let path = spool + "/" + name
        try Files.makeDirectories((path as NSString).deletingLastPathComponent)
        try Files.write(path, body)
    }
}

extension DispatchLog {
    /// `connect` lines of broker `name`.
    func connects(_ broker: String) -> [LogLine] { lines("connect").filter { $0["broker"] == broker } }
}

/// Runs `mosquitto_pub ARGS…` to completion.
func mosquittoPublish(_ sandbox: Sandbox, _ arguments: [String]) async throws -> CommandResult {
    let base = sandbox.root + "/mosquitto_pub-\(UInt32.random(in: 0...UInt32.max))"
    let child = try Spawner.spawn(
        [Bytes(text: "/usr/bin/mosquitto_pub")] + arguments.map { Bytes(text: $0) }, environment: sandbox.environment,
        directory: sandbox.root, stdin: "/dev/null", stdout: base + ".stdout", stderr: base + ".stderr", label: "mosquitto_pub")
    try await waitFor("mosquitto_pub to finish") { !child.isRunning }
    return CommandResult(status: child.poll()!, stdout: Files.read(base + ".stdout") ?? [], stderr: Files.read(base + ".stderr") ?? [])
}
