/// The rules file's reference, written once: `spoolbus help rules`, the `spoolbus.rules(5)`
/// manual page and README's tables are all made from these entries, so none can drift from
/// another (a test holds README to them).
///
/// Texts mark code with backticks; each renderer turns them into its own markup.
enum RulesReference {
    /// One row: what is written, what it is when not written, what it means.
    struct Entry: Sendable {
        let term: String
        /// nil where "default" means nothing (a placeholder, a variable).
        let defaultText: String?
        let meaning: String

        init(_ term: String, default defaultText: String? = nil, _ meaning: String) {
            self.term = term
            self.defaultText = defaultText
            self.meaning = meaning
        }
    }

    /// The shape of a rule line.
    static let ruleSynopsis = "PATTERN  ON  [OPTION=VALUE ...]  HANDLER [ARG ...]"

    /// What the file is, before its parts.
    static let overview = [
        "The rules file says which handler runs for which message. It is line oriented, like crontab: one rule or directive per line; `#` starting a word starts a comment; blank lines are ignored; a line ending in `\\` continues on the next. Words are split as a shell splits them (single and double quotes, backslash), but nothing is ever run through a shell.",
        "Relative paths are resolved against the rules file's folder, and handler programs run with it as their working directory. The daemon reloads the file on SIGHUP and whenever it changes on disk; a file with errors is not loaded (the daemon keeps the rules it had and logs each error with its line and column). `spoolbus check` reports every error as `FILE:LINE:COL: error: MESSAGE`.",
    ]

    /// The parts of a rule line.
    static let parts: [Entry] = [
        Entry("PATTERN", "A glob over the message name (its path relative to the spool): `*` and `?` do not cross `/`, `**` does; `[abc]`, `[a-z]` and `[!abc]` are classes (never matching `/`); `**/` at the start of a component also matches no folder at all. Quoted or backslash-escaped glob characters are literal."),
        Entry("ON", "One or more of `file`, `fifo`, `socket`, `node`, `gone`, `mq`, `signal`, comma-separated: a complete file, a line written into a FIFO, a line sent to a socket, anything else that appears (a folder, a symlink, a FIFO), a name that goes, a message of a POSIX message queue, a signal sent to the daemon."),
        Entry("HANDLER", "A program and its arguments, executed directly (never through a shell), or `swift:NAME [WORD ...]`, a Swift handler compiled into the binary, or `mqtt:NAME TOPIC [qos=0|1] [retain]`, which publishes the message to the broker NAME (placeholders in TOPIC escaped) and succeeds once the broker took it. A program word with a `/` is resolved against the rules folder; a bare word is looked up in PATH. Placeholders are replaced inside arguments after splitting, so a name never becomes two arguments."),
    ]

    /// Every option of a rule, with its default.
    static let options: [Entry] = [
        Entry("timeout=DURATION", default: "`30s`", "How long one run may take; then SIGTERM to the handler's process group, SIGKILL 5 s later, and the run counts as failed."),
        Entry("retries=N", default: "`3`; `0` on a `reply` rule", "Runs after a failed one before the rule gives up and the message becomes a dead letter. A `reply` rule's client waits on the line, so it is not kept waiting through retries unless the rule asks for them."),
        Entry("backoff=DURATION", default: "`1s`", "The wait before the first retry, doubling with each one."),
        Entry("concurrency=N", default: "unlimited; `--jobs` bounds all rules together", "At most N runs of this rule at once. `1` keeps arrival order, retries included: the next message waits for a failing one's retries (on a `worker` rule with `pipeline=N`, the requests already written behind a failed one are answered before its retry)."),
        Entry("then=delete|archive|keep", default: "`delete`", "What becomes of a file message once handled: removed, moved to `.spoolbus/done/`, or left in place as a state file (dispatched again on each rewrite). Where rules disagree, `keep` wins over `archive`, `archive` over `delete`."),
        Entry("user=NAME[:GROUP]", default: "the daemon's user", "Run the handler program as NAME (and its groups, or GROUP), with that user's HOME, USER and LOGNAME. Only a daemon running as root may."),
        Entry("stdin=body|none", default: "`body`", "The handler's stdin: the message body, or `/dev/null`."),
        Entry("output=log|discard", default: "`log`", "Whether the handler's stdout and stderr lines go to the dispatch log."),
        Entry("reply", default: "off", "On a `socket` rule: what the handler prints goes back to the client, instead of `ok ID`."),
        Entry("last", default: "off", "No later rule is tried for a message this rule matches (a message otherwise goes to every matching rule, in file order)."),
        Entry("worker", default: "off", "On `file`, `fifo`, `socket`, `mq` and `signal` rules: the program is started once, on the first message, and takes one request line per message on its stdin, answering each on its stdout (see README, Workers); `concurrency=N` gives N processes (default 1). Its arguments may not hold placeholders, and `stdin=` cannot be set."),
        Entry("pipeline=N", default: "`1`", "On a `worker` rule: the daemon writes up to N requests ahead to each worker process (N from 1 to 1024) and reads their answers in order; the worker's code is the same. Each process counts as one `--jobs` slot however many requests it holds, so `concurrency=C` allows C × N requests in flight. `timeout=` runs for the oldest unanswered request of a process; a worker that dies or is killed fails every request it holds (see README, Workers)."),
        Entry("log=all|failures", default: "`all`", "With `failures`, this rule's `run`, `ok` and `out` lines are not logged (only `fail`, `dead` and `error`, which then name the message), nor the `recv` line of a FIFO or socket line only such rules take; `status` counts the successes as `ok_unlogged`."),
    ]

    /// The lines that make channels instead of matching messages.
    static let directives: [Entry] = [
        Entry("listen NAME [mode=MODE] [type=TYPE] [durable]", default: "`mode=0660`, `type=stream`, not `durable`", "The daemon binds a Unix socket at NAME in the spool (removed again when it stops); each line a client sends is a message for the `socket` rules. TYPE is `stream`, `seqpacket` or `dgram`. With `durable`, each line is on disk before the client is answered."),
        Entry("mkfifo NAME [mode=MODE] [durable]", default: "`mode=0622`, not `durable`", "The daemon makes the FIFO NAME in the spool if missing, with exactly that mode; each line written into it is a message for the `fifo` rules. With `durable`, each line is on disk before it is dispatched. The default `0622` lets every local user write lines and only the daemon's user read them: a FIFO is where producers write. To let fewer write, `mode=0620` (the FIFO's group: the daemon's) or `mode=0600` (the daemon's user alone)."),
        Entry("mq /NAME [mode=MODE] [maxmsg=N] [msgsize=BYTES]", default: "`mode=0600`; `maxmsg` and `msgsize` the system's defaults, `/proc/sys/fs/mqueue/msg_default` and `msgsize_default`", "The daemon creates (or opens) the POSIX message queue /NAME and reads it; each message in it is a message for the `mq` rules, named NAME (without the slash), its priority in SPOOL_PRIORITY. A full queue makes its senders wait, never the daemon."),
        Entry("signal NAME ...", default: "no signal is a message", "Those signals (`USR1`, `USR2`, `WINCH`, `PWR`, `RTMIN`, `RTMIN+N`), sent to the daemon with `kill` or `sigqueue`, are messages for the `signal` rules, named after the signal, with the sender's pid and uid and the `sigqueue` value in SPOOL_SIGNAL_VALUE."),
        Entry("broker NAME mqtt://HOST[:PORT] [OPTION=VALUE ...]", default: "port `1883`, `keepalive=60s`, a client id made from the host, NAME and the spool", "An MQTT 5 broker the daemon keeps one connection and a persistent session with, reconnecting with backoff (no TLS: connect to a local Mosquitto that bridges over TLS). `mqtt:NAME` handlers publish to it, `subscribe NAME` lines receive from it. Options: `client-id=ID`, `username=U`, `password-file=FILE` (read at each connect), `keepalive=DURATION`."),
        Entry("subscribe NAME FILTER into FOLDER [qos=0|1]", default: "`qos=1`", "What broker NAME sends on topics matching FILTER (`+`, `#`, `$share/GROUP/...`; quote a `#`, which otherwise starts a comment) becomes files in FOLDER of the spool, named from the topic's levels plus a unique suffix, on disk before the broker is answered, then dispatched like any file."),
    ]

    /// What `{…}` in a handler argument becomes.
    static let placeholders: [Entry] = [
        Entry("{name}", "The message name, relative to the spool."),
        Entry("{path}", "Where the body is now (as SPOOL_PATH)."),
        Entry("{id}", "The message id."),
        Entry("{type}", "The node type (as SPOOL_TYPE)."),
        Entry("{event}", "The event (as SPOOL_EVENT)."),
    ]

    /// The variables every handler program gets.
    static let environment: [Entry] = [
        Entry("SPOOL_DIR", "The spool's absolute path."),
        Entry("SPOOL_NAME", "The message's name, relative to the spool."),
        Entry("SPOOL_PATH", "Where the body is now: the claimed file in `.spoolbus/work/` for `file`, the node otherwise."),
        Entry("SPOOL_EVENT", "`file`, `fifo`, `socket`, `node`, `gone`, `mq` or `signal`."),
        Entry("SPOOL_TYPE", "`file`, `fifo`, `socket`, `dir`, `char`, `block`, `symlink` (`gone` events: `dir` for folders, else `file`); `mq` and `signal` for those events."),
        Entry("SPOOL_ID", "The message id: unique across restarts, sorts by arrival."),
        Entry("SPOOL_RULE", "The rule's line number."),
        Entry("SPOOL_ATTEMPT", "1, then 2 for the first retry, and so on."),
        Entry("SPOOL_MESSAGE", "The body, for `fifo`, `socket` and `mq` messages (empty for `signal`)."),
        Entry("SPOOL_PEER_PID/UID/GID", "The sender (SO_PEERCRED) for sockets; the file's owner uid and gid for files; a signal's sender's pid and uid (no gid); none for `mq`."),
        Entry("SPOOL_FD_TYPE", "A socket message that came with a descriptor (the handler's stdin): `file`, `pipe`, `socket`, `tty`, `char`, `block`, `dir` or `other`."),
        Entry("SPOOL_PRIORITY", "An `mq` message's priority, 0 to 32767."),
        Entry("SPOOL_SIGNAL_VALUE", "A `signal` sent with `sigqueue`: its integer value; unset for `kill`."),
        Entry("SPOOL_ORIGIN_HOST/ID/NAME", "For a message received from a broker and sent by a spoolbus: the sending host, and the message's id and name there."),
        Entry("SPOOL_MQTT_TOPIC/BROKER", "For a message received from a broker: its topic, and the `broker` line's name."),
    ]

    /// The protocol of a `worker` rule's program.
    static let workerProtocol = [
        "A `worker` rule's program is started once, on the rule's first message, and reads one request per message on its stdin, a line of seven fields separated by single spaces: `ID EVENT NAME DATA PEER_PID PEER_UID PEER_GID`. DATA is the claimed file's path for `file` messages, the line itself for `fifo` and `socket` messages, the queue message's bytes for `mq` messages, and the `sigqueue` value for `signal` messages (`-` after a `kill`). An `mq` request alone has an eighth field, PRIORITY (0 to 32767; `-` for a dead letter put back by `retry`), after PEER_GID; its peer fields are `-`, since a queue does not say who sent. A `signal` request's NAME is the signal's name, PEER_PID and PEER_UID the sender's, PEER_GID `-`. A socket message that carries a passed descriptor is refused with an `error` answer when a worker rule takes it: a line cannot carry a descriptor. In NAME and DATA every byte outside printable ASCII (0x21-0x7E), and `%` itself, is written `%XX` with uppercase hex digits; an unknown or empty value is `-`, and a value that is `-` itself is written `%2D`.",
        "It answers each request, in order, with one line on its stdout: `ok`, `fail` or `fail REASON`, or `reply LENGTH` followed by exactly LENGTH bytes (at most 65536; the reply of a `reply` socket rule). Anything else is a protocol error: the worker's process group is killed and the request fails. One request is in flight per process (up to N with `pipeline=N`); `timeout=` applies per request; a worker that dies fails its request and is started again, after a growing delay when it never answered. Its stderr lines go to the log. It gets SPOOL_DIR and SPOOL_RULE, and should exit at end of file: on reload of a changed rule and at shutdown its stdin is closed.",
    ]

    /// What else a handler gets, after its variables.
    static let environmentNotes = [
        "Besides these, a handler program gets HOME, USER and LOGNAME of the user it runs as; PATH, LANG, LANGUAGE, LC_*, TZ and TMPDIR from the daemon when set; and what `spoolbus run --env` names. Nothing else of the daemon's environment. Its stdin is the body, its stdout and stderr lines go to the log; exit status 0 is success.",
    ]
}
