import Synchronization

/// The daemon's single event loop: one `epoll_wait` for descriptors, timers, signals and
/// work posted from other threads. Everything that touches the bus's state runs on it.
///
/// Nothing wakes it when nothing happens: there is no periodic tick, and the timerfd is armed
/// only while some timer is pending.
final class EventLoop {
    typealias Readiness = Epoll.Interest
    typealias TimerID = UInt64

    private let epoll: Epoll
    private let timerDescriptor: FileDescriptor
    private let wakeDescriptor: FileDescriptor
    private var handlers: [UInt64: (Readiness) -> Void] = [:]
    private var tokens: [Int32: UInt64] = [:]
    private var nextToken: UInt64 = 16
    private var timers = TimerQueue()
    private var armedDeadline: MonotonicInstant?
    private let posted = Mutex<[() -> Void]>([])
    private var running = false
    /// Runs each time the loop is about to wait: the end of one batch of work.
    var beforeWaiting: () -> Void = {}
    /// Work asked for once before the next wait (`atEndOfIteration`), in the order asked.
    private var endOfIteration: [() -> Void] = []

    private static let timerToken: UInt64 = 1
    private static let wakeToken: UInt64 = 2

    init() throws {
        epoll = try Epoll()
        timerDescriptor = try KernelNotifiers.timerDescriptor()
        wakeDescriptor = try KernelNotifiers.eventDescriptor()
        try epoll.add(timerDescriptor, interest: .readable, token: Self.timerToken)
        try epoll.add(wakeDescriptor, interest: .readable, token: Self.wakeToken)
    }

    /// Calls `handler` whenever `fd` is ready as asked. One registration per descriptor.
    func register(_ fd: FileDescriptor, for interest: Readiness, _ handler: @escaping (Readiness) -> Void) throws {
        let token = nextToken
        nextToken += 1
        try epoll.add(fd, interest: interest, token: token)
        tokens[fd.rawValue] = token
        handlers[token] = handler
    }

    /// Changes what a registered descriptor is watched for (e.g. pause reading under back-pressure).
    func change(_ fd: FileDescriptor, to interest: Readiness) throws {
        guard let token = tokens[fd.rawValue] else { return }
        try epoll.modify(fd, interest: interest, token: token)
    }

    /// Stops watching `fd`. Call before closing it; events already fetched for it are dropped.
    func unregister(_ fd: FileDescriptor) {
        guard let token = tokens.removeValue(forKey: fd.rawValue) else { return }
        handlers[token] = nil
        epoll.remove(fd)
    }

    /// Stops watching `fd`, which the caller closes right after, with no epoll_ctl: closing
    /// the last descriptor of an open file takes it out of the epoll set. Only for descriptors
    /// nothing else holds (the daemon's end of a handler's pipe, a pidfd: close-on-exec, and a
    /// child shares them only until its exec, while the daemon waits for it); events already
    /// fetched for it are dropped.
    func unregisterBeforeClosing(_ fd: FileDescriptor) {
        guard let token = tokens.removeValue(forKey: fd.rawValue) else { return }
        handlers[token] = nil
    }

    /// Runs `work` on the loop after `delay`.
    @discardableResult
    func schedule(after delay: Duration, _ work: @escaping () -> Void) -> TimerID {
        timers.insert(deadline: MonotonicInstant.now().advanced(by: delay), work)
    }

    func cancel(_ timer: TimerID) {
        timers.cancel(timer)
    }

    /// Runs `work` once, after what this iteration handles and before the loop waits again:
    /// what many handlers of one iteration each ask for (bytes to send on one socket) is then
    /// done once for all of them.
    func atEndOfIteration(_ work: @escaping () -> Void) {
        endOfIteration.append(work)
    }

    /// Runs `work` on the loop soon; callable from any thread.
    func post(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = posted.withLock { queue in
            queue.append(work)
            return queue.count == 1
        }
        if wasEmpty { KernelNotifiers.signalEvent(wakeDescriptor) }
    }

    /// Runs until `stop()` is called from a handler.
    func run() throws {
        running = true
        var buffer = Epoll.makeBuffer(capacity: 256)
        while running {
            runEndOfIteration()
            beforeWaiting()
            try rearmTimer()
            for event in try epoll.wait(into: &buffer, timeout: -1) {
                switch event.token {
                case Self.timerToken:
                    KernelNotifiers.drainCounter(timerDescriptor)
                    armedDeadline = nil
                case Self.wakeToken:
                    KernelNotifiers.drainCounter(wakeDescriptor)
                    runPosted()
                default:
                    handlers[event.token]?(event.readiness)
                }
            }
            runDueTimers()
        }
        runEndOfIteration()
        beforeWaiting()
    }

    private func runEndOfIteration() {
        while !endOfIteration.isEmpty {
            let work = endOfIteration
            endOfIteration.removeAll()
            for item in work { item() }
        }
    }

    func stop() {
        running = false
    }

    private func runPosted() {
        let work = posted.withLock { queue in
            let taken = queue
            queue.removeAll()
            return taken
        }
        for item in work { item() }
    }

    private func runDueTimers() {
        let now = MonotonicInstant.now()
        while let work = timers.popDue(now: now) { work() }
    }

    private func rearmTimer() throws {
        let next = timers.nextDeadline
        if next != armedDeadline {
            try KernelNotifiers.arm(timerDescriptor, at: next)
            armedDeadline = next
        }
    }
}

/// Pending timers, earliest first (a binary heap; cancelled entries are skipped lazily).
struct TimerQueue {
    private struct Entry {
        let deadline: MonotonicInstant
        let id: UInt64
    }
    private var heap: [Entry] = []
    private var work: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 1

    mutating func insert(deadline: MonotonicInstant, _ item: @escaping () -> Void) -> UInt64 {
        let id = nextID
        nextID += 1
        work[id] = item
        heap.append(Entry(deadline: deadline, id: id))
        siftUp(heap.count - 1)
        return id
    }

    mutating func cancel(_ id: UInt64) {
        work[id] = nil
    }

    var nextDeadline: MonotonicInstant? {
        mutating get {
            dropCancelled()
            return heap.first?.deadline
        }
    }

    mutating func popDue(now: MonotonicInstant) -> (() -> Void)? {
        dropCancelled()
        guard let top = heap.first, top.deadline <= now else { return nil }
        removeTop()
        return work.removeValue(forKey: top.id)
    }

    private mutating func dropCancelled() {
        while let top = heap.first, work[top.id] == nil { removeTop() }
    }

    private mutating func removeTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].deadline, heap[a].id) < (heap[b].deadline, heap[b].id)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && less(left, smallest) { smallest = left }
            if right < heap.count && less(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
