/* What this machine allows, measured the way the benchmark's systems work.
 *
 *   limits spawn HANDLER RESULTS COUNT JOBS   posix_spawn+wait of the handler, JOBS in flight
 *   limits files DIR COUNT                    create/write/close/rename/unlink of a 64-byte file
 *   limits pipe COUNT                         64-byte lines through a pipe, one write per line
 *
 * Each prints one number: operations per second.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static pid_t spawn_handler(const char *handler, const char *results, long i) {
    char name[32];
    snprintf(name, sizeof name, "limit%07ld", i);
    char *argv[] = {(char *)handler, (char *)results, name, (char *)results, NULL};
    pid_t pid;
    if (posix_spawn(&pid, handler, NULL, NULL, argv, environ) != 0) { perror("posix_spawn"); exit(1); }
    return pid;
}

static int spawns(const char *handler, const char *results, long count, int jobs) {
    double start = now_s();
    long started = 0, finished = 0;
    while (started < count && started < jobs) spawn_handler(handler, results, started++);
    while (finished < count) {
        int status;
        if (wait(&status) < 0) { perror("wait"); return 1; }
        finished++;
        if (started < count) spawn_handler(handler, results, started++);
    }
    printf("%.1f\n", (double)count / (now_s() - start));
    return 0;
}

static int files(const char *dir, long count) {
    char tmp[4096], final[4096], body[64];
    memset(body, 'x', sizeof body);
    body[63] = '\n';
    double start = now_s();
    for (long i = 0; i < count; i++) {
        snprintf(tmp, sizeof tmp, "%s/.limit%07ld.tmp", dir, i);
        snprintf(final, sizeof final, "%s/limit%07ld", dir, i);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, body, sizeof body) != (ssize_t)sizeof body) { perror(tmp); return 1; }
        close(fd);
        if (rename(tmp, final) != 0 || unlink(final) != 0) { perror(final); return 1; }
    }
    printf("%.1f\n", (double)count / (now_s() - start));
    return 0;
}

static int pipe_lines(long count) {
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); return 1; }
    double start = now_s();
    pid_t writer = fork();
    if (writer == 0) {
        close(fds[0]);
        char line[64];
        memset(line, 'x', sizeof line);
        line[63] = '\n';
        for (long i = 0; i < count; i++)
            if (write(fds[1], line, sizeof line) != (ssize_t)sizeof line) _exit(1);
        _exit(0);
    }
    close(fds[1]);
    static char buf[65536];
    long lines = 0;
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++) lines++;
    double elapsed = now_s() - start;
    waitpid(writer, NULL, 0);
    if (lines != count) { fprintf(stderr, "pipe: %ld of %ld lines\n", lines, count); return 1; }
    printf("%.1f\n", (double)count / elapsed);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && !strcmp(argv[1], "spawn")) return spawns(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
    if (argc == 4 && !strcmp(argv[1], "files")) return files(argv[2], atol(argv[3]));
    if (argc == 3 && !strcmp(argv[1], "pipe")) return pipe_lines(atol(argv[2]));
    fprintf(stderr, "usage: limits spawn HANDLER RESULTS COUNT JOBS | files DIR COUNT | pipe COUNT\n");
    return 2;
}
