/* The ceiling of requests into one worker process under the worker protocol.
 *
 *   roundtrip COUNT [AHEAD]
 *
 * A parent and a child joined by two pipes, as the daemon and a worker are: the parent writes
 * 64-byte request lines and waits for 3-byte answers ("ok\n") with epoll, as the daemon does;
 * the child reads a line, answers it, reads the next (stdio, like the example workers). With
 * AHEAD 1 (the default) one request is in flight, so each costs a wake-up of each process;
 * with AHEAD N the parent keeps up to N requests written ahead (pipeline=N). Prints one
 * number: requests answered per second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void worker(int in, int out) {
    FILE *requests = fdopen(in, "r"), *answers = fdopen(out, "w");
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, requests) > 0) {
        fputs("ok\n", answers);
        fflush(answers);
    }
    _exit(0);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fputs("usage: roundtrip COUNT [AHEAD]\n", stderr);
        return 2;
    }
    long count = atol(argv[1]);
    long ahead = argc == 3 ? atol(argv[2]) : 1;
    if (count < 1 || ahead < 1 || ahead > 1024) {
        fputs("roundtrip: COUNT ≥ 1, AHEAD from 1 to 1024\n", stderr);
        return 2;
    }
    int down[2], up[2];
    if (pipe(down) != 0 || pipe(up) != 0) { perror("pipe"); return 1; }
    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {
        close(down[1]);
        close(up[0]);
        worker(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = up[0]};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, up[0], &ev) != 0) { perror("epoll"); return 1; }
    static char requests[1024 * 64], buf[65536];
    for (long i = 0; i < 1024; i++) {
        memset(requests + i * 64, 'x', 63);
        requests[i * 64 + 63] = '\n';
    }
    long sent = 0, answered = 0;
    double start = now_s();
    while (answered < count) {
        long room = ahead - (sent - answered);
        if (room > count - sent) room = count - sent;
        if (room > 0) {
            /* A write of 1024 × 64 bytes fits the default 64 KiB pipe buffer: it does not block. */
            if (write(down[1], requests, (size_t)room * 64) != room * 64) { perror("write"); return 1; }
            sent += room;
        }
        struct epoll_event got;
        if (epoll_wait(ep, &got, 1, -1) != 1) { perror("epoll_wait"); return 1; }
        ssize_t n = read(up[0], buf, sizeof buf);
        if (n <= 0) { fputs("roundtrip: the worker ended\n", stderr); return 1; }
        for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', (size_t)(end - p))); p++) answered++;
    }
    double elapsed = now_s() - start;
    close(down[1]);
    waitpid(child, NULL, 0);
    printf("%.1f\n", (double)count / elapsed);
    return 0;
}
