import Glibc

/// A thread of its own for one blocking call the event loop must not wait for (a host-name
/// lookup), rather than a thread of Swift's pool: as many lookups hanging as there are cores
/// would hold that pool, and with it every Swift handler's task, until they time out.
enum DetachedThread {
    private final class Work {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new detached thread; throws when none can be made (EAGAIN).
    static func run(_ body: @escaping @Sendable () -> Void) throws {
        let work = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { argument in
            Unmanaged<Work>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, work)
        guard status == 0 else {
            Unmanaged<Work>.fromOpaque(work).release()
            throw SystemError(errno: status, operation: "pthread_create", path: [])
        }
        pthread_detach(thread)
    }
}
