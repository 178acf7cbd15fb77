/* A worker in C: counts the bytes of each message's body and answers ok (fail when a claimed
 * file cannot be read). With `reply`, the count goes back to the socket's client.
 *
 *   cc -O2 -o count count.c
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Decodes the %XX escapes of a NAME or DATA field in place; returns its length in bytes (a
 * decoded field may hold NUL bytes). */
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

/* The bytes of the file at `path`, or -1. */
static long file_size(const char *path) {
    static char buffer[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) total += n;
    close(fd);
    return n < 0 ? -1 : total;
}

int main(void) {
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stdin)) > 0) {
        if (line[length - 1] == '\n') line[length - 1] = 0;
        char *field[7];
        char *rest = line;
        int count = 0;
        while (count < 7 && (field[count] = strsep(&rest, " ")) != NULL) count++;
        if (count != 7) {
            printf("fail a request has seven fields, this one %d\n", count);
        } else {
            int is_unknown = strcmp(field[3], "-") == 0;
            size_t data_length = is_unknown ? 0 : decode(field[3]);
            long bytes = strcmp(field[1], "file") == 0 ? file_size(field[3]) : (long)data_length;
            if (bytes < 0) {
                printf("fail cannot read the claimed file\n");
            } else if (strcmp(field[1], "socket") == 0) {
                char reply[32];
                int n = snprintf(reply, sizeof reply, "%ld\n", bytes);
                printf("reply %d\n%s", n, reply);
            } else {
                fputs("ok\n", stdout);
            }
        }
        fflush(stdout);
    }
    free(line);
    return 0;
}
