/// A descriptor a socket client passed with its message (SCM_RIGHTS): the handler's stdin
/// instead of the line's bytes. It stays open until the message is settled, so that a retry
/// gets it too, and is closed then, once: by the message's settling, by its being put back when
/// the daemon stops, or by its refusal.
final class PassedDescriptor {
    /// What it is, as `SPOOL_FD_TYPE` says it.
    enum Kind: String {
        case file, pipe, socket, tty, char, block, dir
        /// Anything else: an eventfd, an epoll or pidfd, a memfd's kin with no file type.
        case other
    }

    let descriptor: FileDescriptor
    let kind: Kind
    /// Where a seekable one stood when it came: every run starts reading there.
    private let startOffset: Int64?

    init(_ descriptor: FileDescriptor) {
        self.descriptor = descriptor
        switch (try? descriptor.status())?.type {
        case .file: kind = .file
        case .fifo: kind = .pipe
        case .socket: kind = .socket
        case .char: kind = descriptor.isTerminal ? .tty : .char
        case .block: kind = .block
        case .dir: kind = .dir
        default: kind = .other
        }
        startOffset = kind == .file || kind == .block ? descriptor.currentOffset() : nil
    }

    /// A copy for one run's stdin (the spawn closes it once the child has it), rewound to where
    /// the first run started: a retry reads a file from the same place. What an earlier run
    /// read from a pipe or socket is gone for the next.
    func forRun() throws -> FileDescriptor {
        if let startOffset { try descriptor.seek(to: startOffset) }
        return try descriptor.duplicate()
    }

    /// Closes it; later calls do nothing (a message is settled once, but a refusal and a settle
    /// path may both reach here).
    func close() {
        if descriptor.isOpen { descriptor.close() }
    }
}
