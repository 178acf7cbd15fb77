/// What happened in the spool, as named in a rule's ON list and in `SPOOL_EVENT`.
public enum EventKind: String, CaseIterable, Sendable {
    /// A complete regular file.
    case file
    /// A line written into a FIFO in the spool.
    case fifo
    /// A line (or packet) sent to one of the daemon's listening sockets.
    case socket
    /// A FIFO, socket, folder, device or symlink made by someone else.
    case node
    /// Something removed or moved out of the spool.
    case gone
    /// A message read from a POSIX message queue of an `mq` directive.
    case mq
    /// A signal of a `signal` directive, sent to the daemon.
    case signal

    /// The events as an error message lists them: `file, fifo, …, mq or signal`.
    static var listed: String {
        let names = allCases.map(\.rawValue)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}

/// What becomes of a `file` message after its handlers succeeded.
///
/// Ordered so that `max` gives the action that wins when matching rules disagree:
/// `keep` wins over `archive`, and `archive` over `delete`.
public enum ThenAction: String, Sendable, CaseIterable, Comparable {
    case delete, archive, keep

    private var rank: Int {
        switch self {
        case .delete: return 0
        case .archive: return 1
        case .keep: return 2
        }
    }

    public static func < (lhs: ThenAction, rhs: ThenAction) -> Bool { lhs.rank < rhs.rank }
}

/// The handler's standard input.
public enum StdinMode: String, Sendable, CaseIterable { case body, none }

/// Where the handler's stdout and stderr lines go.
public enum OutputMode: String, Sendable, CaseIterable { case log, discard }

/// Which of a rule's runs the dispatch log shows: `all`, or only `failures` (`fail`, `dead`
/// and `error`), for high-rate channels whose successes are counted in `status` instead.
public enum LogMode: String, Sendable, CaseIterable { case all, failures }

/// The kind of Unix socket a `listen` directive creates.
public enum SocketType: String, Sendable, CaseIterable { case stream, seqpacket, dgram }

/// The words replaced inside handler arguments: `{name}`, `{path}`, `{id}`, `{type}`, `{event}`.
public enum Placeholder: String, Sendable, CaseIterable { case name, path, id, type, event }

/// `user=NAME[:GROUP]`: whom the handler runs as.
public struct UserSpec: Sendable, Equatable {
    public var user: String
    public var group: String?

    public init(user: String, group: String? = nil) {
        self.user = user
        self.group = group
    }
}

/// What a rule runs for each message.
public enum HandlerSpec: Sendable, Equatable {
    /// A program run directly. `program` is literal bytes (a placeholder in the program word is an error).
    /// A relative program containing '/' (./handlers/x.sh, handlers/x.sh) is made absolute by joining it
    /// onto the rules file's directory; a bare word (sh, logger) stays as is, for a PATH lookup at spawn.
    case program(program: [UInt8], arguments: [ArgumentTemplate])
    /// `swift:NAME word…` — words after the name are the handler's options, templates too.
    case swift(name: String, arguments: [ArgumentTemplate])
    /// `mqtt:NAME TOPIC [qos=0|1] [retain]` — publishes the message to a broker.
    case mqtt(MQTTPublishSpec)

    /// The words after the program or the Swift handler's name (an MQTT handler's topic).
    public var arguments: [ArgumentTemplate] {
        switch self {
        case .program(_, let arguments), .swift(_, let arguments): return arguments
        case .mqtt(let spec): return [spec.topic]
        }
    }
}

/// A rule's identity across reloads (see `Rule.identity`).
public struct RuleIdentity: Hashable, Sendable {
    let pattern: [UInt8]
    let events: [EventKind]
    let handler: HandlerSpec
    let occurrence: Int
    /// Hashed once, when made: the dispatcher and the worker pools look a rule up by its
    /// identity for every message, and hashing the pattern's bytes each time was a cost per
    /// message.
    private let hashCode: Int

    init(pattern: [UInt8], events: [EventKind], handler: HandlerSpec, occurrence: Int) {
        self.pattern = pattern
        self.events = events
        self.handler = handler
        self.occurrence = occurrence
        var hasher = Hasher()
        hasher.combine(pattern)
        hasher.combine(events)
        hasher.combine(occurrence)
        hashCode = hasher.finalize()
    }

    public static func == (lhs: RuleIdentity, rhs: RuleIdentity) -> Bool {
        lhs.hashCode == rhs.hashCode && lhs.pattern == rhs.pattern && lhs.events == rhs.events && lhs.handler == rhs.handler
            && lhs.occurrence == rhs.occurrence
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hashCode)
    }
}

/// One rule of the rules file: `PATTERN ON [OPTION=VALUE|reply|last …] HANDLER [ARG …]`.
///
/// Its fields live in one shared box, copied on write: a rule goes with every message it
/// matched, through the dispatcher's queues, runs and log, and a copy of a dozen arrays and
/// strings cost a dozen reference counts each time where the box costs one.
public struct Rule: Sendable {
    /// Every field, as written in the rules file.
    private struct Fields {
        var line: Int
        var pattern: Glob
        var events: [EventKind]
        var timeout: Duration = .seconds(30)
        var retries: Int = 3
        var backoff: Duration = .seconds(1)
        var concurrency: Int? = nil
        var then: ThenAction = .delete
        var user: UserSpec? = nil
        var stdin: StdinMode = .body
        var output: OutputMode = .log
        var reply: Bool = false
        var last: Bool = false
        var worker: Bool = false
        var pipeline: Int = 1
        var log: LogMode = .all
        var handler: HandlerSpec
        var handlerWord: [UInt8]
        var occurrence = 1
        var identity: RuleIdentity

        mutating func updateIdentity() {
            identity = RuleIdentity(pattern: pattern.source, events: events, handler: handler, occurrence: occurrence)
        }
    }

    /// Changed only while uniquely held (`change`), so shared copies never see a change.
    private final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    private mutating func change(_ body: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
        body(&box.fields)
    }

    /// The line where the rule starts (`SPOOL_RULE`, `rule=N` in the log).
    public var line: Int {
        get { box.fields.line }
        set { change { $0.line = newValue } }
    }
    /// The names it matches, relative to the spool.
    public var pattern: Glob {
        get { box.fields.pattern }
        set { change { $0.pattern = newValue; $0.updateIdentity() } }
    }
    /// In the order written, no duplicates.
    public var events: [EventKind] {
        get { box.fields.events }
        set { change { $0.events = newValue; $0.updateIdentity() } }
    }
    /// `timeout=`: how long one run (or worker request) may take before it is stopped and fails.
    public var timeout: Duration {
        get { box.fields.timeout }
        set { change { $0.timeout = newValue } }
    }
    /// `retries=`: how many times a failed run is tried again before the message is given up.
    public var retries: Int {
        get { box.fields.retries }
        set { change { $0.retries = newValue } }
    }
    /// `backoff=`: the wait before the first retry, doubled for each further one.
    public var backoff: Duration {
        get { box.fields.backoff }
        set { change { $0.backoff = newValue } }
    }
    /// `nil` means unlimited (within `--jobs`).
    public var concurrency: Int? {
        get { box.fields.concurrency }
        set { change { $0.concurrency = newValue } }
    }
    /// `then=`: what becomes of a file message once every rule succeeded.
    public var then: ThenAction {
        get { box.fields.then }
        set { change { $0.then = newValue } }
    }
    /// `user=NAME[:GROUP]`: who the handler runs as; nil: the daemon's user.
    public var user: UserSpec? {
        get { box.fields.user }
        set { change { $0.user = newValue } }
    }
    /// `stdin=`: whether the handler reads the message's body on its stdin.
    public var stdin: StdinMode {
        get { box.fields.stdin }
        set { change { $0.stdin = newValue } }
    }
    /// `output=`: whether the handler's stdout and stderr go to the log as `out` lines.
    public var output: OutputMode {
        get { box.fields.output }
        set { change { $0.output = newValue } }
    }
    /// `reply`: the handler's stdout is sent back to the socket client that sent the line.
    public var reply: Bool {
        get { box.fields.reply }
        set { change { $0.reply = newValue } }
    }
    /// `last`: no rule after this one is tried for a message it matched.
    public var last: Bool {
        get { box.fields.last }
        set { change { $0.last = newValue } }
    }
    /// `worker`: the program is started once and takes one request per message on its stdin
    /// (with `concurrency=N`, N processes), instead of one run per message.
    public var worker: Bool {
        get { box.fields.worker }
        set { change { $0.worker = newValue } }
    }
    /// `pipeline=N` of a `worker` rule: how many requests the daemon writes ahead to one worker
    /// process, their answers read in order (1: one request in flight, the default).
    public var pipeline: Int {
        get { box.fields.pipeline }
        set { change { $0.pipeline = newValue } }
    }
    /// `log=`: every step logged, or only failures (the others counted in `status`).
    public var log: LogMode {
        get { box.fields.log }
        set { change { $0.log = newValue } }
    }
    /// What runs: a program with its argument templates, a Swift handler, or an MQTT publish.
    public var handler: HandlerSpec {
        get { box.fields.handler }
        set { change { $0.handler = newValue; $0.updateIdentity() } }
    }
    /// The handler's first word as written, after quote removal (`./handlers/notify.sh`, `swift:log`):
    /// what the dispatch log shows as `handler=`, where `handler`'s program may have been made absolute.
    public var handlerWord: [UInt8] {
        get { box.fields.handlerWord }
        set { change { $0.handlerWord = newValue } }
    }
    /// 1 for the first rule of its `identity` in the file, 2 for a second one written alike, …
    public var occurrence: Int {
        get { box.fields.occurrence }
        set { change { $0.occurrence = newValue; $0.updateIdentity() } }
    }

    /// What a rule is across reloads, whatever line it moved to: its pattern, events, handler
    /// and arguments, and which of the rules written alike it is. Options are not part of it, so
    /// an edited `concurrency=` or `timeout=` is the same rule changed, not another one.
    /// Kept up to date as those change, so that reading it costs no hashing.
    public var identity: RuleIdentity { box.fields.identity }

    public init(line: Int, pattern: Glob, events: [EventKind], handler: HandlerSpec, handlerWord: [UInt8]) {
        box = Box(Fields(line: line, pattern: pattern, events: events, handler: handler, handlerWord: handlerWord,
                         identity: RuleIdentity(pattern: pattern.source, events: events, handler: handler, occurrence: 1)))
    }

    /// Whether `event` is among the rule's events.
    public func handles(_ event: EventKind) -> Bool { box.fields.events.contains(event) }

    /// Whether a message called `name` arriving as `event` reaches this rule (ignoring earlier `last` rules).
    public func matches(_ name: [UInt8], event: EventKind) -> Bool {
        handles(event) && box.fields.pattern.matches(name)
    }
}

/// `listen NAME [mode=0660] [type=stream|seqpacket|dgram] [durable]`.
public struct ListenDirective: Sendable {
    public var line: Int
    /// Relative to the spool.
    public var name: [UInt8]
    public var mode: UInt32 = 0o660
    public var type: SocketType = .stream
    /// Each message is on disk (fsynced) before the client is answered, and survives a crash.
    public var durable = false

    public init(line: Int, name: [UInt8], mode: UInt32 = 0o660, type: SocketType = .stream, durable: Bool = false) {
        self.line = line
        self.name = name
        self.mode = mode
        self.type = type
        self.durable = durable
    }
}

/// `mkfifo NAME [mode=0622] [durable]`.
public struct MkfifoDirective: Sendable {
    public var line: Int
    /// Relative to the spool.
    public var name: [UInt8]
    public var mode: UInt32 = 0o622
    /// Each line read is on disk (fsynced) before it is dispatched, and survives a crash.
    public var durable = false

    public init(line: Int, name: [UInt8], mode: UInt32 = 0o622, durable: Bool = false) {
        self.line = line
        self.name = name
        self.mode = mode
        self.durable = durable
    }
}

/// A parsed rules file.
public struct RuleSet: Sendable {
    public var rules: [Rule]
    public var listens: [ListenDirective]
    public var fifos: [MkfifoDirective]
    public var queues: [MessageQueueDirective]
    public var signals: [SignalDirective]
    public var brokers: [BrokerDirective] = []
    public var subscriptions: [SubscribeDirective] = []

    public init(rules: [Rule] = [], listens: [ListenDirective] = [], fifos: [MkfifoDirective] = [],
                queues: [MessageQueueDirective] = [], signals: [SignalDirective] = []) {
        self.rules = rules
        self.listens = listens
        self.fifos = fifos
        self.queues = queues
        self.signals = signals
    }

    /// Every signal some `signal` directive names, by number.
    public var signalNumbers: Set<Int32> { Set(signals.flatMap { $0.signals.map(\.number) }) }

    /// The rules a message reaches, in file order, up to and including the first matching rule with `last`.
    public func rules(for name: [UInt8], event: EventKind) -> [Rule] {
        var reached: [Rule] = []
        for rule in rules where rule.matches(name, event: event) {
            reached.append(rule)
            if rule.last { break }
        }
        return reached
    }

    /// Whether any rule for `event` matches `name` (e.g. to decide whether a FIFO is worth opening).
    public func hasRule(for name: [UInt8], event: EventKind) -> Bool {
        rules.contains { $0.matches(name, event: event) }
    }

    /// What happens to a `file` message called `name` after success: the strongest `then=` among
    /// the rules it reaches (`keep` over `archive` over `delete`); `.delete` when no rule matches.
    public func thenAction(for name: [UInt8]) -> ThenAction {
        rules(for: name, event: .file).map(\.then).max() ?? .delete
    }
}
