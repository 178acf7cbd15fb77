/// An `mqtt:NAME TOPIC` handler run: publishes the message to the broker and succeeds when the
/// broker took it (PUBACK for QoS 1, handed to the kernel for QoS 0).
///
/// While the broker is unreachable the run waits, without spending its attempt or its timeout:
/// a broker down for an hour delays messages, it never makes them dead letters. The rule's
/// `timeout=` bounds only the wait for the PUBACK once the message is written; a refusal by the
/// broker (a PUBACK reason code from 0x80) fails the run, which the rule retries as usual.
final class MQTTPublishRun: HandlerRun {
    private let job: Job
    private let context: RunContext
    private let completion: (RunOutcome) -> Void
    private var outgoing: OutgoingPublish?
    private weak var broker: BrokerConnection?
    private let started = MonotonicInstant.now()
    private var finished = false

    init(job: Job, context: RunContext, completion: @escaping (RunOutcome) -> Void) {
        self.job = job
        self.context = context
        self.completion = completion
    }

    func start(_ spec: MQTTPublishSpec, broker: BrokerConnection?) {
        let message = job.message
        let layout = context.layout
        let topic = spec.expandedTopic { message.value(of: $0, in: layout) }
        context.log.record("run", name: message.name, [
            ("id", message.id), ("rule", job.rule.line), ("handler", "mqtt:" + spec.broker), ("topic", topic), ("attempt", job.attempt),
        ])
        guard let broker else { return finish(.couldNotStart("no broker named '\(spec.broker)'")) }
        guard topic.count <= 0xFFFF else { return finish(.couldNotStart("the topic is longer than 65535 bytes")) }
        let payload: Bytes
        do {
            payload = try message.body.read()
        } catch {
            return finish(.couldNotStart("cannot read the message: \(error)"))
        }
        var properties = MQTTProperties()
        let origin: [(String, Bytes)] = [
            (MessageOrigin.nameProperty, MQTTTopicEscaping.escape(message.name, atStart: false)),
            (MessageOrigin.idProperty, message.id), (MessageOrigin.hostProperty, SystemInfo.hostName.bytes),
        ]
        for (name, value) in origin { properties.add(MQTTProperties.userProperty, .pair(name.bytes, value)) }
        let packet = MQTTPublish(topic: topic, payload: payload, qos: spec.qos, retain: spec.retain, properties: properties)
        let outgoing = OutgoingPublish(packet: packet, acknowledgementTimeout: job.rule.timeout) { [weak self] result in
            switch result {
            case .success: self?.finish(.succeeded)
            case .failure(let failure): self?.finish(.threw(failure.description))
            }
        }
        self.outgoing = outgoing
        self.broker = broker
        broker.send(outgoing)
    }

    func terminate() { stop() }

    func kill() { stop() }

    /// The connection it was given to may be gone (a reload handed it on): the run ends here
    /// either way, and whichever connection holds the message skips or ignores it.
    private func stop() {
        guard let outgoing, !outgoing.isFinished else { return }
        broker?.cancel(outgoing)
        outgoing.finish(.failure(MQTTPublishFailure("cancelled")))
    }

    private func finish(_ result: RunOutcome.Result) {
        guard !finished else { return }
        finished = true
        completion(RunOutcome(result: result, milliseconds: MonotonicInstant.now().duration(since: started).milliseconds))
    }
}
