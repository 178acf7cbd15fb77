import CSpoolBusLinux
import Glibc

/// How a child process ended.
public enum Termination: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let status): return "exited with status \(status)"
        case .signaled(let signal): return "killed by signal \(signal) (\(signalName(signal)))"
        }
    }
}

/// The conventional name of a signal, e.g. SIGKILL.
func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
        SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM",
        SIGTERM: "SIGTERM", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2", SIGBUS: "SIGBUS", SIGXCPU: "SIGXCPU",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// A user to run a child as, resolved before spawning (no name lookups after fork).
struct Credentials {
    var user: String
    var home: Bytes
    var uid: UInt32
    var gid: UInt32
    var groups: [UInt32]

    /// Looks up `user` (and `group`, else the user's primary group) in the passwd and group databases.
    static func lookUp(user: String, group: String?) -> Credentials? {
        guard let entry = getpwnam(user) else { return nil }
        let uid = entry.pointee.pw_uid
        var gid = entry.pointee.pw_gid
        let home = entry.pointee.pw_dir.map { Bytes(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? [UInt8(ascii: "/")]
        if let group {
            guard let groupEntry = getgrnam(group) else { return nil }
            gid = groupEntry.pointee.gr_gid
        }
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, gid, &groups, &count) < 0 {
            groups = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, gid, &groups, &count)
        }
        return Credentials(user: user, home: home, uid: uid, gid: gid, groups: Array(groups.prefix(Int(max(count, 0)))))
    }

    /// The name and home of the user this process runs as, from the passwd database; from
    /// `environment`'s USER (or LOGNAME) and HOME when the user has no entry there.
    static func current(environment: [Bytes]) -> (user: Bytes, home: Bytes)? {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            let user = Bytes(UnsafeRawBufferPointer(start: name, count: strlen(name)))
            let home = entry.pointee.pw_dir.map { Bytes(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? [UInt8(ascii: "/")]
            return (user, home)
        }
        func value(_ name: String) -> Bytes? {
            environment.first { $0.starts(with: name.bytes + [UInt8(ascii: "=")]) }.map { Bytes($0.dropFirst(name.utf8.count + 1)) }
        }
        guard let user = value("USER") ?? value("LOGNAME"), let home = value("HOME") else { return nil }
        return (user, home)
    }
}

/// A started child: its pid and, when one could be had, a pidfd that becomes readable when it
/// exits.
struct ChildProcess {
    let pid: Int32
    /// nil when a child forked for `user=` got none from pidfd_open (descriptors ran out
    /// meanwhile): it is running all the same, and its end is found with `exitStatusIfEnded()`.
    let exitDescriptor: FileDescriptor?
    /// When the child started, in clock ticks since boot (/proc): with the pid, what tells it
    /// from a later process given the same number. nil if /proc could not say.
    let startTicks: UInt64?

    /// Starts `program` in a session of its own, with `environment` as its whole environment,
    /// the given descriptors as stdin/stdout/stderr (nil: /dev/null) and no others.
    /// `outputsNonBlocking`: stdout and stderr are pipes whose ends are all non-blocking (the
    /// daemon's ends must be); the child clears that on its own, before its exec.
    ///
    /// Throws only when no child was started. Once one is, this returns it, whatever fails after.
    static func spawn(
        program: Bytes, arguments: [Bytes], environment: [Bytes], directory: Bytes?,
        stdin: FileDescriptor?, stdout: FileDescriptor?, stderr: FileDescriptor?,
        credentials: Credentials?, outputsNonBlocking: Bool = false
    ) throws -> ChildProcess {
        // A child forked to drop privileges has its pidfd opened after the spawn: spares held
        // across it, given up just before pidfd_open and the read of the child's start time,
        // let these find free numbers even when the spawn's own descriptors took the last ones.
        // Other children come with their pidfd.
        var spares: [FileDescriptor] = []
        if credentials != nil {
            do {
                for _ in 0..<2 { spares.append(try FileDescriptor.open("/dev/null".bytes, .readOnly)) }
            } catch {
                for spare in spares { spare.close() }
                throw error
            }
        }
        var pid: pid_t = 0
        var pidfd: Int32 = -1
        let before = ProcessTable.ticksSinceBoot()
        let status: Int32 = withCStringArray(arguments) { argv in
            withCStringArray(environment) { envp in
                program.withCPath { path in
                    withOptionalCPath(directory) { cwd in
                        (credentials?.groups ?? []).withUnsafeBufferPointer { groups in
                            var request = csb_spawn_request()
                            request.path = path
                            request.argv = argv
                            request.envp = envp
                            request.cwd = cwd
                            request.stdin_fd = stdin?.rawValue ?? -1
                            request.stdout_fd = stdout?.rawValue ?? -1
                            request.stderr_fd = stderr?.rawValue ?? -1
                            request.drop_privileges = credentials == nil ? 0 : 1
                            request.uid = credentials?.uid ?? 0
                            request.gid = credentials?.gid ?? 0
                            request.groups = groups.baseAddress
                            request.ngroups = Int32(groups.count)
                            request.unblock_outputs = outputsNonBlocking ? 1 : 0
                            return csb_spawn(&request, &pid, &pidfd)
                        }
                    }
                }
            }
        }
        let after = ProcessTable.ticksSinceBoot()
        for spare in spares { spare.close() }
        if status != 0 { throw SystemError(errno: status, operation: "spawn", path: program) }
        if pidfd < 0 { pidfd = csb_pidfd_open(pid) }
        // The kernel stamps the child's start between the two readings of the same clock /proc
        // counts on: when both fall in one tick, that tick is the start, with no /proc read.
        let startTicks = before == after ? before : ProcessTable.facts(of: pid)?.startTicks
        return ChildProcess(pid: pid, exitDescriptor: pidfd < 0 ? nil : FileDescriptor(rawValue: pidfd), startTicks: startTicks)
    }

    /// Collects the exit status once `exitDescriptor` is readable, and closes the pidfd.
    func reap() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exitDescriptor?.close()
        return Self.termination(status)
    }

    /// Collects the exit status if the child has ended (closing the pidfd then); nil while it runs.
    func exitStatusIfEnded() -> Termination? {
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, WNOHANG) } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        exitDescriptor?.close()
        return Self.termination(status)
    }

    private static func termination(_ status: Int32) -> Termination {
        if csb_signaled(status) != 0 { return .signaled(csb_term_signal(status)) }
        return .exited(csb_exit_status(status))
    }

    /// Sends `signal` to the child's whole process group (it leads its own session).
    func signalGroup(_ signal: Int32) {
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }
}

private func withOptionalCPath<R>(_ path: Bytes?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let path else { return body(nil) }
    return path.withCPath { body($0) }
}

/// Builds a NULL-terminated `char *[]` of NUL-terminated copies for the duration of `body`.
private func withCStringArray<R>(_ strings: [Bytes], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let total = strings.reduce(0) { $0 + $1.count + 1 }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(total, 1)) { storage in
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<CChar>?.self, capacity: strings.count + 1) { pointers in
            var offset = 0
            for (index, string) in strings.enumerated() {
                let start = storage.baseAddress! + offset
                string.withUnsafeBufferPointer { bytes in
                    bytes.withMemoryRebound(to: CChar.self) { chars in
                        start.update(from: chars.baseAddress!, count: chars.count)
                    }
                }
                start[string.count] = 0
                pointers[index] = start
                offset += string.count + 1
            }
            pointers[strings.count] = nil
            return body(UnsafePointer(pointers.baseAddress!))
        }
    }
}
