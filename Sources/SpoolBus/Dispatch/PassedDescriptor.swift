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
    /// A regular file that is opened anew for each run: not one of procfs and its kin, where
    /// root's open would grant root's access (the sender's `/proc/self/stack`, unreadable to it,
    /// or `/proc/PID/mem` of a set-user-ID program it then executed).
    private let reopens: Bool

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
        reopens = kind == .file && !descriptor.isOnOpenerCheckedFileSystem
    }

    /// What one run gets as its stdin (the spawn closes it once the child has it). A regular
    /// file is opened anew, read-only, at the offset it had when it came: each run, a retry or
    /// another rule's run of the same message at the same time, reads it whole with an offset of
    /// its own, and the sender's offset is never moved. Anything else is a duplicate of the one
    /// descriptor (a seekable device rewound to where it started): what a run read from a pipe
    /// or a socket is gone for the next, and runs at the same time share it.
    func forRun() throws -> FileDescriptor {
        if reopens, let own = try? descriptor.reopenForReading() {
            do {
                try own.seek(to: startOffset ?? 0)
            } catch {
                own.close()
                throw error
            }
            return own
        }
        if let startOffset { try descriptor.seek(to: startOffset) }
        return try descriptor.duplicate()
    }

    /// Closes it; later calls do nothing (a message is settled once, but a refusal and a settle
    /// path may both reach here).
    func close() {
        if descriptor.isOpen { descriptor.close() }
    }
}
