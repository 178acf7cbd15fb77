import Foundation
import Glibc
import Testing

/// The unprivileged user attacker tests act as.
enum Attacker {
    static let user = "nobody"

    /// Records an issue, and returns false, unless the tests run as root and `nobody` exists:
    /// an attacker test must fail where it cannot run, never pass silently.
    static func available() -> Bool {
        guard getuid() == 0 else {
            Issue.record("this test plays an unprivileged attacker against a root daemon: run it as root")
            return false
        }
        guard getpwnam(user) != nil else {
            Issue.record("this test needs the user '\(user)'")
            return false
        }
        return true
    }

    static var uid: uid_t { getpwnam(user)!.pointee.pw_uid }

    /// Runs `argv` as `nobody` (no groups) and returns its exit status and stderr.
    @discardableResult
    static func run(_ argv: [String], stdin: String? = nil) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(user)", "--regid=\(gid)", "--clear-groups", "--"] + argv
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: message, as: UTF8.self))
    }

    /// `argv` as a command line that runs it as `nobody` (no groups): for an attacker that must
    /// run beside the test (`Sandbox.runProgram` in an `async let`), not to completion first.
    static func command(_ argv: [String]) -> [String] {
        ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(gid)", "--clear-groups", "--"] + argv
    }

    private static var gid: String {
        getgrnam("nogroup") != nil ? "nogroup" : String(getpwnam(user)!.pointee.pw_gid)
    }
}

extension Sandbox {
    /// Opens the sandbox to other users: its root traversable, the spool writable by anyone
    /// (sticky, like /tmp), as a shared spool is.
    func shareSpoolWithOthers() throws {
        try Files.chmod(root, 0o755)
        try Files.chmod(handlers, 0o755)
        try Files.chmod(spool, 0o1777)
    }
}

/// The permission bits of `path` (lstat), nil when nothing is there.
func permissions(_ path: String) -> mode_t? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return st.st_mode & 0o7777
}

/// The file type bits of `path` (lstat: S_IFIFO, S_IFSOCK, …), nil when nothing is there.
func fileType(_ path: String) -> mode_t? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return st.st_mode & S_IFMT
}
