/* The benchmark's worker: handler.c as a spoolbus worker (README, "Workers").
 *
 *   worker RESULTS
 *
 * For each request line on stdin it takes a CLOCK_REALTIME timestamp first thing, appends
 * "NAME NS SIZE\n" to RESULTS (opened O_APPEND; SIZE = what stat(DATA) sees for a
 * file message, the line's length for a channel message) and answers "ok". NAME is written
 * as the request has it (%XX-escaped): the benchmark's names are plain.
 *
 * Like a careful worker in any language, it answers every request it has read before it
 * waits for more, in one write (and its results in one write): with one request in flight
 * that is one write per request, as before; with requests written ahead (pipeline=N) a read
 * that brings several is answered with one write.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static size_t decode(char *s) {
    size_t in = 0, out = 0;
    for (; s[in]; in++, out++) {
        unsigned hi, lo;
        if (s[in] == '%' && sscanf(s + in + 1, "%1x%1x", &hi, &lo) == 2) {
            s[out] = (char)(hi << 4 | lo);
            in += 2;
        } else {
            s[out] = s[in];
        }
    }
    s[out] = 0;
    return out;
}

/* Output kept until the requests read so far are all answered: then one write each. */
struct out {
    char data[1 << 17];
    size_t used;
};

static int flush(struct out *o, int fd) {
    size_t done = 0;
    while (done < o->used) {
        ssize_t n = write(fd, o->data + done, o->used - done);
        if (n <= 0) return -1;
        done += (size_t)n;
    }
    o->used = 0;
    return 0;
}

static void put(struct out *o, int fd, const char *text, size_t length) {
    if (o->used + length > sizeof o->data && flush(o, fd) != 0) exit(1);
    memcpy(o->data + o->used, text, length);
    o->used += length;
}

static struct out answers, results;

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: worker RESULTS\n", stderr);
        return 2;
    }
    int resultsFd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (resultsFd < 0) return 1;
    static char input[1 << 16];
    size_t start = 0, end = 0;
    for (;;) {
        char *newline = memchr(input + start, '\n', end - start);
        if (newline == NULL) {
            /* Every request read is answered: say so before waiting for more. */
            if (flush(&results, resultsFd) != 0 || flush(&answers, 1) != 0) return 1;
            memmove(input, input + start, end - start);
            end -= start;
            start = 0;
            if (end == sizeof input) return 1;
            ssize_t n = read(0, input + end, sizeof input - end);
            if (n <= 0) return 0;
            end += (size_t)n;
            continue;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char *line = input + start;
        *newline = 0;
        start = (size_t)(newline - input) + 1;
        char *field[7], *rest = line;
        int count = 0;
        while (count < 7 && (field[count] = strsep(&rest, " ")) != NULL) count++;
        if (count != 7) {
            put(&answers, 1, "fail not seven fields\n", 22);
            continue;
        }
        long long size;
        if (strcmp(field[1], "file") == 0) {
            struct stat st;
            decode(field[3]);
            size = stat(field[3], &st) == 0 ? (long long)st.st_size : -1;
        } else {
            size = strcmp(field[3], "-") == 0 ? 0 : (long long)decode(field[3]);
        }
        char out[4096];
        int n = snprintf(out, sizeof out, "%s %lld %lld\n", field[2], (long long)now.tv_sec * 1000000000LL + now.tv_nsec, size);
        if (n > 0 && n < (int)sizeof out) {
            put(&results, resultsFd, out, (size_t)n);
            put(&answers, 1, "ok\n", 3);
        } else {
            put(&answers, 1, "fail cannot write the results\n", 30);
        }
    }
}
