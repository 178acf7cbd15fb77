import Foundation
import Glibc
import Testing

/// Whose FIFOs the daemon reads: its own (`mkfifo`) always, with the directive's mode; those
/// others made up to a bound, the rest waiting for room.
@Suite struct FifoOwnershipTests {
    /// Under `ulimit -n 512` the bound is 64: of 70 FIFOs made by others, 64 are read and the
    /// rest wait, said once; as FIFOs are removed, those waiting are read.
    @Test func fifosPastTheBoundWaitAndAreReadWhenRoomComes() async throws {
        try await withSandbox { sb in
            try sb.writeRules("fifos/*  fifo  ./h/record.sh\n")
            let daemon = try await sb.startDaemonThroughShell("ulimit -n 512")
            do {
                try Files.makeDirectories(sb.spoolPath("fifos"))
                for i in 0..<70 { #expect(mkfifo(sb.spoolPath("fifos/f\(i)"), 0o622) == 0) }
                _ = try await sb.waitForStatus("64 FIFOs read") { $0["fifos"] == "64" }
                let refusals = try await sb.waitForLine("the bound reached") {
                    $0.verb == "error" && ($0["err"] ?? "").hasPrefix("too many FIFOs not made by mkfifo (64)")
                }
                for i in 0..<10 { #expect(unlink(sb.spoolPath("fifos/f\(i)")) == 0) }
                _ = try await sb.waitForStatus("the 60 left read") { $0["fifos"] == "60" }
                for i in 10..<70 {
                    let fd = open(sb.spoolPath("fifos/f\(i)"), O_WRONLY | O_NONBLOCK)
                    #expect(fd >= 0, "fifos/f\(i) has no reader: errno \(errno)")
                    if fd >= 0 { close(fd) }
                }
                #expect(sb.log.lines("error").filter { ($0["err"] ?? "").hasPrefix("too many FIFOs") }.count == 1,
                        "one error per episode, first: \(refusals)")
            } catch {
                try await daemon.stop()
                throw error
            }
            try await daemon.stop()
        }
    }

    /// A FIFO of the daemon's own user at a `mkfifo` name is read, given exactly the
    /// directive's mode (a leftover, or a mode changed in the rules).
    @Test func ownFifoAtTheMkfifoNameGetsTheDirectivesMode() async throws {
        try await withSandbox { sb in
            try sb.writeRules("mkfifo  events mode=0620\nevents  fifo  ./h/record.sh\n")
            #expect(mkfifo(sb.spoolPath("events"), 0o600) == 0)
            #expect(chmod(sb.spoolPath("events"), 0o666) == 0)
            try await sb.startDaemon()
            try await sb.waitFor("the directive's mode") {
                var st = stat()
                return lstat(sb.spoolPath("events"), &st) == 0 && st.st_mode & 0o7777 == 0o620
            }
            let sent = try await sb.spoolbus(["send", "events", "hello", "--spool", sb.spool])
            #expect(sent.status == .exited(0), "\(sent)")
            let run = try await sb.waitForRun()
            #expect(run.variable("SPOOL_MESSAGE") == "hello")
            #expect(!sb.log.lines("error").contains { $0["name"] == "events" })
        }
    }
}
