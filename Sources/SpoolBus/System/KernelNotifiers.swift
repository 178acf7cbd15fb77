import CSpoolBusLinux
import Glibc

/// Descriptors through which the kernel tells the event loop about signals, time and
/// wake-ups, so that one `epoll_wait` covers everything.
enum KernelNotifiers {
    /// A signalfd for `signals`, which must already be blocked in every thread.
    static func signalDescriptor(for signals: [Int32]) throws -> FileDescriptor {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let fd = try syscall("signalfd") { signalfd(-1, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Reads the pending signals from a signalfd, with who sent each.
    static func readSignals(_ fd: FileDescriptor) throws -> [ReceivedSignal] {
        var result: [ReceivedSignal] = []
        var info = signalfd_siginfo()
        while true {
            let n = try withUnsafeMutableBytes(of: &info) { try fd.read(into: $0) }
            guard let n, n == MemoryLayout<signalfd_siginfo>.size else { return result }
            // Only sigqueue(3) carries a value; kill(2) leaves ssi_int as whatever it was.
            let value = info.ssi_code == SI_QUEUE ? info.ssi_int : nil
            result.append(ReceivedSignal(number: Int32(info.ssi_signo), senderPID: Int32(bitPattern: info.ssi_pid),
                                         senderUID: info.ssi_uid, value: value))
        }
    }

    /// Blocks `signals` in the calling thread (and in threads it starts later).
    static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Sets `signal` to be ignored (SIGPIPE: a vanished reader must never kill the daemon).
    static func ignore(_ signal: Int32) {
        _ = csb_ignore_signal(signal)
    }

    /// A timerfd on CLOCK_MONOTONIC.
    static func timerDescriptor() throws -> FileDescriptor {
        let fd = try syscall("timerfd_create") { timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Arms the timer to fire once at `instant`, or disarms it when nil.
    static func arm(_ fd: FileDescriptor, at instant: MonotonicInstant?) throws {
        var spec = itimerspec()
        if let instant {
            // 0 would disarm; a deadline already past fires at once.
            let ns = max(instant.nanoseconds, 1)
            spec.it_value.tv_sec = Int(ns / 1_000_000_000)
            spec.it_value.tv_nsec = Int(ns % 1_000_000_000)
        }
        _ = try syscall("timerfd_settime") { timerfd_settime(fd.rawValue, Int32(TFD_TIMER_ABSTIME), &spec, nil) }
    }

    /// An eventfd other threads write to wake the loop.
    static func eventDescriptor() throws -> FileDescriptor {
        let fd = try syscall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
        return FileDescriptor(rawValue: fd)
    }

    /// Drains a counter descriptor (timerfd or eventfd) so it stops being readable.
    static func drainCounter(_ fd: FileDescriptor) {
        var value: UInt64 = 0
        _ = try? withUnsafeMutableBytes(of: &value) { try fd.read(into: $0) }
    }

    /// Adds one to an eventfd.
    static func signalEvent(_ fd: FileDescriptor) {
        var one: UInt64 = 1
        _ = try? withUnsafeBytes(of: &one) { try fd.write($0) }
    }
}

/// One signal read from a signalfd.
struct ReceivedSignal {
    let number: Int32
    /// Who sent it (0 for the kernel).
    let senderPID: Int32
    let senderUID: UInt32
    /// The value of a `sigqueue`, nil for a `kill`.
    let value: Int32?
}

/// The signals the daemon acts on, by name.
enum ProcessSignal {
    static let hangUp = SIGHUP
    static let terminate = SIGTERM
    static let interrupt = SIGINT
    static let kill = SIGKILL
    static let brokenPipe = SIGPIPE
    /// Sent to a lease holder when someone opens the file for writing; its default action
    /// would kill the daemon.
    static let leaseBreak = SIGIO

    static func name(_ signal: Int32) -> String { signalName(signal) }
}
