import Glibc

extension SystemError {
    /// The system lacks something for now (disk space, a quota, descriptors, memory): the same
    /// call may succeed later, unchanged.
    var isTemporaryShortage: Bool {
        [ENOSPC, EDQUOT, EMFILE, ENFILE, ENOMEM, EAGAIN].contains(errno)
    }

    /// `inotify_add_watch` refused a watch because the user's watch limit is reached: the kernel
    /// says ENOSPC, which reads as a full disk but means `fs.inotify.max_user_watches`.
    var isInotifyWatchLimit: Bool {
        operation == "inotify_add_watch" && errno == ENOSPC
    }
}
