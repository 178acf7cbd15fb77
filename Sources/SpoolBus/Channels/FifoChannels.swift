/// The FIFOs the bus reads: a FIFO in the spool is read while a `fifo` rule can match its
/// name. Those of `mkfifo` directives are the daemon's own and always read; those others made
/// are read up to `othersLimit` at once, so that a producer making FIFOs by the thousand cannot
/// use up the daemon's descriptors: past it, one `error` line per episode, and the rest wait
/// until one closes. Also tells a FIFO's close-after-write events from files written.
final class FifoChannels {
    private unowned let channels: ChannelSet
    private let nodes: ChannelNodes
    private var fifos: [Bytes: FifoChannel] = [:]
    /// Names where a FIFO was seen, opened or not: their close-after-write events are not files.
    private var fifoNames: Set<Bytes> = []
    /// The open FIFOs that no `mkfifo` directive names.
    private var others: Set<Bytes> = []
    /// FIFOs no `mkfifo` names that were not opened for lack of room, opened as room comes.
    private var waiting: Set<Bytes> = []
    /// `mkfifo` names where another user's FIFO was refused, and said so once.
    private var planted: Set<Bytes> = []
    /// The limit was reached and said so; reset once nothing waits.
    private var refusing = false

    init(channels: ChannelSet, nodes: ChannelNodes) {
        self.channels = channels
        self.nodes = nodes
    }

    var count: Int { fifos.count }
    var readers: [ChannelReader] { Array(fifos.values) }

    /// FIFOs no `mkfifo` names, open at once: `ChannelSet.othersFifoLimit`, or an eighth of the
    /// descriptor limit when that is less (each takes two, and clients and handlers need theirs).
    private var othersLimit: Int {
        max(1, min(ChannelSet.othersFifoLimit, Int(clamping: channels.descriptorLimit / 8)))
    }

    /// Follows new rules: FIFOs no rule reads are closed (and those that a new `mkfifo` names,
    /// to be checked as the daemon's own), those of `mkfifo` made, the others opened.
    func apply(_ rules: RuleSet) {
        let directives = Set(rules.fifos.map(\.name))
        for (name, _) in fifos where !rules.hasRule(for: name, event: .fifo) || (others.contains(name) && directives.contains(name)) {
            close(name)
        }
        nodes.makeFifos(rules.fifos)
        for name in fifoNames.union(directives) { appeared(name) }
    }

    /// A FIFO appeared (made by someone, by a `mkfifo` directive, or found by a scan): it is
    /// read when a `fifo` rule can match its name, and there is room or `mkfifo` names it.
    func appeared(_ name: Bytes) {
        guard SpoolLayout.isDispatchable(name) else { return }
        fifoNames.insert(name)
        guard !channels.isStopping, fifos[name] == nil, channels.rules.hasRule(for: name, event: .fifo) else { return }
        let mkfifoMode = channels.rules.fifos.first { $0.name == name }?.mode
        if mkfifoMode == nil && others.count >= othersLimit {
            waiting.insert(name)
            if !refusing {
                refusing = true
                channels.log.record("error", name: name, [
                    ("name", name),
                    ("err", "too many FIFOs not made by mkfifo (\(othersLimit)) are open: this one and the next are not read until one closes"),
                ])
            }
            return
        }
        waiting.remove(name)
        do {
            guard let fifo = try FifoChannel.open(name: name, in: channels.layout.spool, mkfifoMode: mkfifoMode, channels: channels) else { return }
            fifos[name] = fifo
            if mkfifoMode == nil { others.insert(name) }
            planted.remove(name)
            fifo.refreshInterest()
        } catch let error as FifoChannel.NotTheDaemons {
            if planted.insert(name).inserted {
                channels.log.record("error", name: name, [("name", name), ("err", "\(error)")])
            }
        } catch let error as SystemError where error.errno == SystemError.noEntry || error.errno == SystemError.tooManySymbolicLinks {
            fifoNames.remove(name)
        } catch {
            channels.log.record("error", name: name, [("name", name), ("err", "\(error)")])
        }
    }

    /// Closes the FIFO read at `name`; a FIFO waiting for room takes its place.
    private func close(_ name: Bytes) {
        guard let fifo = fifos.removeValue(forKey: name) else { return }
        // Lines already taken from it are dispatched, not dropped with it.
        fifo.deliverEverything()
        fifo.close()
        guard others.remove(name) != nil else { return }
        while others.count < othersLimit, !channels.isStopping, let next = waiting.popFirst() {
            appeared(next)
        }
        // The episode ends when every FIFO that waited is read.
        if others.count < othersLimit { refusing = false }
    }

    /// `name` was removed or moved out of the spool: its FIFOs, and those beneath it, close.
    func gone(_ name: Bytes) {
        let prefix = name + [UInt8(ascii: "/")]
        waiting.remove(name)
        planted.remove(name)
        for fifoName in fifos.keys where fifoName == name || fifoName.starts(with: prefix) {
            close(fifoName)
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
        close(name)
        return false
    }

    /// A FIFO that could not be read is closed; it is opened again when it appears again.
    func failed(_ fifo: FifoChannel) {
        fifo.close()
        if fifos[fifo.name] === fifo { close(fifo.name) }
    }

    /// The daemon stops: the complete lines read are handed on, then every FIFO closes.
    func stop() {
        for fifo in fifos.values {
            fifo.deliverEverything()
            fifo.close()
        }
        fifos.removeAll()
        others.removeAll()
        waiting.removeAll()
    }
}
