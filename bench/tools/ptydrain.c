/* ptydrain: the physical limit, and the "plain pipe to a file" baseline.
 *
 * Runs CMD with its stdout+stderr on a fresh PTY (--pty, 50x200 like gridctl's default
 * console) or a pipe (--pipe), and copies everything it prints to OUT (/dev/null or a
 * file) with 64 KiB reads and no other work, until end of file. Prints the wall time
 * from spawn to end of file in seconds.
 *
 * usage: ptydrain --pty|--pipe OUT CMD [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "--pty") && strcmp(argv[1], "--pipe"))) {
        fprintf(stderr, "usage: ptydrain --pty|--pipe OUT CMD [ARGS...]\n");
        return 2;
    }
    int use_pty = strcmp(argv[1], "--pty") == 0;
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) { perror(argv[2]); return 1; }
    int rd;
    pid_t pid;
    double t0 = now();
    if (use_pty) {
        struct winsize ws = {.ws_row = 50, .ws_col = 200};
        int master;
        pid = forkpty(&master, NULL, NULL, &ws);
        if (pid < 0) { perror("forkpty"); return 1; }
        if (pid == 0) {
            execvp(argv[3], argv + 3);
            perror("exec");
            _exit(127);
        }
        rd = master;
    } else {
        int p[2];
        if (pipe(p)) { perror("pipe"); return 1; }
        pid = fork();
        if (pid == 0) {
            dup2(p[1], 1);
            dup2(p[1], 2);
            close(p[0]);
            close(p[1]);
            execvp(argv[3], argv + 3);
            perror("exec");
            _exit(127);
        }
        close(p[1]);
        rd = p[0];
    }
    static char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(rd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            break; /* EIO: the PTY's end of file */
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, n - off);
            if (w < 0) {
                if (errno == EINTR) continue;
                perror("write");
                return 1;
            }
            off += w;
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("%.6f\n", now() - t0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
