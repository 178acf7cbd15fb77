import Glibc

extension SystemError {
    /// What ran out, when this error says a resource of the process or the system is exhausted
    /// for now (descriptors, processes, memory): a condition that passes, unlike a missing
    /// program. nil for any other error.
    public var exhaustedResource: String? {
        switch errno {
        case EMFILE: return "descriptors"
        case ENFILE: return "system descriptors"
        case EAGAIN: return "processes"
        case ENOMEM: return "memory"
        case ENOSPC: return "memory or space"
        default: return nil
        }
    }
}
