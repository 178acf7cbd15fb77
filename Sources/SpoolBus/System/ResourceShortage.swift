import Glibc

extension SystemError {
    /// What ran out, when this error says the process or the system lacks something for now
    /// (descriptors, processes, memory, kernel buffers, disk space or quota): the same call may
    /// succeed later, unchanged, unlike a missing program or a refused permission. nil for any
    /// other error.
    ///
    /// The one list of shortages, for every use: a handler that cannot start yet (held back,
    /// then failed if the shortage lasts), a settling step (retried with backoff) and a client
    /// not accepted (a cool-down). No use needs a narrower set: the errors one call cannot give
    /// (ENOBUFS from a rename, EDQUOT from accept) never reach it. EAGAIN is named for fork and
    /// clone at a process limit; a non-blocking call's "would block" never becomes an error
    /// (`nonBlockingSyscall` returns nil for it).
    public var exhaustedResource: String? {
        switch errno {
        case EMFILE: return "descriptors"
        case ENFILE: return "system descriptors"
        case EAGAIN: return "processes"
        case ENOMEM: return "memory"
        case ENOBUFS: return "kernel buffers"
        case ENOSPC: return "memory or space"
        case EDQUOT: return "disk quota"
        default: return nil
        }
    }

    /// The call may succeed later, unchanged: `exhaustedResource` names what ran out.
    var isTemporaryShortage: Bool { exhaustedResource != nil }
}
