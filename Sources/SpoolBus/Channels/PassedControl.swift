/// What a socket message may carry besides its bytes: one descriptor (SCM_RIGHTS), open for
/// reading. Anything else refuses the message, and every descriptor that came is closed.
extension ReceivedControl {
    /// Descriptors taken with one message, at most.
    static let descriptorLimit = 1

    /// The descriptor to hand on with the message (nil when none came), or why the message is
    /// refused (its descriptors closed).
    func passedDescriptor() -> Result<PassedDescriptor?, ControlRefusal> {
        let refusal: String
        if truncated {
            refusal = "control data cut short (MSG_CTRUNC): more than \(UnixSocket.descriptorRoom) descriptors, or garbage; "
                + "one descriptor at most may come with a message"
        } else if unexpected {
            refusal = "unexpected control data: only a descriptor (SCM_RIGHTS) may come with a message"
        } else if descriptors.count > Self.descriptorLimit {
            refusal = "\(descriptors.count) descriptors came with one message; one at most is taken"
        } else if let only = descriptors.first {
            guard only.isOpenForReading else {
                closeAll()
                return .failure(ControlRefusal(reason: "the descriptor passed is not open for reading (O_WRONLY or O_PATH)"))
            }
            return .success(PassedDescriptor(only))
        } else {
            return .success(nil)
        }
        closeAll()
        return .failure(ControlRefusal(reason: refusal))
    }

    /// Adds what came with a later read for the same line (a stream socket).
    mutating func merge(_ other: ReceivedControl) {
        descriptors += other.descriptors
        truncated = truncated || other.truncated
        unexpected = unexpected || other.unexpected
    }
}

/// Why a message's control data refused it.
struct ControlRefusal: Error {
    let reason: String
}
