import Glibc

/// `mq /NAME [mode=0600] [maxmsg=N] [msgsize=BYTES]`: a POSIX message queue the daemon creates
/// (or opens) and reads; each message in it is a message of event `mq`.
public struct MessageQueueDirective: Sendable {
    public var line: Int
    /// The queue's name as `mq_open` takes it, leading slash included (`/jobs`).
    public var queueName: [UInt8]
    /// The mode a queue the daemon creates gets (and one of its own is given again).
    public var mode: UInt32 = 0o600
    /// The queue's capacity in messages; nil for the system's default (`fs/mqueue/msg_default`).
    public var maxMessages: Int?
    /// The longest message the queue takes; nil for the system's default (`fs/mqueue/msgsize_default`).
    public var messageSize: Int?

    /// The largest `maxmsg=` and `msgsize=` the kernel allows anyone (HARD_MSGMAX, HARD_MSGSIZEMAX).
    public static let hardMaxMessages = 65536
    public static let hardMaxMessageSize = 16 * 1024 * 1024

    public init(line: Int, queueName: [UInt8]) {
        self.line = line
        self.queueName = queueName
    }

    /// What the queue's messages are called in the rules: its name without the leading slash
    /// (`mq /jobs` makes messages named `jobs`), since patterns are relative.
    public var name: [UInt8] { Array(queueName.dropFirst()) }
}

/// `signal NAME…`: those signals, sent to the daemon, become messages of event `signal`.
public struct SignalDirective: Sendable {
    public var line: Int
    public var signals: [SignalName]

    public init(line: Int, signals: [SignalName]) {
        self.line = line
        self.signals = signals
    }
}

/// A signal a `signal` directive may name: its name without `SIG` (`USR1`, `RTMIN+3`), which
/// is also the name of its messages, and its number.
public struct SignalName: Sendable, Equatable {
    public let name: String
    public let number: Int32

    /// Every signal the daemon can take as a message: USR1, USR2, WINCH, PWR and the real-time
    /// signals. All of them are blocked from the start and read from the daemon's one signalfd,
    /// so a reload can add one without a thread ever having had it unblocked.
    public static var takeable: [SignalName] {
        var names = [SignalName(name: "USR1", number: SIGUSR1), SignalName(name: "USR2", number: SIGUSR2),
                     SignalName(name: "WINCH", number: SIGWINCH), SignalName(name: "PWR", number: SIGPWR)]
        for number in realTimeFirst...realTimeLast {
            let offset = number - realTimeFirst
            names.append(SignalName(name: offset == 0 ? "RTMIN" : "RTMIN+\(offset)", number: number))
        }
        return names
    }

    /// SIGRTMIN and SIGRTMAX as glibc has them (it keeps the first few real-time signals for itself).
    static var realTimeFirst: Int32 { __libc_current_sigrtmin() }
    static var realTimeLast: Int32 { __libc_current_sigrtmax() }

    /// The canonical name of signal `number`, for any signal (`HUP`, `RTMIN+2`, or the number).
    public static func name(of number: Int32) -> String {
        if let known = takeable.first(where: { $0.number == number }) { return known.name }
        return refused.first { $0.number == number }?.name ?? String(number)
    }

    /// The signals a `signal` directive may not name, and why.
    static let refused: [(name: String, number: Int32, reason: String)] = [
        ("HUP", SIGHUP, "the daemon's own: it reloads the rules"),
        ("TERM", SIGTERM, "the daemon's own: it stops the daemon"),
        ("INT", SIGINT, "the daemon's own: it stops the daemon"),
        ("CHLD", SIGCHLD, "the daemon needs it for its handlers"),
        ("PIPE", SIGPIPE, "the daemon ignores it (a reader that went away is an error, not a signal)"),
        ("IO", SIGIO, "the daemon needs it for its file leases"),
        ("KILL", SIGKILL, "it cannot be caught"),
        ("STOP", SIGSTOP, "it cannot be caught"),
        ("TSTP", SIGTSTP, "it is job control"), ("TTIN", SIGTTIN, "it is job control"),
        ("TTOU", SIGTTOU, "it is job control"), ("CONT", SIGCONT, "it is job control"),
        ("SEGV", SIGSEGV, "it reports a fault"), ("BUS", SIGBUS, "it reports a fault"),
        ("FPE", SIGFPE, "it reports a fault"), ("ILL", SIGILL, "it reports a fault"),
        ("ABRT", SIGABRT, "it reports a fault"), ("TRAP", SIGTRAP, "it reports a fault"),
        ("SYS", SIGSYS, "it reports a fault"), ("QUIT", SIGQUIT, "it asks for a core dump"),
        ("ALRM", SIGALRM, "timers send it"), ("VTALRM", SIGVTALRM, "timers send it"), ("PROF", SIGPROF, "timers send it"),
        ("XCPU", SIGXCPU, "the kernel sends it for a resource limit"), ("XFSZ", SIGXFSZ, "the kernel sends it for a resource limit"),
        ("URG", SIGURG, "sockets send it"), ("STKFLT", SIGSTKFLT, "it is unused on Linux"),
    ]

    /// Looks up a name as a `signal` directive writes it: `USR1`, `SIGUSR1`, `RTMIN`, `RTMIN+3`.
    /// Returns the signal, or why not.
    static func parse(_ written: String) -> Result<SignalName, SignalNameError> {
        let bare = written.hasPrefix("SIG") ? String(written.dropFirst(3)) : written
        if let known = takeable.first(where: { $0.name == bare }) { return .success(known) }
        if bare.hasPrefix("RTMIN+"), let offset = Int32(bare.dropFirst(6)), offset > 0 {
            let count = realTimeLast - realTimeFirst
            return .failure(.outOfRange("RTMIN+\(offset) is past the last real-time signal (RTMIN+\(count))"))
        }
        if bare == "RTMAX" || bare.hasPrefix("RTMAX-") {
            return .failure(.outOfRange("write real-time signals as RTMIN+N (RTMAX is RTMIN+\(realTimeLast - realTimeFirst))"))
        }
        if let refusal = refused.first(where: { $0.name == bare }) {
            return .failure(.refused("signal \(refusal.name) cannot be a message: \(refusal.reason)"))
        }
        return .failure(.unknown)
    }

    enum SignalNameError: Error {
        case unknown
        case outOfRange(String)
        case refused(String)
    }
}
