/* logwriter: the benchmark's console producer.
 *
 * Writes BYTES bytes of typical Robust console log lines ("HH:MM:SS - [CATEGORY]: text",
 * about one line in four with the ANSI colour log4net's console appender puts around the
 * category) to stdout as fast as the reader takes them, in 64 KiB writes, then writes its
 * own elapsed time (first write to last write returned, in seconds) to MARKER and exits 0.
 *
 * With GOFILE, it first waits (polling every millisecond) until that file exists, so the
 * benchmark can attach a viewer or read the consumer's pid before the first byte. The marker
 * holds "elapsed user_cpu system_cpu" (seconds; the CPU times are the writer's own).
 *
 * usage: logwriter BYTES MARKER [GOFILE]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/resource.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *cats[] = {"ASSET SERVICE", "INVENTORY SERVICE", "GRID SERVICE",
                             "PRESENCE SERVICE", "XINVENTORY CONNECTOR", "LLOGIN SERVICE"};
static const char *msgs[] = {
    "Asset %08x-1c2d-4e5f-8a9b-0c1d2e3f4a5b fetched from database in 3 ms, 18327 bytes",
    "Fetched 214 items for folder %08x-9f8e-4d7c-b6a5-948372615041 of user 5f1e0b2a",
    "Region Welcome-%u at 1000,%u registered, flags 0, external endpoint 203.0.113.7:9000",
    "Agent %08x-0000-4000-8000-000000000000 logged in from 198.51.100.23, viewer Firestorm",
    "Received request GET /xinventory/%u from 127.0.0.1, handled in 2 ms",
};

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: logwriter BYTES MARKER [GOFILE]\n");
        return 2;
    }
    long long total = atoll(argv[1]);
    /* A 1 MiB block of varied lines, written again and again: the producer's own CPU
     * cost stays negligible next to the consumer's. */
    size_t cap = 1 << 20;
    char *block = malloc(cap + 512);
    size_t len = 0;
    unsigned i = 0;
    while (len < cap) {
        char line[512];
        int n = snprintf(line, sizeof line, "%02u:%02u:%02u - ", 10 + i / 3600 % 10, i / 60 % 60, i % 60);
        const char *cat = cats[i % 6];
        if (i % 4 == 0)
            n += snprintf(line + n, sizeof line - n, "[\x1b[36m%s\x1b[0m]: ", cat);
        else
            n += snprintf(line + n, sizeof line - n, "[%s]: ", cat);
        n += snprintf(line + n, sizeof line - n, msgs[i % 5], i * 2654435761u, i % 997);
        line[n++] = '\n';
        memcpy(block + len, line, n);
        len += n;
        i++;
    }
    if (argc == 4)
        while (access(argv[3], F_OK) != 0) usleep(1000);
    double t0 = now();
    long long done = 0;
    while (done < total) {
        size_t want = 64 * 1024;
        size_t off = done % len;
        if (want > len - off) want = len - off;
        if ((long long)want > total - done) want = total - done;
        ssize_t w = write(1, block + off, want);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            perror("logwriter: write");
            return 1;
        }
        done += w;
    }
    double t1 = now();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char out[128];
    int n = snprintf(out, sizeof out, "%.6f %.6f %.6f\n", t1 - t0,
                     ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
                     ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, out, n) != n) perror("logwriter: marker");
        close(fd);
        rename(tmp, argv[2]);
    }
    return 0;
}
