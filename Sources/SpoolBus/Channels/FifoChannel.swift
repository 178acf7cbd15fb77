/// A FIFO in the spool that the daemon reads: each newline-terminated line is a `fifo` message.
///
/// It is opened without blocking, and the daemon holds a write end of its own, so a writer's
/// `open` never blocks while the daemon runs and the read end never sees end of file (or a
/// hang-up that would wake the loop forever) when the last writer goes.
final class FifoChannel: MessageSource {
    let name: Bytes
    private unowned let channels: ChannelSet
    private var reading: LoopInterest!
    private let writeEnd: FileDescriptor
    private var framer: LineFramer
    /// Lines read and taken (on disk for a `durable` FIFO) that back-pressure holds back.
    /// A queue, not an array: a read of 64 KiB holds a thousand lines, taken from the front.
    private var held = FIFOQueue<LineSubmission.Accepted>()
    let unsettled = UnsettledCount()
    private var closed = false
    var isClosed: Bool { closed }

    /// Opens the FIFO `name` beneath `spool` (through no symlink); nil when what is there is not
    /// a FIFO (any more). At the name of a `mkfifo` directive (`mkfifoMode`), only the daemon's
    /// own FIFO is read, given exactly the directive's mode: one that another user planted there
    /// keeps its owner's hold on it (a mode that lets it read other writers' lines, changed at
    /// will), so it is refused, never adopted.
    static func open(name: Bytes, in spool: Directory, mkfifoMode: UInt32?, channels: ChannelSet) throws -> FifoChannel? {
        let readEnd = try spool.open(name, [.readOnly, .nonBlocking])
        do {
            let status = try readEnd.status()
            guard status.type == .fifo else {
                readEnd.close()
                return nil
            }
            if let mode = mkfifoMode {
                guard status.owner == SystemInfo.userID else {
                    throw NotTheDaemons(owner: status.owner, mode: status.permissions)
                }
                if status.permissions != mode { try readEnd.changeMode(mode) }
            }
            // The write end is opened through the read end, so both are the same FIFO even if
            // the name was replaced in between.
            let writeEnd = try FileDescriptor.open("/proc/self/fd/\(readEnd.rawValue)".bytes, [.writeOnly, .nonBlocking])
            return FifoChannel(name: name, readEnd: readEnd, writeEnd: writeEnd, channels: channels)
        } catch {
            readEnd.close()
            throw error
        }
    }

    /// What stands at a `mkfifo` directive's name is a FIFO another user made.
    struct NotTheDaemons: Error, CustomStringConvertible {
        let owner: UInt32
        let mode: UInt32
        var description: String {
            "mkfifo: a FIFO of uid \(owner) (mode \(octalMode(mode))) is at the name, not the daemon's: not read; remove it, and the next start or reload makes the daemon's own"
        }
    }

    private init(name: Bytes, readEnd: FileDescriptor, writeEnd: FileDescriptor, channels: ChannelSet) {
        self.name = name
        self.writeEnd = writeEnd
        self.channels = channels
        framer = LineFramer(maxLine: channels.maxLine)
        reading = LoopInterest(loop: channels.loop, descriptor: readEnd) { [unowned self] _ in self.readable() }
    }

    private var origin: ChannelOrigin { ChannelOrigin(name: name, event: .fifo, type: .fifo, peer: nil) }

    func refreshInterest() {
        guard !closed else { return }
        let wanted: EventLoop.Readiness = channels.isPaused || !unsettled.hasRoom || !held.isEmpty ? [] : .readable
        do {
            try reading.set(wanted)
        } catch {
            channels.log.record("error", name: name, [("name", name), ("err", "\(error)")])
        }
    }

    func resume() {
        deliverBuffered()
        refreshInterest()
    }

    func close() {
        guard !closed else { return }
        closed = true
        reading.close()
        writeEnd.close()
    }

    /// Hands every complete line read so far to the bus, paused or not: the daemon is stopping
    /// and reads no more, so what it has read is dispatched or put back, never dropped.
    func deliverEverything() { deliverBuffered(all: true) }

    private func readable() {
        let count: Int?
        do {
            count = try reading.descriptor.read(into: channels.scratch)
        } catch {
            channels.log.record("error", name: name, [("name", name), ("err", "\(error)"), ("closed", "fifo")])
            channels.fifos.failed(self)
            return
        }
        // Nothing, or end of file, which holding a write end rules out: wait for more.
        guard let count, count > 0 else { return }
        framer.append(UnsafeRawBufferPointer(rebasing: channels.scratch[..<count]))
        deliverBuffered()
        refreshInterest()
    }

    /// Takes every complete line read (a FIFO has no writer to answer, so nothing is gained by
    /// leaving them in memory unkept), then hands them to the bus while there is room, or `all`.
    private func deliverBuffered(all: Bool = false) {
        var lines: [Bytes] = []
        while let framed = framer.nextLine() {
            switch framed {
            case .line(let line): lines.append(line)
            case .tooLong(let length): channels.lines.refuseTooLong(length, from: origin, reply: nil)
            }
        }
        for accepted in channels.lines.acceptAll(lines, from: origin) { held.append(accepted) }
        // Each line leaves `held` before it is dispatched: a job may end inside `dispatch` and
        // resume this FIFO, which must not see the line again.
        while !held.isEmpty && (all || (!channels.isPaused && unsettled.hasRoom)) {
            channels.lines.dispatch(held.removeFirst()!, by: self, reply: nil)
        }
    }

}
