import Foundation
import Glibc
import Testing

// Support for the channel tests of the trust work: restarting a sandbox's daemon, signals,
// modes, and the dead letters a line leaves in `.spoolbus/failed/`.

extension ChanSandbox {
    var pid: pid_t { daemon?.processIdentifier ?? 0 }

    /// Sends `signal` to the daemon.
    func signal(_ number: Int32) { kill(pid, number) }

    /// Starts the daemon again (on new rules), once the previous one is gone; returns once the
    /// new one logged its own `start`.
    func restart(_ rules: String, arguments: [String] = []) async throws {
        let starts = logCount("start")
        try await start(rules, arguments: arguments)
        try await chanWait("the daemon to start again", timeout: .seconds(30), details: report()) {
            guard daemonIsRunning else { throw ChanTimeout(description: "the daemon exited\n" + report()) }
            return logCount("start") > starts
        }
    }

    /// Waits for the daemon to exit and returns its exit status.
    func waitForExit() async throws -> Int32 {
        let process = try #require(daemon)
        try await chanWait("the daemon to exit", timeout: .seconds(60), details: report()) { !process.isRunning }
        return process.terminationStatus
    }

    /// The content of a file named relative to the spool (`kept=` of a `dead` or `putback` line).
    func spoolFile(_ name: String) -> String? {
        FileManager.default.contents(atPath: spool + "/" + name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The content of a file named relative to the sandbox's root (where handlers run).
    func rootFile(_ name: String) -> String? {
        FileManager.default.contents(atPath: root + "/" + name).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether `.spoolbus/SUB/` holds no file at all (no entry, no sidecar).
    func stateFolderIsEmpty(_ sub: String) -> Bool {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool + "/.spoolbus/" + sub)) ?? []).isEmpty
    }

    /// The content of every file in `.spoolbus/failed/` (dead letters and what is kept beside them).
    func failedFiles() -> [String] {
        let folder = spool + "/.spoolbus/failed/"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap {
            FileManager.default.contents(atPath: folder + $0).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The number a handler wrote into ROOT/FILE, once it is there.
    func waitForPid(in file: String) async throws -> pid_t {
        var pid: pid_t?
        try await chanWait("\(file) to be written", details: report()) {
            pid = FileManager.default.contents(atPath: root + "/" + file)
                .flatMap { pid_t(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
            return pid != nil
        }
        return pid!
    }
}

/// The permission bits of `path` itself (lstat: a symlink is not followed).
func chanMode(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
}

/// The file type bits of `path` itself.
func chanType(_ path: String) -> mode_t? {
    var info = stat()
    return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : nil
}
