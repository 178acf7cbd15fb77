#define _GNU_SOURCE
#include "CSpoolBusLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/openat2.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int csb_pipe2(int fds[2], int cloexec, int nonblock) {
    return pipe2(fds, (cloexec ? O_CLOEXEC : 0) | (nonblock ? O_NONBLOCK : 0));
}

int csb_accept4(int fd) {
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int csb_set_read_lease(int fd) { return fcntl(fd, F_SETLEASE, F_RDLCK); }


int csb_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int csb_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int csb_enable_passcred(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
}

ssize_t csb_recv_with_rights(int fd, void *buf, size_t len, int flags,
                             int *fds, int maxfds, int *nfds, int *control_truncated, int *unexpected_control,
                             pid_t *pid, uid_t *uid, gid_t *gid,
                             struct sockaddr_un *from, socklen_t *fromlen) {
    // Room for credentials and 16 descriptors: more than that is MSG_CTRUNC (the kernel closes
    // what does not fit), fewer are counted and refused above if there is more than one.
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = {
        .msg_name = from, .msg_namelen = from ? *fromlen : 0,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    ssize_t n = recvmsg(fd, &msg, flags | MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    *pid = -1; *uid = (uid_t)-1; *gid = (gid_t)-1;
    *nfds = 0; *unexpected_control = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *pid = cred.pid; *uid = cred.uid; *gid = cred.gid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int passed;
                memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
                if (*nfds < maxfds) fds[(*nfds)++] = passed; else close(passed);
            }
        } else {
            *unexpected_control = 1;
        }
    }
    if (from) *fromlen = msg.msg_namelen;
    *control_truncated = (msg.msg_flags & MSG_CTRUNC) != 0;
    return n;
}

ssize_t csb_send_with_descriptor(int fd, const void *buf, size_t len, int passed) {
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passed, sizeof passed);
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

int csb_mq_open_reading(const char *name, int create, unsigned int mode, long maxmsg, long msgsize) {
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    if (!create) return mq_open(name, flags);
    struct mq_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.mq_maxmsg = maxmsg;
    attr.mq_msgsize = msgsize;
    return mq_open(name, flags | O_CREAT | O_EXCL, (mode_t)mode, (maxmsg > 0 && msgsize > 0) ? &attr : NULL);
}

int csb_mq_open_writing(const char *name, int nonblock) {
    return mq_open(name, O_WRONLY | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

ssize_t csb_mq_receive(int mqd, void *buf, size_t len, unsigned int *priority) {
    return mq_receive(mqd, buf, len, priority);
}

int csb_mq_send(int mqd, const void *buf, size_t len, unsigned int priority) {
    return mq_send(mqd, buf, len, priority);
}

int csb_mq_limits(int mqd, long *maxmsg, long *msgsize, long *curmsgs) {
    struct mq_attr attr;
    if (mq_getattr(mqd, &attr) != 0) return -1;
    *maxmsg = attr.mq_maxmsg;
    *msgsize = attr.mq_msgsize;
    *curmsgs = attr.mq_curmsgs;
    return 0;
}

int csb_open_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC | O_NOFOLLOW);
    // openat2 rejects a mode unless O_CREAT or O_TMPFILE is asked for. glibc's O_TMPFILE
    // includes O_DIRECTORY, so a plain O_DIRECTORY open must not count as one.
    how.mode = ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int csb_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

unsigned int csb_rename_noreplace_flag(void) { return RENAME_NOREPLACE; }

int csb_o_path(void) { return O_PATH; }

int csb_file_system_type(int fd, unsigned long long *type) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    *type = (unsigned long long)info.f_type;
    return 0;
}

int csb_open_path_no_symlinks(const char *path) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(O_PATH | O_CLOEXEC | O_NOFOLLOW);
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
}

int csb_kernel_release(char *buf, int len) {
    struct utsname u;
    if (uname(&u) != 0) return -1;
    snprintf(buf, (size_t)len, "%s", u.release);
    return 0;
}

int csb_page_out_file_mappings(void) {
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return -1;
    char line[4096];
    int advised = 0;
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end, inode;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, perms, &inode) != 4) continue;
        if (inode == 0 || perms[1] == 'w') continue;
        if (madvise((void *)start, end - start, MADV_PAGEOUT) == 0) advised++;
    }
    fclose(maps);
    return advised;
}

int csb_syncfs(int fd) { return syncfs(fd); }

int csb_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

int csb_exited(int status) { return WIFEXITED(status); }
int csb_exit_status(int status) { return WEXITSTATUS(status); }
int csb_signaled(int status) { return WIFSIGNALED(status); }
int csb_term_signal(int status) { return WTERMSIG(status); }

// The signals whose disposition is not SIG_DFL: a child must not run the daemon's handlers
// (it shares its memory until exec) nor keep what it ignores (SIG_IGN survives exec). Learnt
// once, at the first spawn, and kept up to date by csb_ignore_signal, the only way the daemon
// changes a disposition: resetting only these costs a few sigaction calls per spawn where
// resetting every signal costs 64, each of them holding up the daemon until the exec.
static sigset_t non_default;
static int non_default_known;

static void learn_non_default(void) {
    if (non_default_known) return;
    sigemptyset(&non_default);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction current;
        if (sigaction(sig, NULL, &current) == 0 && current.sa_handler != SIG_DFL) sigaddset(&non_default, sig);
    }
    non_default_known = 1;
}

int csb_ignore_signal(int sig) {
    if (signal(sig, SIG_IGN) == SIG_ERR) return -1;
    if (non_default_known) sigaddset(&non_default, sig);
    return 0;
}

// A script saved a moment ago may still be open for writing by its editor: exec then
// fails with ETXTBSY for a few milliseconds (entr retries the same way).
enum { busy_retries = 10 };
static const struct timespec busy_pause = { 0, 10 * 1000 * 1000 };

// Closes every descriptor above 2 but `keep` (-1: none), between fork and exec. close_range
// came in Linux 5.9; on 5.6-5.8 each possible descriptor is closed in turn (getrlimit and
// close are async-signal-safe).
static int close_all_but(int keep) {
    if ((keep <= 3 || syscall(SYS_close_range, 3, keep - 1, 0) == 0) &&
        syscall(SYS_close_range, keep < 3 ? 3 : keep + 1, ~0U, 0) == 0) return 0;
    if (errno != ENOSYS) return -1;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
    int last = limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > 1048576 ? 1048576 : (int)limit.rlim_cur;
    for (int fd = 3; fd < last; fd++) if (fd != keep) close(fd);
    return 0;
}

// Makes descriptor `fd` (or /dev/null when it is -1) the child's descriptor `target`.
static int install(int fd, int target) {
    if (fd < 0) {
        int null = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
        if (null < 0) return -1;
        if (null == target) return 0;
        int done = dup2(null, target);
        close(null);
        return done < 0 ? -1 : 0;
    }
    // dup2 onto itself keeps close-on-exec set.
    if (fd == target) return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static void exec_with_retries(const struct csb_spawn_request *r) {
    for (int attempt = 0;; attempt++) {
        if (strchr(r->path, '/')) execve(r->path, r->argv, r->envp);
        else execvpe(r->path, r->argv, r->envp);
        if (errno != ETXTBSY || attempt == busy_retries) return;
        nanosleep(&busy_pause, NULL);
    }
}

struct plain_child {
    const struct csb_spawn_request *request;
    volatile int err;
};

// Runs in the child, on its own stack but in the daemon's memory (CLONE_VM), with every
// signal blocked, while the daemon waits for its exec (CLONE_VFORK): only system calls, and
// the errno of a failure left in `err` for the daemon to read.
static int plain_child_main(void *argument) {
    struct plain_child *child = argument;
    const struct csb_spawn_request *r = child->request;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) if (sigismember(&non_default, sig) == 1) sigaction(sig, &dfl, NULL);
    setsid();
    int fds[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
    for (int i = 0; i < 3; i++) if (install(fds[i], i) != 0) goto fail;
    // The daemon's ends of its pipes are non-blocking; the program's, which share their
    // open file, must block as a program expects. Cleared here, not in the daemon.
    if (r->unblock_outputs) {
        for (int i = 1; i < 3; i++) if (fds[i] >= 0 && fcntl(i, F_SETFL, 0) != 0) goto fail;
    }
    if (close_all_but(-1) != 0) goto fail;
    if (r->cwd && chdir(r->cwd) != 0) goto fail;
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    exec_with_retries(r);
fail:
    child->err = errno ? errno : ENOEXEC;
    _exit(127);
}

// The child's stack: only one child is between clone and exec at a time (the lock, and
// CLONE_VFORK holding the caller until the exec), so one stack serves every spawn, and no
// mmap/munmap is paid per spawn. Large enough for execvpe, which builds a script's argv on
// the stack (a handler's argv is a rules line's words, each placeholder one argument).
static char plain_child_stack[256 * 1024] __attribute__((aligned(64)));
static pthread_mutex_t plain_child_lock = PTHREAD_MUTEX_INITIALIZER;

// clone with CLONE_VM|CLONE_VFORK (what posix_spawn does) and CLONE_PIDFD: the pidfd comes
// with the child, with no pidfd_open, and the child sets up only what this request needs.
static int spawn_plain(const struct csb_spawn_request *r, pid_t *pid, int *pidfd) {
    struct plain_child child = { .request = r, .err = 0 };
    sigset_t all, old;
    sigfillset(&all);
    pthread_mutex_lock(&plain_child_lock);
    learn_non_default();
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int fd = -1;
    pid_t started = clone(plain_child_main, plain_child_stack + sizeof plain_child_stack,
                          CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &child, &fd);
    int err = started < 0 ? errno : child.err;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_unlock(&plain_child_lock);
    if (started < 0) return err;
    if (err != 0) {
        int status;
        while (waitpid(started, &status, 0) < 0 && errno == EINTR) {}
        if (fd >= 0) close(fd);
        return err;
    }
    *pid = started;
    *pidfd = fd;
    return 0;
}

// Waits for the child of spawn_as_user to exec (its end of `report` closes) or to report why
// it could not (an errno). Once it has dropped to the handler's user, that user may signal it:
// a SIGSTOP between its setuid and its exec held a read of `report` for good, and with it
// the whole daemon. So the wait looks, every few milliseconds, whether the child has stopped:
// a stopped child has not exec'd, and fails the spawn with ECANCELED.
static int await_exec(pid_t child, int report) {
    for (;;) {
        struct pollfd ready = { .fd = report, .events = POLLIN };
        int polled = poll(&ready, 1, 10);
        if (polled < 0 && errno != EINTR) return errno;
        if (polled > 0) {
            int err = 0;
            ssize_t n;
            do n = read(report, &err, sizeof err); while (n < 0 && errno == EINTR);
            if (n == (ssize_t)sizeof err) return err ? err : ENOEXEC;
            if (n >= 0) return 0;
            return errno;
        }
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)child, &info, WSTOPPED | WNOHANG | WNOWAIT) == 0 && info.si_pid == child) {
            // Stopped after its exec (the handler's user may stop its handler): a success.
            if (poll(&ready, 1, 0) > 0) continue;
            return ECANCELED;
        }
    }
}

// Dropping to another user forks (setuid in a child that shares the daemon's memory would
// touch glibc's bookkeeping of the daemon's threads). Between
// fork and exec only async-signal-safe calls are made; the group list was resolved by
// the caller beforehand.
static int spawn_as_user(const struct csb_spawn_request *r, pid_t *pid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    pid_t child = fork();
    if (child < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    if (child == 0) {
        int err = 0;
        sigset_t empty;
        sigemptyset(&empty);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        setsid();
        int fds[3] = { r->stdin_fd, r->stdout_fd, r->stderr_fd };
        for (int i = 0; i < 3; i++) {
            int fd = fds[i] >= 0 ? fds[i] : open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
            if (fd < 0 || dup2(fd, i) < 0) { err = errno; goto fail; }
        }
        if (r->unblock_outputs) {
            for (int i = 1; i < 3; i++) if (fds[i] >= 0 && fcntl(i, F_SETFL, 0) != 0) { err = errno; goto fail; }
        }
        // Descriptors the daemon inherited without O_CLOEXEC must not reach another user's
        // program; the report pipe is close-on-exec and stays until exec.
        if (close_all_but(report[1]) != 0) { err = errno; goto fail; }
        if (r->cwd && chdir(r->cwd) != 0) { err = errno; goto fail; }
        if (setgroups((size_t)r->ngroups, r->groups) != 0) { err = errno; goto fail; }
        if (setgid(r->gid) != 0) { err = errno; goto fail; }
        if (setuid(r->uid) != 0) { err = errno; goto fail; }
        for (int attempt = 0;; attempt++) {
            if (strchr(r->path, '/')) execve(r->path, r->argv, r->envp);
            else execvpe(r->path, r->argv, r->envp);
            err = errno;
            if (err != ETXTBSY || attempt == busy_retries) break;
            nanosleep(&busy_pause, NULL);
        }
    fail:
        (void)!write(report[1], &err, sizeof err);
        _exit(127);
    }
    close(report[1]);
    int err = await_exec(child, report[0]);
    close(report[0]);
    if (err != 0) {
        // Killed first: it may be stopped (see await_exec), and a stopped child is never reaped.
        kill(child, SIGKILL);
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return err;
    }
    *pid = child;
    return 0;
}

int csb_spawn(const struct csb_spawn_request *request, pid_t *pid, int *pidfd) {
    *pidfd = -1;
    return request->drop_privileges ? spawn_as_user(request, pid) : spawn_plain(request, pid, pidfd);
}

int csb_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size); }

