import CSpoolBusLinux

extension FileDescriptor {
    /// Asks for a pipe capacity of `bytes`, so that each read of a busy pipe takes more; a
    /// refusal (the per-user pipe budget is spent) leaves the pipe as it was.
    func widenPipe(to bytes: Int) {
        _ = csb_set_pipe_size(rawValue, Int32(bytes))
    }
}
