/// A weak reference to an object of the event loop's thread, to carry through work done
/// elsewhere (a Swift handler's task, a host-name lookup) and touch again only in what that
/// work posts back to the loop (`EventLoop.post`).
final class LoopBound<Value: AnyObject>: @unchecked Sendable {
    weak var value: Value?
    init(_ value: Value) { self.value = value }
}
