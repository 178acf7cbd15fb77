import Glibc
import Synchronization

/// A crash on purpose, for tests: with `SPOOLBUS_FAULT=STEP:N` in its environment the daemon
/// ends at once the Nth time it reaches STEP, as `kill -9` would end it: no log flushed, nothing
/// cleaned up, handlers left running. The fault-injection tests crash it at each step of a
/// message's life this way and check that a restart loses nothing and leaves nothing stale.
///
/// Without the variable, each step costs one check of a constant.
enum FaultInjection {
    /// A step of a message's life where the daemon can be made to crash.
    enum Step: String, CaseIterable, Sendable {
        /// A file message is about to be renamed from the spool into `work/`.
        case claim
        /// A finished message is about to be removed from `work/` or renamed into `done/`.
        case rename
        /// Dispatch-log lines are about to be written.
        case log
        /// A handler has just been started (a program spawned, a Swift handler called).
        case start
        /// A dead letter's reason is written, and its message is about to be renamed into `failed/`.
        case bury
        /// Messages received from a broker are written and synced; their PUBACKs are about to be queued.
        case acknowledge
    }

    /// The exit status of a daemon ended by an injected fault.
    static let exitStatus: Int32 = 86

    /// Ends the process here if `SPOOLBUS_FAULT` names `step` and this is its Nth occurrence.
    static func reach(_ step: Step) {
        guard let plan, plan.step == step else { return }
        let count = occurrences.withLock { count in
            count += 1
            return count
        }
        guard count == plan.occurrence else { return }
        SystemInfo.printError("spoolbus: fault injected at \(step.rawValue) #\(count) (SPOOLBUS_FAULT)\n")
        _exit(exitStatus)
    }

    private static let occurrences = Mutex(0)

    /// The step and occurrence `SPOOLBUS_FAULT` asks for; a value that does not parse ends the
    /// process with status 2, so a mistyped test fails loudly instead of running without its fault.
    private static let plan: (step: Step, occurrence: Int)? = {
        let key = "SPOOLBUS_FAULT=".bytes
        guard let entry = SystemInfo.environment.first(where: { $0.starts(with: key) }) else { return nil }
        let value = String(decoding: entry.dropFirst(key.count), as: UTF8.self)
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let step = Step(rawValue: String(parts[0])), let occurrence = Int(parts[1]), occurrence > 0 {
            return (step, occurrence)
        }
        let steps = Step.allCases.map(\.rawValue).joined(separator: "|")
        SystemInfo.printError("spoolbus: error: SPOOLBUS_FAULT=\(value): expected STEP:N, STEP one of \(steps), N 1 or more\n")
        _exit(2)
    }()
}
