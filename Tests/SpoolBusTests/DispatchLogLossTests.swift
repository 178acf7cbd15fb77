import Testing
@testable import SpoolBus

/// The dispatch log's write path on a device that is always full (`/dev/full` fails every write
/// with ENOSPC): lines are counted as lost, batch by batch, never silently dropped. Getting the
/// lost lines reported once writes succeed again is `FaultTests` (a real tmpfs, filled and freed).
@Suite struct DispatchLogLossTests {
    @Test func everyLineOfAFailedWriteIsCounted() throws {
        let log = try DispatchLog(path: "/dev/full".bytes)
        #expect(log.lostLines == 0)
        log.record("recv", [("id", "1"), ("name", "a")])
        log.record("ok", [("id", "1")])
        log.record("recv", [("id", "2"), ("name", "b c")])
        log.flush()
        #expect(log.lostLines == 3)
        log.flush()
        #expect(log.lostLines == 3, "an empty batch loses nothing")
        // The next batch carries the loss report first; it is not counted among the lost lines.
        log.record("ok", [("id", "2")])
        log.flush()
        #expect(log.lostLines == 4)
    }
}
