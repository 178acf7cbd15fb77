import Foundation
import Glibc
import Testing

extension Sandbox {
    /// Starts `spoolbus run RULES --spool SPOOL --log LOG --env OUT EXTRA…` through
    /// `/bin/sh -c 'SETUP; exec spoolbus …'`, so the daemon inherits what SETUP arranged (a
    /// lowered `ulimit`, an open descriptor), with `variables` added to its environment; returns
    /// once its start line is logged. The caller stops it (`stop()` reaps it).
    func startDaemonThroughShell(
        _ setup: String, extra: [String] = [], variables: [String: String] = [:], log: DispatchLog? = nil
    ) async throws -> Daemon {
        let log = log ?? self.log
        let before = log.lines("start").count
        let stamp = UInt64(Date().timeIntervalSince1970 * 1000)
        let stderrPath = root + "/shell-daemon-\(stamp).stderr"
        let argv = ["/bin/sh", "-c", setup + "; exec \"$0\" \"$@\"", spoolbusBinary, "run", rulesPath,
                    "--spool", spool, "--log", logPath, "--env", "OUT"] + extra
        let child = try Spawner.spawn(
            argv.map { Bytes(text: $0) }, environment: environment.merging(variables) { $1 }, directory: root,
            stdin: "/dev/null", stdout: root + "/shell-daemon-\(stamp).stdout", stderr: stderrPath,
            label: "sh -c '\(setup); exec spoolbus run …'")
        let daemon = Daemon(child: child, stderrPath: stderrPath, log: log)
        try await EndToEndTests.waitFor("a start line from spoolbus pid \(child.pid)", details: { self.diagnostics() + daemon.stderr }) {
            if let status = child.poll() {
                throw TimedOut(what: "start line: the daemon exited with \(status)", details: self.diagnostics() + daemon.stderr)
            }
            return log.lines("start").count > before
        }
        return daemon
    }

    /// The `out` lines of the run of message `id` on `stream`, as text, in order.
    func outputLines(of id: String, stream: String = "stdout") -> [String] {
        log.lines("out", id: id).filter { $0["stream"] == stream }.compactMap { $0["line"] }
    }
}

