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
/// fcntl(F_SETLEASE, F_UNLCK).
int csb_release_lease(int fd);
/// pidfd_open(2), through syscall(2): glibc 2.36 has no wrapper in the headers Swift sees.
int csb_pidfd_open(pid_t pid);
/// SO_PEERCRED of a connected Unix socket; struct ucred needs _GNU_SOURCE.
int csb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);
/// setsockopt(SO_PASSCRED, 1), so datagrams carry SCM_CREDENTIALS.
int csb_enable_passcred(int fd);
/// recvmsg(2) of one packet with its SCM_CREDENTIALS (pid/uid/gid set to -1 when absent)
/// and the sender's address; the CMSG_* macros are not importable.
ssize_t csb_recv_packet(int fd, void *buf, size_t len, int flags,
                        pid_t *pid, uid_t *uid, gid_t *gid,
                        struct sockaddr_un *from, socklen_t *fromlen, int *truncated);

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
};

/// Starts a child in a new session (so its whole process group can be signalled),
/// with default signal dispositions, an empty signal mask and no descriptors but 0-2.
/// Returns 0 and sets *pid, or an errno value (exec failures included).
int csb_spawn(const struct csb_spawn_request *request, pid_t *pid);

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
