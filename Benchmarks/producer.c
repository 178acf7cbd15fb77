/* Writes benchmark files into a spool, fast and with exact timestamps.
 *
 *   producer DIR PREFIX COUNT [-s SIZE] [-i INTERVAL_US] [-t TIMES_FILE] [-f FIRST]
 *
 * Creates DIR/PREFIX%07d for FIRST..FIRST+COUNT-1 with SIZE bytes (default 64)
 * by open/write/close directly in DIR (so IN_CLOSE_WRITE is the event every
 * system sees). With -i it paces the files on an absolute schedule INTERVAL_US
 * apart. With -t it writes "NAME NS" per file, NS being CLOCK_REALTIME taken
 * right after close() returned: the start of the latency measurement.
 * Prints "START_NS END_NS" on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: producer DIR PREFIX COUNT [-s SIZE] [-i US] [-t TIMES] [-f FIRST]\n");
        return 2;
    }
    const char *dir = argv[1], *prefix = argv[2];
    long count = atol(argv[3]), size = 64, interval_us = 0, first = 0;
    const char *times_path = NULL;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-s")) size = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-i")) interval_us = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) times_path = argv[i + 1];
        else if (!strcmp(argv[i], "-f")) first = atol(argv[i + 1]);
        else { fprintf(stderr, "producer: unknown option %s\n", argv[i]); return 2; }
    }
    char *body = malloc((size_t)size + 1);
    memset(body, 'x', (size_t)size);
    if (size > 0) body[size - 1] = '\n';
    long long *closed_at = times_path ? calloc((size_t)count, sizeof *closed_at) : NULL;

    long long start = now_ns(CLOCK_REALTIME);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    char path[4096];
    for (long i = 0; i < count; i++) {
        if (interval_us > 0 && i > 0) {
            next.tv_nsec += interval_us * 1000;
            while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
        }
        snprintf(path, sizeof path, "%s/%s%07ld", dir, prefix, first + i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) { perror(path); return 1; }
        if (size > 0 && write(fd, body, (size_t)size) != size) { perror("write"); return 1; }
        close(fd);
        if (closed_at) closed_at[i] = now_ns(CLOCK_REALTIME);
    }
    long long end = now_ns(CLOCK_REALTIME);
    if (times_path) {
        FILE *out = fopen(times_path, "w");
        if (!out) { perror(times_path); return 1; }
        for (long i = 0; i < count; i++)
            fprintf(out, "%s%07ld %lld\n", prefix, first + i, closed_at[i]);
        fclose(out);
    }
    printf("%lld %lld\n", start, end);
    return 0;
}
