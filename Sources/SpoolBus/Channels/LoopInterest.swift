/// What the event loop watches one channel descriptor for, changed as the channel's state
/// changes (paused for back-pressure, waiting to write a reply).
///
/// An empty interest unregisters the descriptor rather than leaving it registered for nothing:
/// epoll reports a hang-up whatever one asks for, and a paused socket whose peer left would
/// otherwise wake the loop forever.
final class LoopInterest {
    private let loop: EventLoop
    let descriptor: FileDescriptor
    private let handler: (EventLoop.Readiness) -> Void
    private(set) var current: EventLoop.Readiness = []

    init(loop: EventLoop, descriptor: FileDescriptor, handler: @escaping (EventLoop.Readiness) -> Void) {
        self.loop = loop
        self.descriptor = descriptor
        self.handler = handler
    }

    /// Watches for `interest` from now on; throws only when epoll refuses the descriptor.
    func set(_ interest: EventLoop.Readiness) throws {
        guard interest != current else { return }
        if interest.isEmpty {
            loop.unregister(descriptor)
        } else if current.isEmpty {
            try loop.register(descriptor, for: interest, handler)
        } else {
            try loop.change(descriptor, to: interest)
        }
        current = interest
    }

    /// Stops watching and closes the descriptor.
    func close() {
        if !current.isEmpty { loop.unregister(descriptor) }
        current = []
        descriptor.close()
    }
}
