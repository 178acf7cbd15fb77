/// The daemon behind `spoolbus run`.
public enum Daemon {
    /// Runs the bus in the foreground until SIGTERM or SIGINT; returns the exit status
    /// (0 after a clean stop, 1 on a runtime failure, 2 for invalid rules).
    ///
    /// Call it from the main thread before anything starts another thread: the signals the
    /// daemon handles are blocked here and read from a signalfd, which only works when every
    /// thread has them blocked. That is also why every signal a `signal` directive may name is
    /// blocked here, named in the rules or not: a reload that adds one cannot block it in threads
    /// that exist by then.
    public static func run(_ options: DaemonOptions, handlers: HandlerRegistry) -> Int32 {
        KernelNotifiers.block(Shutdown.signalsRead)
        KernelNotifiers.ignore(ProcessSignal.brokenPipe)
        KernelNotifiers.ignore(ProcessSignal.leaseBreak)
        if let refusal = kernelRefusal() {
            SystemInfo.printError("spoolbus: error: \(refusal)\n")
            return 1
        }
        let bus: Bus
        do {
            bus = try Bus(options: options, handlers: handlers)
        } catch let error as RulesError {
            SystemInfo.printError(error.description + "\n")
            return 2
        } catch let error as Bus.StartupError {
            SystemInfo.printError("spoolbus: error: \(error.message)\n")
            return error.status
        } catch {
            SystemInfo.printError("spoolbus: error: \(error)\n")
            return 1
        }
        do {
            try bus.run()
            return 0
        } catch {
            SystemInfo.printError("spoolbus: error: \(error)\n")
            return 1
        }
    }

    /// Why this kernel cannot run the daemon, or nil. The test aid `SPOOLBUS_KERNEL_RELEASE`
    /// pretends to another release; it can only make the daemon refuse, never accept a kernel
    /// that is really too old.
    static func kernelRefusal() -> String? {
        let pretended = SystemInfo.environment.first { $0.starts(with: "SPOOLBUS_KERNEL_RELEASE=".bytes) }
            .map { text(Bytes($0.dropFirst(24))) }
        for release in [SystemInfo.kernelRelease] + (pretended.map { [$0] } ?? []) where !SystemInfo.isSupportedKernel(release) {
            let floor = "\(SystemInfo.minimumKernel.major).\(SystemInfo.minimumKernel.minor)"
            return "Linux \(release.isEmpty ? "(unknown release)" : release) is older than \(floor), the oldest kernel spoolbus runs on "
                + "(openat2 keeps every spool path beneath the spool, pidfd_open watches handlers)"
        }
        return nil
    }
}
