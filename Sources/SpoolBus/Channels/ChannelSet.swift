/// Where a FIFO line or socket message came from: what the rules see and handlers get.
struct ChannelOrigin {
    /// The FIFO's or the listening socket's name in the spool.
    let name: Bytes
    let event: EventKind
    let type: NodeType
    let peer: Peer?
}

/// Something that reads messages for the bus and can be paused when the bus is saturated.
protocol ChannelReader: AnyObject {
    /// Watches its descriptor for what its state allows now (nothing while paused).
    func refreshInterest()
    /// Delivers what it buffered while paused, then reads again.
    func resume()
    func close()
}

/// What the channels refused or dropped, for `status`.
struct ChannelCounters {
    var linesTooLong = 0
    var clientsRefused = 0
    var repliesDropped = 0
    var watchersDropped = 0
    /// Times every channel stopped being read because handlers were saturated.
    var pauses = 0
    /// Times one channel stopped being read because it had too many messages unsettled.
    var throttles = 0
    /// Socket messages refused for what came with them: too many descriptors, garbage control
    /// data, a descriptor not open for reading or sent to a durable socket.
    var descriptorsRefused = 0
}

/// The FIFOs and sockets of the bus, and what they share: opens and closes them as the spool
/// and the rules change, and stops reading all of them while the dispatcher is saturated so
/// that writers feel the back-pressure in the kernel instead of the daemon queueing without
/// bound. Each concern has its own part: `nodes` makes FIFOs and binds sockets, `fifos` reads
/// FIFOs, `sockets` serves socket clients, `queues` reads POSIX message queues, `signals` takes
/// the signals of `signal` directives, `lines` turns what they read into messages.
final class ChannelSet {
    /// Dispatcher load (jobs queued, running or waiting to retry) past which channels pause.
    static let loadLimit = FileAdmission.limit
    /// Bytes of channel messages not yet settled past which channels pause.
    static let inFlightByteLimit = 16 * 1024 * 1024
    /// Socket clients at once, all listeners together; more are told `error` and closed.
    static let clientLimit = 4096
    /// Messages of one FIFO, socket or client not yet settled, at most, before that one channel
    /// stops being read: a slow rule backs up its own writers, not every channel of the bus.
    static let unsettledLimitPerReader = 128
    /// FIFOs that no `mkfifo` names read at once, at most (anyone who may create files in the
    /// spool can make them, and each takes two descriptors); an eighth of the descriptor limit
    /// when that is less.
    static let othersFifoLimit = 1024

    let loop: EventLoop
    let log: DispatchLog
    /// The spool's folders, held by the bus: every FIFO and socket name is resolved beneath
    /// `layout.spool`, never through a symlink; the control socket is in `layout.state`.
    let layout: SpoolLayout
    let dispatcher: Dispatcher
    let maxLine: Int
    let rulesPath: Bytes
    /// One read buffer for every channel: the loop reads one descriptor at a time.
    let scratch: UnsafeMutableRawBufferPointer
    var counters = ChannelCounters()
    private(set) var rules: RuleSet
    private(set) var isPaused = false
    private(set) var isStopping = false
    let started = MonotonicInstant.now()
    /// The soft limit on open descriptors, once `start` has raised it.
    private(set) var descriptorLimit: UInt64 = 1024

    /// Facts of the bus's own for `status`: faults it is riding out (log lines lost, folders
    /// without a watch, messages waiting to be settled).
    var busFacts: () -> [(String, any LogValue)] = { [] }

    let nodes: ChannelNodes
    private(set) lazy var fifos = FifoChannels(channels: self, nodes: nodes)
    private(set) lazy var sockets = SocketChannels(channels: self, nodes: nodes)
    private let settlement: Settlement
    private(set) lazy var lines = LineSubmission(channels: self, settlement: settlement)
    private(set) lazy var signals = SignalMessages(channels: self)
    private(set) lazy var queues = MessageQueueChannels(channels: self)
    private var control: ControlServer?

    init(loop: EventLoop, log: DispatchLog, layout: SpoolLayout, settlement: Settlement, dispatcher: Dispatcher,
         rules: RuleSet, maxLine: Int, rulesPath: Bytes) {
        self.loop = loop
        self.log = log
        self.layout = layout
        self.settlement = settlement
        self.dispatcher = dispatcher
        self.rules = rules
        self.maxLine = max(1, maxLine)
        self.rulesPath = rulesPath
        nodes = ChannelNodes(layout: layout, log: log)
        scratch = .allocate(byteCount: max(65536, self.maxLine + 1), alignment: 16)
    }

    deinit { scratch.deallocate() }

    // MARK: - Lifetime

    /// Opens the control socket; a failure is logged, the bus runs without it.
    func start(controlMode: UInt32) {
        descriptorLimit = DescriptorLimit.raise(upTo: 65536)
        do {
            control = try ControlServer(channels: self, mode: controlMode)
        } catch {
            log.record("error", [("name", ".spoolbus/control.sock"), ("err", "\(error)")])
        }
    }

    /// Stops taking messages (SIGTERM): the complete lines already read are handed to the bus
    /// (they are dispatched within the grace, or put back), then FIFOs and listening sockets
    /// close and sockets are removed; clients still owed replies get them as their handlers finish.
    func stop() {
        isStopping = true
        fifos.stop()
        sockets.stop()
        queues.stop()
    }

    /// Ends everything, the control socket last.
    func close() {
        if !isStopping { stop() }
        sockets.closeClients()
        control?.close()
        control = nil
    }

    /// Takes new rules: opens and closes listening sockets and FIFOs to match.
    func apply(_ newRules: RuleSet) {
        rules = newRules
        guard !isStopping else { return }
        sockets.apply(rules)
        fifos.apply(rules)
        queues.apply(rules)
    }

    // MARK: - Changes in the spool

    /// Something was removed or moved out of the spool. Returns true when it was the daemon's
    /// own doing (a stale socket replaced), which is not news.
    func nodeGone(_ name: Bytes) -> Bool {
        if nodes.wasOwnRemoval(name) { return true }
        fifos.gone(name)
        sockets.gone(name)
        return false
    }

    // MARK: - Back-pressure

    private var isSaturated: Bool {
        dispatcher.load >= Self.loadLimit || lines.inFlightBytes >= Self.inFlightByteLimit
    }

    private var readers: [ChannelReader] { fifos.readers + sockets.readers + queues.readers }

    /// A message was handed to the dispatcher: every channel stops being read if that filled it.
    func pauseIfSaturated() {
        guard !isPaused, isSaturated else { return }
        isPaused = true
        counters.pauses += 1
        for reader in readers { reader.refreshInterest() }
    }

    /// A job ended: channels paused for back-pressure read again once there is room.
    func jobEnded() {
        guard isPaused, !isSaturated else { return }
        isPaused = false
        for reader in readers {
            reader.resume()
            if isPaused { break }
        }
    }

    // MARK: - Facts for `status`

    var fifoCount: Int { fifos.count }
    var listenerCount: Int { sockets.listenerCount }
    var clientCount: Int { sockets.clientCount }
    var queueCount: Int { queues.count }
    var ruleCount: Int { rules.rules.count }
}
