/* The benchmark's handler program: the same for every system.
 *
 *   handler [-d] RESULTS NAME [PATH]
 *
 * Takes a CLOCK_REALTIME timestamp first thing, then appends one line
 * "NAME NS SIZE\n" to RESULTS with a single O_APPEND write (so lines from
 * concurrent handlers never interleave). SIZE is what stat(PATH) sees at that
 * moment (-1 when PATH is missing), which is how the half-written test counts
 * handlers that saw the whole file. With -d it then unlinks PATH: the peers
 * need that; spoolbus removes the file itself after the handler succeeds.
 * PATH defaults to $SPOOL_PATH.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);

    int arg = 1, delete_path = 0;
    if (arg < argc && strcmp(argv[arg], "-d") == 0) { delete_path = 1; arg++; }
    if (argc - arg < 2) {
        static const char usage[] = "usage: handler [-d] RESULTS NAME [PATH]\n";
        write(2, usage, sizeof usage - 1);
        return 2;
    }
    const char *results = argv[arg], *name = argv[arg + 1];
    const char *path = arg + 2 < argc ? argv[arg + 2] : getenv("SPOOL_PATH");

    long long size = -1;
    struct stat st;
    if (path && stat(path, &st) == 0) size = (long long)st.st_size;

    char line[4096];
    int n = snprintf(line, sizeof line, "%s %lld %lld\n", name,
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec, size);
    if (n < 0 || n >= (int)sizeof line) return 1;
    int fd = open(results, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n) return 1;
    close(fd);

    if (delete_path && path && unlink(path) != 0) return 1;
    return 0;
}
