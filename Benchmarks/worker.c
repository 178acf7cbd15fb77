/* The benchmark's worker: handler.c as a spoolbus worker (README, "Workers").
 *
 *   worker RESULTS
 *
 * For each request line on stdin it takes a CLOCK_REALTIME timestamp first thing, appends
 * "NAME NS SIZE\n" to RESULTS with one O_APPEND write (SIZE = what stat(DATA) sees for a
 * file message, the line's length for a channel message) and answers "ok". NAME is written
 * as the request has it (%XX-escaped): the benchmark's names are plain.
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

int main(int argc, char **argv) {
    if (argc != 2) {
        fputs("usage: worker RESULTS\n", stderr);
        return 2;
    }
    int results = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (results < 0) return 1;
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stdin)) > 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (line[length - 1] == '\n') line[length - 1] = 0;
        char *field[7], *rest = line;
        int count = 0;
        while (count < 7 && (field[count] = strsep(&rest, " ")) != NULL) count++;
        if (count != 7) {
            fputs("fail not seven fields\n", stdout);
            fflush(stdout);
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
        if (n > 0 && n < (int)sizeof out && write(results, out, (size_t)n) == n) {
            fputs("ok\n", stdout);
        } else {
            fputs("fail cannot write the results\n", stdout);
        }
        fflush(stdout);
    }
    return 0;
}
