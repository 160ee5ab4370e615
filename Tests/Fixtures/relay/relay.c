/* A unix-socket relay for engine-outage tests: relay LISTEN_PATH TARGET_PATH.
 * Accepts on LISTEN_PATH and copies bytes both ways to a new connection to TARGET_PATH,
 * one child process per connection. It puts itself in a process group of its own, so a
 * test cuts every relayed connection at once with kill(-pid, SIGKILL). */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_socket(const char *path, struct sockaddr_un *addr) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    strncpy(addr->sun_path, path, sizeof addr->sun_path - 1);
    return socket(AF_UNIX, SOCK_STREAM, 0);
}

static void shuttle(int a, int b) {
    char buffer[65536];
    struct pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) return;
        for (int i = 0; i < 2; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) return;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(fds[1 - i].fd, buffer + off, n - off);
                if (w <= 0) return;
                off += w;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: relay LISTEN_PATH TARGET_PATH\n"); return 2; }
    setpgid(0, 0);
    signal(SIGCHLD, SIG_IGN);
    struct sockaddr_un listen_addr, target_addr;
    int listener = unix_socket(argv[1], &listen_addr);
    unlink(argv[1]);
    if (bind(listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0 || listen(listener, 128) < 0) { perror("relay"); return 1; }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        if (fork() == 0) {
            close(listener);
            int target = unix_socket(argv[2], &target_addr);
            if (connect(target, (struct sockaddr *)&target_addr, sizeof target_addr) == 0) shuttle(client, target);
            _exit(0);
        }
        close(client);
    }
}
