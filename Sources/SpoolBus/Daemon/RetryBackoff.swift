/// How long to wait before trying again something a resource fault stopped: one second, doubling
/// after each failed try up to a minute, and one second again once it went through.
struct RetryBackoff {
    static let first = Duration.seconds(1)
    static let longest = Duration.seconds(60)

    private var delay = first

    /// The delay before the next try; the one after it is twice as long.
    mutating func next() -> Duration {
        defer { delay = min(delay * 2, Self.longest) }
        return delay
    }

    mutating func reset() { delay = Self.first }
}
