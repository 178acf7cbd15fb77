/// The sd_notify protocol, spoken without libsystemd: one datagram per state change to the
/// socket `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace), as systemd's
/// `Type=notify` services do. Without `NOTIFY_SOCKET` there is no notifier at all.
///
/// `READY=1` once the spool is scanned and the channels listen; `RELOADING=1` (with
/// `MONOTONIC_USEC=`, which systemd 253 and later want) and `READY=1` around a reload;
/// `STOPPING=1` when the daemon starts to stop; `STATUS=` with the counters, at most once a
/// second and only after something happened, through a timer that exists only then (an idle
/// daemon sends nothing); `WATCHDOG=1` every half `WATCHDOG_USEC` when the manager asks for it
/// (and `WATCHDOG_PID`, if set, is this process), from the event loop, so a loop that hangs
/// stops pinging and is restarted.
final class ServiceNotifier {
    /// The shortest time between two `STATUS=` updates.
    static let statusInterval: Duration = .seconds(1)

    private let socket: FileDescriptor
    private let address: Bytes
    private let loop: EventLoop
    private let log: DispatchLog
    /// What `STATUS=` says now.
    private let statusText: () -> String
    private var statusTimer: EventLoop.TimerID?
    private var isReady = false
    private var isStopping = false
    /// Reloads under way: a SIGHUP's reload holds the rules' own.
    private var reloadDepth = 0
    /// A failed send has been logged; said once until a send gets through again.
    private var failureLogged = false

    /// The notifier `environment` asks for, or nil when it names no socket.
    init?(environment: [Bytes], loop: EventLoop, log: DispatchLog, statusText: @escaping () -> String) throws {
        guard let address = Self.value("NOTIFY_SOCKET", in: environment), !address.isEmpty else { return nil }
        self.address = address
        socket = try UnixSocket.open(.datagram, nonBlocking: true)
        self.loop = loop
        self.log = log
        self.statusText = statusText
        if let interval = Self.watchdogInterval(environment) { scheduleWatchdog(every: interval) }
    }

    /// Half of `WATCHDOG_USEC`, when it is set and meant for this process.
    static func watchdogInterval(_ environment: [Bytes]) -> Duration? {
        guard let text = value("WATCHDOG_USEC", in: environment), let microseconds = Int64(String(decoding: text, as: UTF8.self)),
              microseconds > 0 else { return nil }
        if let pid = value("WATCHDOG_PID", in: environment), String(decoding: pid, as: UTF8.self) != String(SystemInfo.processID) {
            return nil
        }
        return .microseconds(microseconds / 2)
    }

    private static func value(_ name: String, in environment: [Bytes]) -> Bytes? {
        let prefix = name.bytes + [UInt8(ascii: "=")]
        return environment.last { $0.starts(with: prefix) }.map { Bytes($0.dropFirst(prefix.count)) }
    }

    /// The spool is scanned and every channel listens: sent after the first scan only.
    func ready() {
        guard !isReady else { return }
        isReady = true
        send("READY=1\nSTATUS=\(currentStatus)")
    }

    func beginReload() {
        reloadDepth += 1
        guard reloadDepth == 1 else { return }
        send("RELOADING=1\nMONOTONIC_USEC=\(MonotonicInstant.now().nanoseconds / 1000)")
    }

    func endReload() {
        guard reloadDepth > 0 else { return }
        reloadDepth -= 1
        if reloadDepth == 0 { send("READY=1") }
    }

    func stopping() {
        isStopping = true
        send("STOPPING=1\nSTATUS=\(currentStatus)")
    }

    private var currentStatus: String { (isStopping ? "stopping; " : "") + statusText() }

    /// Something happened: `STATUS=` is sent within a second, with whatever is true by then.
    func statusChanged() {
        guard isReady, statusTimer == nil else { return }
        statusTimer = loop.schedule(after: Self.statusInterval) { [unowned self] in
            self.statusTimer = nil
            self.send("STATUS=\(self.currentStatus)")
        }
    }

    private func scheduleWatchdog(every interval: Duration) {
        loop.schedule(after: interval) { [unowned self] in
            self.send("WATCHDOG=1")
            self.scheduleWatchdog(every: interval)
        }
    }

    private func send(_ message: String) {
        do {
            guard try UnixSocket.send(socket, message.bytes, toAddress: address) != nil else {
                throw SystemError(errno: SystemError.wouldBlock, operation: "sendto", path: address)
            }
            failureLogged = false
        } catch {
            guard !failureLogged else { return }
            failureLogged = true
            log.record("error", [("err", "cannot notify the service manager at NOTIFY_SOCKET: \(error)")])
        }
    }
}
