/// The FIFOs the bus reads: a FIFO in the spool is read while a `fifo` rule can match its
/// name, whoever made it. Also tells a FIFO's close-after-write events from files written.
final class FifoChannels {
    private unowned let channels: ChannelSet
    private let nodes: ChannelNodes
    private var fifos: [Bytes: FifoChannel] = [:]
    /// Names where a FIFO was seen, opened or not: their close-after-write events are not files.
    private var fifoNames: Set<Bytes> = []

    init(channels: ChannelSet, nodes: ChannelNodes) {
        self.channels = channels
        self.nodes = nodes
    }

    var count: Int { fifos.count }
    var readers: [ChannelReader] { Array(fifos.values) }

    /// Follows new rules: FIFOs no rule reads are closed, those of `mkfifo` made, the others
    /// opened.
    func apply(_ rules: RuleSet) {
        for (name, fifo) in fifos where !rules.hasRule(for: name, event: .fifo) {
            fifo.close()
            fifos[name] = nil
        }
        nodes.makeFifos(rules.fifos)
        for name in fifoNames.union(rules.fifos.map(\.name)) { appeared(name) }
    }

    /// A FIFO appeared (made by someone, by a `mkfifo` directive, or found by a scan): it is
    /// read when a `fifo` rule can match its name.
    func appeared(_ name: Bytes) {
        guard SpoolLayout.isDispatchable(name) else { return }
        fifoNames.insert(name)
        guard !channels.isStopping, fifos[name] == nil, channels.rules.hasRule(for: name, event: .fifo) else { return }
        do {
            guard let fifo = try FifoChannel.open(name: name, in: channels.layout.spool, channels: channels) else { return }
            fifos[name] = fifo
            fifo.refreshInterest()
        } catch let error as SystemError where error.errno == SystemError.noEntry || error.errno == SystemError.tooManySymbolicLinks {
            fifoNames.remove(name)
        } catch {
            channels.log.record("error", name: name, [("name", name), ("err", "\(error)")])
        }
    }

    /// `name` was removed or moved out of the spool: its FIFOs, and those beneath it, close.
    func gone(_ name: Bytes) {
        let prefix = name + [UInt8(ascii: "/")]
        for (fifoName, fifo) in fifos where fifoName == name || fifoName.starts(with: prefix) {
            fifo.close()
            fifos[fifoName] = nil
        }
    }

    /// Whether a close-after-write event for `name` is about a FIFO (a writer closed it, or the
    /// daemon closed its own write end) rather than a file to dispatch.
    func isFifoEvent(_ name: Bytes) -> Bool {
        guard fifoNames.contains(name) else { return false }
        guard let status = try? channels.layout.spool.statusIfPresent(name), let type = status.type else {
            fifoNames.remove(name)
            return fifos[name] == nil
        }
        if type == .fifo { return true }
        fifoNames.remove(name)
        if let stale = fifos.removeValue(forKey: name) { stale.close() }
        return false
    }

    /// A FIFO that could not be read is closed; it is opened again when it appears again.
    func failed(_ fifo: FifoChannel) {
        fifo.close()
        if fifos[fifo.name] === fifo { fifos[fifo.name] = nil }
    }

    /// The daemon stops: the complete lines read are handed on, then every FIFO closes.
    func stop() {
        for fifo in fifos.values {
            fifo.deliverEverything()
            fifo.close()
        }
        fifos.removeAll()
    }
}
