import Glibc

/// How a child process ended.
enum ExitStatus: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// Someone else reaped it; only its disappearance is known.
    case unknown

    init(waitStatus: Int32) {
        let low = waitStatus & 0x7f
        self = low == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(low)
    }

    var description: String {
        switch self {
        case .exited(let code): return "exit \(code)"
        case .signaled(let signal): return "signal \(signal)"
        case .unknown: return "unknown"
        }
    }
}

/// A process the tests started, reaped by polling `waitpid(WNOHANG)` so waiting never blocks a
/// thread of the cooperative pool.
final class Child {
    let pid: pid_t
    let label: String
    private(set) var status: ExitStatus?

    init(pid: pid_t, label: String) {
        self.pid = pid
        self.label = label
    }

    /// The exit status if the process has ended, reaping it; nil while it runs.
    func poll() -> ExitStatus? {
        if let status { return status }
        var raw: Int32 = 0
        let rc = waitpid(pid, &raw, WNOHANG)
        if rc == pid {
            status = ExitStatus(waitStatus: raw)
        } else if rc < 0 && errno == ECHILD {
            status = .unknown
        }
        return status
    }

    var isRunning: Bool { poll() == nil }

    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// SIGKILL and a blocking reap; for tear-down only.
    func killAndReap() {
        guard isRunning else { return }
        kill(pid, SIGKILL)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        status = ExitStatus(waitStatus: raw)
    }
}

/// posix_spawn with the two glibc extensions Glibc's Swift module hides (they need _GNU_SOURCE).
enum Spawner {
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static let addChdir: AddChdir? =
        dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    private static let addClosefrom: AddClosefrom? =
        dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddClosefrom.self) }

    /// Starts `argv[0]` (an absolute path) in `directory` with exactly `environment`, stdin from
    /// the file `stdin`, stdout and stderr into the files `stdout` and `stderr`, in a process group
    /// of its own, with default signal dispositions and no descriptor of ours but 0, 1, 2.
    static func spawn(
        _ argv: [Bytes], environment: [String: String], directory: String,
        stdin: String, stdout: String, stderr: String, label: String
    ) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let addClosefrom { _ = addClosefrom(&actions, 3) }
        guard let addChdir else { throw SystemCallFailed("posix_spawn_file_actions_addchdir_np", code: ENOSYS) }
        _ = addChdir(&actions, directory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let cArguments = argv.map(duplicate) + [nil]
        let cEnvironment = environment.sorted { $0.key < $1.key }.map { duplicate(Bytes(text: "\($0.key)=\($0.value)")) } + [nil]
        defer {
            cArguments.forEach { free($0) }
            cEnvironment.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, cArguments[0]!, &actions, &attributes, cArguments, cEnvironment)
        guard rc == 0 else { throw SystemCallFailed("posix_spawn", argv[0], code: rc) }
        return Child(pid: pid, label: label)
    }

    private static func duplicate(_ bytes: Bytes) -> UnsafeMutablePointer<CChar>? {
        let copy = malloc(bytes.count + 1)!.assumingMemoryBound(to: CChar.self)
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress { UnsafeMutableRawPointer(copy).copyMemory(from: base, byteCount: bytes.count) }
        }
        copy[bytes.count] = 0
        return copy
    }

    /// Runs a short helper (`rm -rf`) to completion, blocking; for tear-down only.
    static func runToCompletion(_ argv: [String]) {
        guard let child = try? spawn(
            argv.map { Bytes(text: $0) }, environment: ["PATH": "/usr/bin:/bin"], directory: "/",
            stdin: "/dev/null", stdout: "/dev/null", stderr: "/dev/null", label: argv[0]
        ) else { return }
        var raw: Int32 = 0
        while waitpid(child.pid, &raw, 0) < 0 && errno == EINTR {}
    }
}

/// Processes still alive that belong to one sandbox: their working folder is inside it or their
/// environment names its OUT folder. Handlers a killed daemon left behind are found this way.
enum Leftovers {
    static func processes(of root: String) -> [pid_t] {
        let marker = Bytes(text: "OUT=\(root)/out")
        let me = getpid()
        var found: [pid_t] = []
        for entry in Files.list("/proc") {
            guard let pid = pid_t(entry.lossy), pid != me else { continue }
            if let cwd = Files.readLink("/proc/\(pid)/cwd"), cwd == root || cwd.hasPrefix(root + "/") {
                found.append(pid)
            } else if let environment = Files.read("/proc/\(pid)/environ"),
                      environment.pieces(separatedBy: 0).contains(marker) {
                found.append(pid)
            }
        }
        return found
    }

    /// Whether `pid` is gone or only a zombie (a container's init may never reap orphans).
    static func isGone(_ pid: pid_t) -> Bool {
        guard let stat = Files.readText("/proc/\(pid)/stat") else { return true }
        guard let close = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: close)...].trimmingPrefixSpaces.first
        return state == "Z" || state == "X"
    }
}

private extension Substring {
    var trimmingPrefixSpaces: Substring { drop(while: { $0 == " " }) }
}
