/// Settling steps of messages, files and lines alike (keeping a dead letter in `failed/`,
/// archiving or removing a finished message) that a temporary shortage stopped, ENOSPC above all. They are kept and tried
/// again, oldest first, with backoff, so a dead letter reaches `failed/` once space returns
/// instead of waiting in `work/` for a restart. Each one is logged once when it first fails.
final class SettleRetry {
    private struct Step {
        let id: Bytes
        let name: Bytes
        let work: () throws -> Void
    }

    private let loop: EventLoop
    private let log: DispatchLog
    private var waiting: [Step] = []
    private var timer: EventLoop.TimerID?
    private var backoff = RetryBackoff()

    init(loop: EventLoop, log: DispatchLog) {
        self.loop = loop
        self.log = log
    }

    /// Steps waiting to be tried again (`status`).
    var count: Int { waiting.count }

    /// Runs `work` now; a shortage keeps it to be tried again, any other failure is logged.
    func perform(id: Bytes, name: Bytes, _ work: @escaping () throws -> Void) {
        let step = Step(id: id, name: name, work: work)
        do {
            try work()
        } catch let error as SystemError where error.isTemporaryShortage {
            waiting.append(step)
            log.record("error", name: name, [
                ("id", id), ("name", name), ("err", "\(error)"), ("retry", "with backoff until it succeeds"),
            ])
            armTimer()
        } catch {
            log.record("error", name: name, [("id", id), ("name", name), ("err", "\(error)")])
        }
    }

    private func armTimer() {
        guard timer == nil else { return }
        timer = loop.schedule(after: backoff.next()) { [unowned self] in
            self.timer = nil
            self.retry()
        }
    }

    private func retry() {
        while let step = waiting.first {
            do {
                try step.work()
            } catch let error as SystemError where error.isTemporaryShortage {
                // Still short: the steps behind would fail the same way.
                armTimer()
                return
            } catch {
                log.record("error", name: step.name, [("id", step.id), ("name", step.name), ("err", "\(error)")])
            }
            waiting.removeFirst()
        }
        backoff.reset()
    }
}
