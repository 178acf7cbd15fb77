/// The brokers the rules declare, each with its connection and its inbox, kept in step with
/// the rules across reloads: a broker whose line or `subscribe` lines changed is reconnected,
/// one no longer declared is disconnected (what waited for it fails and is retried or kept
/// as a dead letter by its rule).
final class MQTTBrokers {
    private let loop: EventLoop
    private let log: DispatchLog
    private let layout: SpoolLayout
    private let nextID: () -> Bytes
    private var connections: [String: (connection: BrokerConnection, inbox: MQTTInbox)] = [:]

    init(loop: EventLoop, log: DispatchLog, layout: SpoolLayout, nextID: @escaping () -> Bytes) {
        self.loop = loop
        self.log = log
        self.layout = layout
        self.nextID = nextID
    }

    func connection(named name: String) -> BrokerConnection? { connections[name]?.connection }

    func apply(_ rules: RuleSet) {
        var kept: [String: (connection: BrokerConnection, inbox: MQTTInbox)] = [:]
        for directive in rules.brokers {
            let subscriptions = rules.subscriptions.filter { $0.broker == directive.name }
            let existing = connections.removeValue(forKey: directive.name)
            if let existing, existing.connection.directive == directive && existing.connection.subscriptions == subscriptions {
                kept[directive.name] = existing
                continue
            }
            let clientID = directive.clientID ?? MQTTClientIdentity.defaultClientID(broker: directive.name, spool: layout.root)
            let connection = BrokerConnection(directive: directive, clientID: clientID, subscriptions: subscriptions, loop: loop, log: log)
            if let existing {
                existing.connection.close(handingOverTo: connection)
                existing.inbox.close()
            }
            let inbox = MQTTInbox(broker: directive.name, layout: layout, log: log, nextID: nextID)
            connection.onMessages = { [unowned connection, inbox] batch in inbox.store(batch, subscriptions: connection.subscriptions) }
            kept[directive.name] = (connection, inbox)
            connection.start()
        }
        for (_, gone) in connections {
            gone.connection.close()
            gone.inbox.close()
        }
        connections = kept
    }

    /// `broker.NAME=…` lines for `status`.
    var statusFacts: [(String, any LogValue)] {
        connections.keys.sorted().map { name in
            let entry = connections[name]!
            return ("broker." + name, entry.connection.statusText + " duplicates=\(entry.inbox.duplicates)")
        }
    }

    func close() {
        for (_, entry) in connections {
            entry.connection.close()
            entry.inbox.close()
        }
        connections.removeAll()
    }
}
