/// How `spoolbus run` was asked to run.
public struct DaemonOptions: Sendable {
    /// Where the dispatch log goes.
    public enum LogDestination: Sendable, Equatable {
        /// `SPOOL/.spoolbus/dispatch.log`.
        case spoolDefault
        /// `--log FILE`.
        case file(Bytes)
        /// `--log -`.
        case standardOutput
    }

    /// The rules file; relative paths are resolved against the current directory.
    public var rulesFile: Bytes
    /// `--spool DIR`; nil means `$SPOOLBUS_SPOOL`, else `./spool` (see `spoolbus help run`).
    public var spool: Bytes?
    public var log: LogDestination
    /// `--jobs N`: handlers running at once, all rules together.
    public var jobs: Int
    /// `--grace DURATION`: how long running handlers may finish after SIGTERM.
    public var grace: Duration
    /// `--max-line N`: the longest FIFO or socket line, in bytes.
    public var maxLine: Int
    /// `--control-mode MODE`: permissions of `.spoolbus/control.sock`.
    public var controlMode: UInt32
    /// `--env NAME` or `--env NAME=VALUE`, in order: variables handler programs get besides the
    /// few passed on from the daemon's environment.
    public var environment: [Bytes] = []
    /// `--log-max SIZE`: past this many bytes the log file becomes `NAME.1` and a new one is
    /// started; nil keeps one file growing (for logrotate, which SIGHUP serves).
    public var logMaxSize: Int?
    /// `--keep-done DURATION`: archived messages in `.spoolbus/done/` are removed this long
    /// after they were archived; nil keeps them.
    public var keepDone: Duration?
    /// `--keep-failed DURATION`: dead letters in `.spoolbus/failed/` are removed this long
    /// after they failed; nil keeps them.
    public var keepFailed: Duration?

    public init(
        rulesFile: Bytes = Array("spoolbus.rules".utf8), spool: Bytes? = nil, log: LogDestination = .spoolDefault,
        jobs: Int = DaemonOptions.defaultJobs, grace: Duration = .seconds(10), maxLine: Int = 65536,
        controlMode: UInt32 = 0o600
    ) {
        self.rulesFile = rulesFile
        self.spool = spool
        self.log = log
        self.jobs = jobs
        self.grace = grace
        self.maxLine = maxLine
        self.controlMode = controlMode
    }

    /// Twice the processors online: enough handlers in flight to keep every core busy while
    /// others wait on their own I/O.
    public static var defaultJobs: Int { max(2, 2 * SystemInfo.processorCount) }
}
