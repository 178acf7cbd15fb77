/// One message on its way to a broker: waiting for the connection, written, or (QoS 1)
/// waiting for its PUBACK. Its `completion` is called once, on the loop.
final class OutgoingPublish {
    var packet: MQTTPublish
    /// How long the broker has to acknowledge it once it is written; the time it waits for a
    /// connection does not count.
    let acknowledgementTimeout: Duration
    private var completion: ((Result<Void, MQTTPublishFailure>) -> Void)?
    /// Set when it went out once: a resend after a reconnect is marked duplicate.
    var wasSent = false
    var timer: EventLoop.TimerID?

    init(packet: MQTTPublish, acknowledgementTimeout: Duration, completion: @escaping (Result<Void, MQTTPublishFailure>) -> Void) {
        self.packet = packet
        self.acknowledgementTimeout = acknowledgementTimeout
        self.completion = completion
    }

    var isFinished: Bool { completion == nil }

    func finish(_ result: Result<Void, MQTTPublishFailure>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}

/// Why a broker did not take a message.
struct MQTTPublishFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
