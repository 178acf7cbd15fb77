/// The messages one channel handed to the bus that are not settled yet, so that channel alone
/// stops being read once it has `ChannelSet.unsettledLimitPerReader` of them, and reads again
/// (at the end of the loop's iteration, outside the dispatcher's own call) once one settles.
/// `LineSubmission.submit` does the counting for every `MessageSource`.
final class UnsettledCount {
    private(set) var count = 0

    var hasRoom: Bool { count < ChannelSet.unsettledLimitPerReader }

    /// Counts one more; returns true when that used up the room.
    func add() -> Bool {
        count += 1
        return count == ChannelSet.unsettledLimitPerReader
    }

    /// Counts one settled; returns true when that made room again.
    func settle() -> Bool {
        count -= 1
        return count == ChannelSet.unsettledLimitPerReader - 1
    }
}

/// A channel whose lines or packets become messages: a FIFO, a client of a stream or seqpacket
/// socket, a datagram socket.
protocol MessageSource: ChannelReader {
    var unsettled: UnsettledCount { get }
    var isClosed: Bool { get }
}
