#ifndef CSPOOLBUSLINUX_H
#define CSPOOLBUSLINUX_H

// Headers whose declarations Swift's Glibc module does not carry.
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/types.h>
#include <signal.h>
#include <stdint.h>

// Each function below exists because Swift cannot reach the facility directly:
// it needs _GNU_SOURCE (Glibc's module is built without it), it is a macro, or it
// must run between fork and exec where Swift code is not safe.

/// pipe2(2) with O_CLOEXEC|O_NONBLOCK as asked; pipe2 is a GNU extension.
int csb_pipe2(int fds[2], int cloexec, int nonblock);
/// accept4(2) returning a CLOEXEC, non-blocking descriptor; accept4 is a GNU extension.
int csb_accept4(int fd);
/// fcntl(F_SETLEASE, F_RDLCK): fails with EAGAIN while anyone holds the file open for writing.
int csb_set_read_lease(int fd);
/// pidfd_open(2), through syscall(2): glibc 2.36 has no wrapper in the headers Swift sees.
int csb_pidfd_open(pid_t pid);
/// SO_PEERCRED of a connected Unix socket; struct ucred needs _GNU_SOURCE.
int csb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/// setsockopt(SO_PASSCRED, 1), so datagrams carry SCM_CREDENTIALS.
int csb_enable_passcred(int fd);
/// recvmsg(2) of one message with the descriptors passed with it (SCM_RIGHTS, close-on-exec),
/// at most `maxfds` of them into `fds` (*nfds set; any beyond are closed here), and its
/// SCM_CREDENTIALS when present (pid set to -1 when absent). *control_truncated is set when the
/// kernel cut the control data (MSG_CTRUNC: more descriptors than the buffer holds, which the
/// kernel closed), *unexpected_control when a control message of another kind came.
/// `from` may be NULL (a connected socket). The CMSG_* macros are not importable.
ssize_t csb_recv_with_rights(int fd, void *buf, size_t len, int flags,
                             int *fds, int maxfds, int *nfds, int *control_truncated, int *unexpected_control,
                             pid_t *pid, uid_t *uid, gid_t *gid,
                             struct sockaddr_un *from, socklen_t *fromlen);
/// sendmsg(2) of `len` bytes with one descriptor (SCM_RIGHTS), MSG_NOSIGNAL.
ssize_t csb_send_with_descriptor(int fd, const void *buf, size_t len, int passed);

/// mq_open(3) for reading, non-blocking and close-on-exec; with `create`, O_CREAT|O_EXCL with
/// `mode` and, when both are above zero, `maxmsg` and `msgsize`. mq_open is variadic.
int csb_mq_open_reading(const char *name, int create, unsigned int mode, long maxmsg, long msgsize);
/// mq_open(3) for writing, close-on-exec, blocking unless `nonblock`.
int csb_mq_open_writing(const char *name, int nonblock);
/// mq_getattr(3): the queue's capacity, longest message and messages now in it.
int csb_mq_limits(int mqd, long *maxmsg, long *msgsize, long *curmsgs);
/// mq_receive(3) and mq_send(3): <mqueue.h> is kept out of this header, since what it pulls in
/// makes names like S_IFIFO ambiguous in Swift.
ssize_t csb_mq_receive(int mqd, void *buf, size_t len, unsigned int *priority);
int csb_mq_send(int mqd, const void *buf, size_t len, unsigned int priority);

/// Decoding of a waitpid status; the W* macros are not importable.
int csb_exited(int status);
int csb_exit_status(int status);
int csb_signaled(int status);
int csb_term_signal(int status);

/// How a child is started. Fields a caller does not need are -1 / NULL.
struct csb_spawn_request {
    const char *path;        // program; searched in PATH when it holds no '/'
    char *const *argv;
    char *const *envp;
    const char *cwd;         // NULL: inherit
    int stdin_fd;            // -1: /dev/null
    int stdout_fd;           // -1: /dev/null
    int stderr_fd;           // -1: /dev/null
    int drop_privileges;     // nonzero: setgroups/setgid/setuid to the fields below
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    int unblock_outputs;     // nonzero: clear O_NONBLOCK on the child's stdout and stderr
};

/// Starts a child in a new session (so its whole process group can be signalled),
/// with default signal dispositions, an empty signal mask and no descriptors but 0-2.
/// Returns 0 and sets *pid and *pidfd (a close-on-exec pidfd made with the child, or -1
/// when the child was forked to drop privileges: pidfd_open it then), or an errno value
/// (exec failures included).
int csb_spawn(const struct csb_spawn_request *request, pid_t *pid, int *pidfd);

/// memfd_create(2) with MFD_CLOEXEC: a seekable in-memory file for a message body.
int csb_memfd_create(const char *name);

/// openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
/// RESOLVE_NO_XDEV and O_CLOEXEC | O_NOFOLLOW: `path` is resolved beneath `dirfd`, never through
/// a symlink, `..` out of it or a mount point. Linux 5.6; glibc 2.36 has no wrapper.
int csb_open_beneath(int dirfd, const char *path, int flags, unsigned int mode);
/// renameat2(2); flags as renameat2's (RENAME_NOREPLACE is csb_rename_noreplace_flag()).
int csb_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
unsigned int csb_rename_noreplace_flag(void);
/// O_PATH, O_TMPFILE: GNU names.
int csb_o_path(void);

/// fstatfs(2)'s f_type (the file system's magic number, linux/magic.h) in *type; -1 and errno on
/// failure. Glibc's Swift module hides struct statfs.
int csb_file_system_type(int fd, unsigned long long *type);
/// An O_PATH descriptor of `path` (absolute, or relative to the working folder) itself, by
/// openat2 with RESOLVE_NO_SYMLINKS: ELOOP when any component, the last included, is a symlink.
int csb_open_path_no_symlinks(const char *path);
/// uname(2)'s release field copied into `buf`.
int csb_kernel_release(char *buf, int len);

/// fcntl(F_SETPIPE_SZ): a pipe's capacity; returns the capacity set, or -1. A GNU name.
int csb_set_pipe_size(int fd, int size);

/// madvise(MADV_PAGEOUT) over every read-only or executable file mapping of the process (its
/// own code above all), as /proc/self/maps lists them: pages only start-up touched leave its
/// resident set and come back from the page cache if they are used again. Writable and
/// anonymous mappings are left alone. Returns how many mappings were advised, or -1.
int csb_page_out_file_mappings(void);

/// syncfs(2): flushes the filesystem holding `fd`; a GNU extension.
int csb_syncfs(int fd);

/// signal(sig, SIG_IGN); SIG_IGN is a cast macro Swift cannot import.
int csb_ignore_signal(int sig);

#endif
