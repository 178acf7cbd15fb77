extension ControlServer {
    /// The `status` answer: one `key=value` line per fact, values in the log's escapes.
    func statusLines() -> [Bytes] {
        let dispatcher = channels.dispatcher
        let counters = dispatcher.counters
        let uptime = MonotonicInstant.now().duration(since: channels.started)
        let facts: [(String, any LogValue)] = [
            ("pid", SystemInfo.processID),
            ("version", spoolBusVersion),
            ("spool", channels.layout.root),
            ("rules", channels.rulesPath),
            ("rules_loaded", channels.ruleCount),
            ("uptime", formatDuration(.seconds(uptime.nanoseconds / 1_000_000_000))),
            ("uptime_seconds", Int(uptime.nanoseconds / 1_000_000_000)),
            ("received", counters.received),
            ("ok", counters.ok),
            ("failed", counters.failed),
            ("dead", counters.dead),
            ("nomatch", counters.nomatch),
            ("running", dispatcher.running),
            ("queued", dispatcher.queued),
            ("retrying", dispatcher.waitingForRetry),
            ("fifos", channels.fifoCount),
            ("sockets", channels.listenerCount),
            ("clients", channels.clientCount),
            ("watchers", watcherCount),
            ("paused", channels.isPaused ? "yes" : "no"),
            ("pauses", channels.counters.pauses),
            ("throttles", channels.counters.throttles),
            ("too_long", channels.counters.linesTooLong),
            ("clients_refused", channels.counters.clientsRefused),
            ("replies_dropped", channels.counters.repliesDropped),
            ("watchers_dropped", channels.counters.watchersDropped),
            ("descriptors_refused", channels.counters.descriptorsRefused),
            ("queues", channels.queueCount),
            ("signals", channels.signals.receivedTotal),
            ("signals_by_name", channels.signals.receivedByName),
            ("signals_ignored", channels.signals.ignored),
            ("signals_dropped", channels.signals.dropped),
        ] + channels.busFacts()
        return facts.map { key, value in
            var line = key.bytes + [UInt8(ascii: "=")]
            LogEscaping.append(value.logBytes, to: &line)
            return line + [UInt8(ascii: "\n")]
        }
    }
}
