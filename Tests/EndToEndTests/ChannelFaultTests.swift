import Glibc
import Testing

/// Lines of channels on a full disk: settled through the bus's retry of settling steps, as
/// file messages are.
@Suite struct ChannelFaultTests {
    /// A FIFO line whose handler gives up while the disk is full: its body is logged once, and
    /// the dead letter reaches `failed/` once space returns, without a restart.
    @Test func deadLineIsKeptOnceSpaceReturns() async throws {
        guard requireRoot("a spool on a full tmpfs") else { return }
        try await withFullDiskGate(rules: "mkfifo events\nevents  fifo  retries=0  ./h/gate.sh\n") { sb in
            let daemon = try await sb.startDaemon()
            var writer: Int32?
            try await sb.waitFor("the daemon to read its FIFO") {
                writer = chanOpenFifoWriter(sb.spoolPath("events"))
                return writer != nil
            }
            let fd = try #require(writer)
            defer { close(fd) }
            chanWrite(fd, "doomed\n")
            try await sb.waitForLine("run of the line") { $0.verb == "run" }
            try fillFileSystem(with: sb.spool + "/filler")
            try Files.write(sb.out + "/go", "")
            let error = try await sb.waitForLine("error keeping the dead letter") { $0.verb == "error" && $0["retry"] != nil }
            #expect(error["err"]?.contains("No space left on device") == true, "\(error)")
            #expect(sb.log.lines.contains { $0.verb == "error" && $0["body"] == "doomed" }, "the body is logged once")
            #expect(try await sb.statusFacts()["unsettled"] == "1")

            try Files.remove(sb.spool + "/filler")
            try await sb.waitFor("the dead letter in failed/") {
                Files.list(sb.state("failed")).contains { $0.lossy.hasSuffix(".events") }
            }
            let letter = try #require(Files.list(sb.state("failed")).first { $0.lossy.hasSuffix(".events") })
            #expect(Files.read(Bytes(text: sb.state("failed") + "/") + letter)?.lossy == "doomed")
            #expect(Files.list(sb.state("failed")).contains { $0.lossy.hasSuffix("+line") })
            #expect(sb.claimed.isEmpty, "work/ is empty: \(sb.claimed.map(\.lossy))")
            #expect(try await sb.statusFacts()["unsettled"] == "0")
            try await daemon.stop()
        }
    }
}
