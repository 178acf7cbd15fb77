/// Turns a line or packet of a channel into a message: matches it against the rules, keeps it
/// on disk first for a `durable` channel, hands it to the dispatcher with its settling attached,
/// and answers the client (at once, or when a `reply` rule's handler ends). It also counts what
/// is in flight, so the channels pause when the dispatcher is saturated.
final class LineSubmission {
    private unowned let channels: ChannelSet
    /// Lines kept on disk: `durable` ones, and those a previous run left in `work/`.
    private let claims: ClaimStore
    private let settlement: Settlement
    /// Bytes of messages handed to the dispatcher and not settled yet.
    private(set) var inFlightBytes = 0
    /// Gives message ids (the bus's generator).
    var nextID: () -> Bytes = { [] }

    init(channels: ChannelSet, settlement: Settlement) {
        self.channels = channels
        claims = ClaimStore(layout: channels.layout)
        self.settlement = settlement
    }

    /// A line the bus took: it matches rules, has its id, and is on disk when its channel is
    /// `durable`; not dispatched yet.
    struct Accepted {
        let body: Bytes
        let id: Bytes
        let origin: ChannelOrigin
        let kept: ClaimedFile?
        let matching: [Rule]
        let extras: MessageExtras
    }

    /// Hands a line or packet to the rules it matches. `reply` (nil when nobody can be answered)
    /// is called once: at once with `ok ID` or `error …`, or when a `reply` rule's handler ends.
    /// A line of a `durable` channel is on disk before that. A message counts against `source`'s
    /// room for unsettled messages until all its rules are done; the source reads again once it
    /// has room.
    /// `extras` go with the message; a passed descriptor among them is closed once the message
    /// is settled, or at once when it is refused.
    func submit(_ body: Bytes, from origin: ChannelOrigin, by source: MessageSource, reply: ((Bytes) -> Void)?,
                extras: MessageExtras = MessageExtras()) {
        guard let accepted = accept(body, from: origin, reply: reply, extras: extras) else { return }
        dispatch(accepted, by: source, reply: reply)
    }

    /// The first half of `submit`: matches the line, gives it an id and, for a `durable`
    /// channel, writes it to disk. Nil when no rule takes it (`reply` has been told) or when a
    /// client's durable line could not be kept (likewise). A FIFO has no one to tell: it takes
    /// every line it reads at once, so that a `durable` FIFO's lines are on disk from the moment
    /// they leave the kernel's pipe, even those back-pressure holds back.
    func accept(_ body: Bytes, from origin: ChannelOrigin, reply: ((Bytes) -> Void)?,
                extras: MessageExtras = MessageExtras()) -> Accepted? {
        let matching = channels.rules.rules(for: origin.name, event: origin.event)
        guard !matching.isEmpty else {
            extras.descriptor?.close()
            channels.dispatcher.countNoMatch()
            channels.log.record("nomatch", name: origin.name, [("name", origin.name), ("event", origin.event.rawValue), ("size", body.count)])
            reply?(ChannelReply.refused("no rule takes \(origin.event.rawValue) messages from \(text(origin.name))"))
            return nil
        }
        let durable = isDurable(origin)
        if durable, extras.descriptor != nil {
            // The line could be kept on disk, its descriptor could not: after a crash the
            // message would come back without what the client passed.
            extras.descriptor?.close()
            channels.counters.descriptorsRefused += 1
            channels.log.record("error", name: origin.name, [("name", origin.name), ("event", origin.event.rawValue),
                                                             ("err", "refused a descriptor: a durable socket cannot keep one across a crash")])
            reply?(ChannelReply.refused("\(text(origin.name)) is durable: a passed descriptor cannot survive a crash; send it to a socket without durable"))
            return nil
        }
        if extras.descriptor != nil, let worker = matching.first(where: \.worker) {
            // A worker reads lines on one stdin: the descriptor has no way to it, and the
            // request without it would tell the client that a handler read what it never saw.
            extras.descriptor?.close()
            channels.counters.descriptorsRefused += 1
            channels.log.record("error", name: origin.name, [("name", origin.name), ("event", origin.event.rawValue), ("rule", worker.line),
                                                             ("err", "refused a descriptor: the worker rule of line \(worker.line) cannot pass one to its worker")])
            reply?(ChannelReply.refused("the worker rule of line \(worker.line) takes lines only: a passed descriptor cannot reach a worker; send the bytes in the message or use a rule without worker"))
            return nil
        }
        let id = nextID()
        var kept: ClaimedFile?
        if durable {
            do {
                kept = try claims.keepLine(body, id: id, origin: origin)
            } catch {
                channels.log.record("error", name: origin.name, [("id", id), ("name", origin.name), ("err", "cannot keep the line on disk: \(error)")])
                // A client is told and may send again; a FIFO line, already read, is dispatched anyway.
                if let reply {
                    reply(ChannelReply.refused("cannot keep the message on disk: \(error)"))
                    return nil
                }
            }
        }
        return Accepted(body: body, id: id, origin: origin, kept: kept, matching: matching, extras: extras)
    }

    /// `accept` for the lines of one FIFO read, all at once: a `durable` FIFO's lines are
    /// written together and made durable with one syncfs (`ClaimStore.keepLines`), so none
    /// waits behind the others' fsyncs while a kill could take it.
    func acceptAll(_ bodies: [Bytes], from origin: ChannelOrigin) -> [Accepted] {
        guard !bodies.isEmpty else { return [] }
        let matching = channels.rules.rules(for: origin.name, event: origin.event)
        guard !matching.isEmpty else {
            for body in bodies { _ = accept(body, from: origin, reply: nil) }
            return []
        }
        let lines = bodies.map { (body: $0, id: nextID()) }
        var kept: [ClaimedFile?] = Array(repeating: nil, count: lines.count)
        if isDurable(origin) {
            do {
                kept = try claims.keepLines(lines, origin: origin)
            } catch {
                // Already read from the FIFO: dispatched anyway, without the promise.
                channels.log.record("error", name: origin.name, [
                    ("name", origin.name), ("lines", lines.count), ("err", "cannot keep the lines on disk: \(error)"),
                ])
            }
        }
        return zip(lines, kept).map { line, kept in
            Accepted(body: line.body, id: line.id, origin: origin, kept: kept, matching: matching, extras: MessageExtras())
        }
    }

    /// The second half of `submit`: hands an accepted line to the dispatcher.
    func dispatch(_ accepted: Accepted, by source: MessageSource, reply: ((Bytes) -> Void)?) {
        dispatch(accepted.body, id: accepted.id, from: accepted.origin, kept: accepted.kept, to: accepted.matching,
                 by: source, reply: reply, extras: accepted.extras)
    }

    /// A line a previous run kept in `work/` (a `durable` channel's, or one put back into the
    /// spool by `retry`): dispatched as a line of its channel again, to the rules that match it
    /// now; a dead letter again when none does.
    func recover(_ file: ClaimedFile, from origin: ChannelOrigin) {
        let body: Bytes
        do {
            body = try file.read()
        } catch {
            return channels.log.record("error", name: file.name, [("id", file.id), ("name", file.name), ("err", "\(error)")])
        }
        let matching = channels.rules.rules(for: origin.name, event: origin.event)
        guard !matching.isEmpty else {
            channels.dispatcher.countNoMatch()
            channels.log.record("nomatch", name: file.name, [("id", file.id), ("name", file.name), ("event", origin.event.rawValue)])
            settlement.buryLine(file, reason: "no rule takes \(origin.event.rawValue) messages from \(text(file.name)) any more\n".bytes)
            return
        }
        dispatch(body, id: file.id, from: origin, kept: file, to: matching, by: nil, reply: nil)
    }

    /// A line or packet longer than `--max-line`: dropped, counted, logged.
    func refuseTooLong(_ length: Int, from origin: ChannelOrigin, reply: ((Bytes) -> Void)?, extras: MessageExtras = MessageExtras()) {
        extras.descriptor?.close()
        channels.counters.linesTooLong += 1
        channels.log.record("error", name: origin.name, [
            ("name", origin.name), ("event", origin.event.rawValue), ("size", length),
            ("err", "longer than the \(channels.maxLine)-byte limit (--max-line); dropped"),
        ])
        reply?(ChannelReply.refused("message of \(length) bytes is longer than the \(channels.maxLine)-byte limit"))
    }

    private func isDurable(_ origin: ChannelOrigin) -> Bool {
        switch origin.event {
        case .fifo: return channels.rules.fifos.contains { $0.name == origin.name && $0.durable }
        case .socket: return channels.sockets.isDurable(origin.name)
        default: return false
        }
    }

    /// A refusal of a message before it became one, with its reason told to the client (when
    /// there is one) and said in the log: too many descriptors, control data that makes no sense.
    func refuse(from origin: ChannelOrigin, reason: String, reply: ((Bytes) -> Void)?) {
        channels.counters.descriptorsRefused += 1
        channels.log.record("error", name: origin.name, [("name", origin.name), ("event", origin.event.rawValue), ("err", reason)])
        reply?(ChannelReply.refused(reason))
    }

    private func dispatch(_ body: Bytes, id: Bytes, from origin: ChannelOrigin, kept: ClaimedFile?, to matching: [Rule],
                          by source: MessageSource?, reply: ((Bytes) -> Void)?, extras: MessageExtras = MessageExtras()) {
        let message = Message(id: id, name: origin.name, event: origin.event, type: origin.type, body: .line(body), peer: origin.peer,
                              extras: extras)
        channels.dispatcher.countReceived()
        // A line only `log=failures` rules take is not logged unless it fails.
        if matching.contains(where: { $0.log == .all }) {
            var fields: [(String, any LogValue)] = [("id", id), ("name", origin.name), ("event", origin.event.rawValue), ("size", body.count)]
            if let peer = origin.peer {
                if let pid = peer.pid { fields.append(("peer_pid", pid)) }
                fields.append(("peer_uid", peer.uid))
            }
            if let passed = extras.descriptor { fields.append(("fd_type", passed.kind.rawValue)) }
            if let priority = extras.priority { fields.append(("priority", Int(priority))) }
            if let value = extras.signalValue { fields.append(("signal_value", Int(value))) }
            if kept != nil { fields.append(("durable", 1)) }
            if source == nil { fields.append(("recovered", 1)) }
            channels.log.record("recv", name: origin.name, fields)
        }
        let replies = matching.contains { $0.reply }
        let size = body.count
        inFlightBytes += size
        // Counted before it is dispatched: an inline handler settles it inside `deliver`.
        if let source, source.unsettled.add() { channels.counters.throttles += 1 }
        let delivery = Delivery(message: message, ruleCount: matching.count, deadLetterName: nil) { [unowned self, weak source] delivery in
            self.inFlightBytes -= size
            extras.descriptor?.close()
            self.settlement.settleLine(delivery, body: body, origin: origin, kept: kept)
            if replies { reply?(self.settlement.reply(to: delivery)) }
            guard let source, source.unsettled.settle() else { return }
            // Room again: read on once this iteration's events are handled, not inside the
            // dispatcher. Not a timer: a zero-delay timer armed the timerfd and woke the loop
            // through it, several system calls for each line settled while a reader is full.
            self.channels.loop.atEndOfIteration { [weak source] in
                guard let source, !source.isClosed else { return }
                source.resume()
            }
        }
        delivery.putBack = { [settlement] delivery in
            extras.descriptor?.close()
            return settlement.putBackLine(delivery, body: body, origin: origin, kept: kept)
        }
        if !replies { reply?(ChannelReply.accepted(id)) }
        channels.dispatcher.deliver(delivery, to: matching)
        channels.pauseIfSaturated()
    }
}
