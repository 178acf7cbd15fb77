import Glibc
import Testing
@testable import SpoolBus

/// A started child is watched by its pidfd, or, without one, by polling: either way its end is
/// seen with its status.
@Suite struct ChildProcessTests {
    @Test func aChildIsFoundEndedByPollingWithItsStatus() async throws {
        let child = try ChildProcess.spawn(
            program: "/bin/sh".bytes, arguments: ["sh", "-c", "exit 3"].map(\.bytes), environment: [],
            directory: nil, stdin: nil, stdout: nil, stderr: nil, credentials: nil)
        #expect(child.startTicks != nil)
        var termination: Termination?
        // A generous deadline: on a busy machine a shell can take seconds to start and end.
        let deadline = ContinuousClock.now + .seconds(60)
        while termination == nil {
            termination = child.exitStatusIfEnded()
            if termination == nil {
                if ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(termination == .exited(3))
        #expect(child.exitDescriptor?.isOpen != true, "the pidfd is closed with the reap")
    }

    @Test func resourceShortagesAreToldFromOtherFailures() {
        // One list for starting handlers, settling messages and accepting clients.
        for code in [EMFILE, ENFILE, EAGAIN, ENOMEM, ENOBUFS, ENOSPC, EDQUOT] {
            let error = SystemError(errno: code, operation: "x")
            #expect(error.exhaustedResource != nil && error.isTemporaryShortage, "errno \(code)")
        }
        for code in [ENOENT, EACCES, ENOEXEC, EINVAL, EPIPE] {
            let error = SystemError(errno: code, operation: "x")
            #expect(error.exhaustedResource == nil && !error.isTemporaryShortage, "errno \(code)")
        }
    }
}
