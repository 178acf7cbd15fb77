/// An error in plain words, for what is not a system call's failure (a bad argument, a lookup
/// that found nothing).
public struct SpoolBusError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
