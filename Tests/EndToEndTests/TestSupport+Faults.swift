import Foundation
import Glibc
import Testing

// Helpers for the fault tests: a small tmpfs to fill, a daemon in a user namespace of its own
// (whose inotify watch limit a test may lower without touching anyone else's), `status` facts.

/// A tmpfs of `kilobytes` mounted on a new folder `path` for the length of `body`, unmounted
/// after it whatever happens (lazily, so a daemon still holding a descriptor does not stop it).
func withTmpfs<T>(at path: String, kilobytes: Int, _ body: () async throws -> T) async throws -> T {
    try Files.makeDirectories(path)
    guard mount("tmpfs", path, "tmpfs", 0, "size=\(kilobytes)k,mode=0755") == 0 else {
        throw SystemCallFailed("mount tmpfs", Bytes(text: path))
    }
    do {
        let result = try await body()
        umount2(path, Int32(MNT_DETACH))
        return result
    } catch {
        umount2(path, Int32(MNT_DETACH))
        throw error
    }
}

/// Writes zeros into `path` until the file system is full; returns how many bytes went in.
@discardableResult
func fillFileSystem(with path: String) throws -> Int {
    let fd = try Files.openForWriting(Bytes(text: path))
    defer { close(fd) }
    let block = [UInt8](repeating: 0, count: 4096)
    var total = 0
    while true {
        let written = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written > 0 {
            total += written
            continue
        }
        if written < 0 && errno == EINTR { continue }
        guard written < 0 && errno == ENOSPC else { throw SystemCallFailed("write", Bytes(text: path)) }
        return total
    }
}

extension Sandbox {
    /// `spoolbus status --raw` of the daemon serving the sandbox's spool, as key → value.
    func statusFacts(spool: String? = nil) async throws -> [String: String] {
        let result = try await spoolbus(["status", "--raw", "--spool", spool ?? self.spool])
        guard result.status == .exited(0) else { throw TimedOut(what: "status", details: "\(result)") }
        var facts: [String: String] = [:]
        for line in result.out.nonEmptyLines {
            guard let equals = line.firstIndex(of: "=") else { continue }
            facts[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return facts
    }

    /// Waits for a line of `log` (another log than the sandbox's own) satisfying `matching`.
    @discardableResult
    func waitForLine(in log: DispatchLog, _ what: String, matching: @escaping (LogLine) -> Bool) async throws -> LogLine {
        var found: LogLine?
        try await waitFor("line of \(log.path): \(what)") {
            found = log.lines.first(where: matching)
            return found != nil
        }
        return found!
    }

    /// Asks `status` until its facts satisfy `condition`; returns them.
    func waitForStatus(_ what: String, timeout: Duration = .seconds(60), _ condition: ([String: String]) -> Bool) async throws -> [String: String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let facts = try await statusFacts()
            if condition(facts) { return facts }
            if ContinuousClock.now >= deadline { throw TimedOut(what: "status: \(what)", details: "\(facts)\n" + diagnostics()) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Runs `argv` (an absolute program and its arguments) to completion with the sandbox's
    /// environment plus `extra`, in ROOT; stdout and stderr are captured.
    func runProgram(_ argv: [String], extra: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let base = root + "/program-\(UUID().uuidString)"
        let child = try Spawner.spawn(
            argv.map { Bytes(text: $0) }, environment: environment.merging(extra) { $1 }, directory: root,
            stdin: "/dev/null", stdout: base + ".stdout", stderr: base + ".stderr", label: argv.joined(separator: " "))
        try await waitFor("`\(child.label)` to finish", timeout: timeout) { !child.isRunning }
        return CommandResult(status: child.poll()!, stdout: Files.read(base + ".stdout") ?? [], stderr: Files.read(base + ".stderr") ?? [])
    }
}

/// A `spoolbus run` started through `unshare --user --map-root-user`: root in a user namespace
/// of its own, so `user.max_inotify_watches` of that namespace bounds its watches alone.
final class NamespacedDaemon {
    let child: Child
    let sandbox: Sandbox

    /// Starts the daemon on the sandbox's rules, spool and log, and waits for its `start` line.
    init(in sandbox: Sandbox) async throws {
        self.sandbox = sandbox
        let before = sandbox.log.lines("start").count
        let base = sandbox.root + "/namespaced-daemon"
        child = try Spawner.spawn(
            ["/usr/bin/unshare", "--user", "--map-root-user", "--", spoolbusBinary, "run", sandbox.rulesPath,
             "--spool", sandbox.spool, "--log", sandbox.logPath, "--env", "OUT"].map { Bytes(text: $0) },
            environment: sandbox.environment, directory: sandbox.root,
            stdin: "/dev/null", stdout: base + ".stdout", stderr: base + ".stderr", label: "unshare spoolbus run")
        try await sandbox.waitFor("a start line from the namespaced daemon") {
            if let status = child.poll() {
                throw TimedOut(what: "start line: the namespaced daemon exited with \(status)",
                               details: (Files.readText(base + ".stderr") ?? "") + sandbox.diagnostics())
            }
            return sandbox.log.lines("start").count > before
        }
    }

    /// Sets the namespace's inotify watch limit (entering it with nsenter).
    func setWatchLimit(_ limit: Int) async throws {
        let result = try await sandbox.runProgram([
            "/usr/bin/nsenter", "--user", "--target", "\(child.pid)", "--",
            "/bin/sh", "-c", "echo \(limit) > /proc/sys/user/max_inotify_watches",
        ])
        guard result.status == .exited(0) else { throw TimedOut(what: "setting the watch limit", details: "\(result)") }
    }

    func kill() { child.killAndReap() }
}
