import Glibc

extension SystemError {
    /// `inotify_add_watch` refused a watch because the user's watch limit is reached: the kernel
    /// says ENOSPC, which reads as a full disk but means `fs.inotify.max_user_watches`.
    var isInotifyWatchLimit: Bool {
        operation == "inotify_add_watch" && errno == ENOSPC
    }
}
