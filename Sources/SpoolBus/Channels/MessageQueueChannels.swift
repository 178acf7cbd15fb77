/// The POSIX message queues of `mq` directives: created (or opened) and read as the rules
/// change. A queue is never removed by the daemon: what waits in it when the daemon stops stays
/// in the kernel for the next start (not across a reboot).
final class MessageQueueChannels {
    private unowned let channels: ChannelSet
    private var queues: [Bytes: MessageQueueChannel] = [:]

    init(channels: ChannelSet) {
        self.channels = channels
    }

    var count: Int { queues.count }
    var readers: [ChannelReader] { Array(queues.values) }

    /// Opens the queues the rules name and closes the others; a changed directive reopens its queue.
    func apply(_ rules: RuleSet) {
        var wanted: [Bytes: MessageQueueDirective] = [:]
        for directive in rules.queues { wanted[directive.queueName] = directive }
        for (name, queue) in queues where wanted[name].map({ !$0.sameQueue(as: queue.directive) }) ?? true {
            queue.close()
            queues[name] = nil
        }
        for directive in rules.queues where queues[directive.queueName] == nil {
            open(directive)
        }
    }

    /// The daemon stops: queues are read no more (their messages wait in the kernel).
    func stop() {
        for queue in queues.values { queue.close() }
        queues.removeAll()
    }

    private func open(_ directive: MessageQueueDirective) {
        do {
            let (descriptor, created) = try Self.openOrCreate(directive)
            let limits: MessageQueue.Limits
            do {
                limits = try MessageQueue.limits(descriptor)
                try settleMode(of: descriptor, directive, created: created)
            } catch {
                descriptor.close()
                throw error
            }
            if !created, let mismatch = Self.mismatch(directive, limits) {
                channels.log.record("error", name: directive.name, [
                    ("name", directive.name), ("line", directive.line),
                    ("err", "queue \(text(directive.queueName)) was there already with \(mismatch); the directive's limits apply "
                            + "only to a queue the daemon creates (mq_unlink it to have them)"),
                ])
            }
            let queue = MessageQueueChannel(directive: directive, descriptor: descriptor, messageSize: limits.messageSize, channels: channels)
            queues[directive.queueName] = queue
            queue.refreshInterest()
        } catch {
            channels.log.record("error", name: directive.name, [("name", directive.name), ("line", directive.line), ("err", "\(error)")])
        }
    }

    /// Creates the queue, or opens the one that is there; says which.
    private static func openOrCreate(_ directive: MessageQueueDirective) throws -> (FileDescriptor, Bool) {
        // A limit left to the system comes from its defaults: mq_open takes both or neither.
        let maxMessages = directive.maxMessages ?? (directive.messageSize == nil ? 0 : MessageQueue.systemValue("msg_default") ?? 10)
        let messageSize = directive.messageSize ?? (directive.maxMessages == nil ? 0 : MessageQueue.systemValue("msgsize_default") ?? 8192)
        do {
            return (try MessageQueue.create(directive.queueName, mode: directive.mode, maxMessages: maxMessages, messageSize: messageSize), true)
        } catch let error as SystemError where error.errno == SystemError.exists {
            return (try MessageQueue.openForReading(directive.queueName), false)
        }
    }

    /// mq_open applies the umask: a queue the daemon made gets exactly `mode=`, and so does one of
    /// its own it finds. Another user's queue is refused, as another user's FIFO at a `mkfifo`
    /// name is: its owner made it first and may read what others send, change its mode, or
    /// mq_unlink it and make another that senders reach while the daemon reads the old one.
    private func settleMode(of descriptor: FileDescriptor, _ directive: MessageQueueDirective, created: Bool) throws {
        let status = try descriptor.status()
        guard created || status.owner == SystemInfo.userID else {
            throw ForeignQueue(name: directive.queueName, owner: status.owner, mode: status.permissions)
        }
        if status.permissions != directive.mode { try descriptor.changeMode(directive.mode) }
    }

    private static func mismatch(_ directive: MessageQueueDirective, _ limits: MessageQueue.Limits) -> String? {
        var differences: [String] = []
        if let wanted = directive.maxMessages, wanted != limits.maxMessages { differences.append("maxmsg=\(limits.maxMessages)") }
        if let wanted = directive.messageSize, wanted != limits.messageSize { differences.append("msgsize=\(limits.messageSize)") }
        return differences.isEmpty ? nil : differences.joined(separator: " ")
    }
}

/// One queue, read from the event loop: each message is a message of event `mq`, named after
/// the queue, its priority with it. The queue is not read while the bus is saturated or this
/// queue has too many messages unsettled, so that it fills and its senders wait (or get EAGAIN),
/// never the daemon.
final class MessageQueueChannel: ChannelReader, MessageSource {
    let directive: MessageQueueDirective
    private unowned let channels: ChannelSet
    private var receiving: LoopInterest!
    /// Holds the queue's longest message.
    private let buffer: UnsafeMutableRawBufferPointer
    private let origin: ChannelOrigin
    let unsettled = UnsettledCount()
    private var closed = false
    var isClosed: Bool { closed }

    /// Messages taken per wake-up, so a busy queue does not starve the rest of the loop.
    static let receiveBatch = 64

    init(directive: MessageQueueDirective, descriptor: FileDescriptor, messageSize: Int, channels: ChannelSet) {
        self.directive = directive
        self.channels = channels
        buffer = .allocate(byteCount: max(1, messageSize), alignment: 16)
        origin = ChannelOrigin(name: directive.name, event: .mq, type: .mq, peer: nil)
        receiving = LoopInterest(loop: channels.loop, descriptor: descriptor) { [unowned self] _ in self.receive() }
    }

    deinit { buffer.deallocate() }

    func refreshInterest() {
        guard !closed else { return }
        do {
            try receiving.set(channels.isPaused || !unsettled.hasRoom ? [] : .readable)
        } catch {
            channels.log.record("error", name: directive.name, [("name", directive.name), ("err", "\(error)")])
        }
    }

    func resume() { refreshInterest() }

    func close() {
        guard !closed else { return }
        closed = true
        receiving.close()
    }

    private func receive() {
        for _ in 0..<Self.receiveBatch where !channels.isPaused && unsettled.hasRoom && !closed {
            let message: (count: Int, priority: UInt32)?
            do {
                message = try MessageQueue.receive(receiving.descriptor, into: buffer)
            } catch {
                channels.log.record("error", name: directive.name, [("name", directive.name), ("err", "\(error)")])
                break
            }
            guard let message else { break }
            if message.count > channels.maxLine {
                channels.lines.refuseTooLong(message.count, from: origin, reply: nil)
                continue
            }
            let body = Bytes(UnsafeRawBufferPointer(rebasing: buffer[..<message.count]))
            channels.lines.submit(body, from: origin, by: self, reply: nil, extras: MessageExtras(priority: message.priority))
        }
        refreshInterest()
    }
}

extension MessageQueueDirective {
    /// Whether `other` describes the same queue with the same limits and mode (else it is reopened).
    func sameQueue(as other: MessageQueueDirective) -> Bool {
        queueName == other.queueName && mode == other.mode && maxMessages == other.maxMessages && messageSize == other.messageSize
    }
}

/// A queue at a directive's name that another user made: not read.
private struct ForeignQueue: Error, CustomStringConvertible {
    let name: Bytes
    let owner: UInt32
    let mode: UInt32

    var description: String {
        "queue \(text(name)) belongs to uid \(owner) (mode \(octalMode(mode))), not the daemon's: not read; "
            + "mq_unlink it, and the next start or reload makes the daemon's own"
    }
}
