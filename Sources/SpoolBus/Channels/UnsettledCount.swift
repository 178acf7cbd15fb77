/// The messages one channel handed to the bus that are not settled yet, so that channel alone
/// stops being read once it has `ChannelSet.unsettledLimitPerReader` of them, and reads again
/// (on the next turn of the loop, outside the dispatcher's own call) once one settles.
struct UnsettledCount {
    private(set) var count = 0

    var hasRoom: Bool { count < ChannelSet.unsettledLimitPerReader }

    /// Counts one more; returns true when that used up the room.
    mutating func add() -> Bool {
        count += 1
        return count == ChannelSet.unsettledLimitPerReader
    }

    /// Counts one settled; returns true when that made room again.
    mutating func settle() -> Bool {
        count -= 1
        return count == ChannelSet.unsettledLimitPerReader - 1
    }
}
