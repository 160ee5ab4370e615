/*
 * The example container: a small HTTP/1.1 server on port 8080, the counterpart of the Go
 * server in Cloudflare's containers template. Built static, so the image is FROM scratch.
 *
 *   GET  any path           Hi, I'm a container and this is my message: "<MESSAGE>", my instance ID is: <id>
 *   any  path with /error   exits with code 1 (the template's server panics there)
 *   any  path with /headers echoes the request head
 *   POST/PUT any path       echoes the request body
 *   GET  path with /bytes/N N bytes, written in 64 KiB pieces (large responses, benchmarks)
 *   any  path with /sleep/N answers after N seconds (a container slow to answer)
 *   GET  path with /pause/N half of a 10-byte body, N seconds of silence, the rest
 *
 * SIGTERM ends it gracefully (exit 0), unless IGNORE_SIGTERM is set (to show the grace period
 * and SIGKILL). PORT changes the port. Connections are kept alive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *message;
static const char *instance_id;
static char piece[65536]; /* what /bytes/N sends, filled in main */

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t length, int keep_alive) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                     status, type, length, keep_alive ? "keep-alive" : "close");
    if (write_all(fd, head, (size_t)n) == 0 && length > 0) write_all(fd, body, length);
}

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    size_t capacity = 65536, used = 0;
    char *buffer = malloc(capacity);
    for (;;) {
        char *end = NULL;
        while ((end = memmem(buffer, used, "\r\n\r\n", 4)) == NULL) {
            if (used == capacity) goto done; /* head too large */
            ssize_t n = read(fd, buffer + used, capacity - used);
            if (n <= 0) goto done;
            used += (size_t)n;
        }
        size_t head_length = (size_t)(end - buffer) + 4;
        char method[16] = {0}, path[2048] = {0};
        sscanf(buffer, "%15s %2047s", method, path);
        size_t content_length = 0;
        int keep_alive = 1;
        for (char *line = strstr(buffer, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
            if (strncasecmp(line + 2, "Content-Length:", 15) == 0) content_length = strtoul(line + 17, NULL, 10);
            if (strncasecmp(line + 2, "Connection: close", 17) == 0) keep_alive = 0;
        }
        if (strstr(path, "/error")) {
            fprintf(stderr, "panic: the /error route was called\n");
            exit(1);
        }
        if (strstr(path, "/headers")) {
            respond(fd, "200 OK", "text/plain", buffer, head_length, keep_alive);
        }
        /* /log/<text> writes <text> to stdout, /warn/<text> to stderr: output to follow. */
        char *log = strstr(path, "/log/"), *warn = strstr(path, "/warn/");
        if (log) { printf("%s\n", log + 5); fflush(stdout); }
        if (warn) { fprintf(stderr, "%s\n", warn + 6); }
        /* Read the body, growing the buffer as needed; it is echoed for POST and PUT. */
        if (head_length + content_length > capacity) {
            capacity = head_length + content_length;
            buffer = realloc(buffer, capacity);
        }
        while (used < head_length + content_length) {
            ssize_t n = read(fd, buffer + used, head_length + content_length - used);
            if (n <= 0) goto done;
            used += (size_t)n;
        }
        char *bytes = strstr(path, "/bytes/"), *nap = strstr(path, "/sleep/"), *pause = strstr(path, "/pause/");
        if (nap) sleep((unsigned)strtoul(nap + 7, NULL, 10));
        if (strstr(path, "/headers")) {
            /* already answered */
        } else if (pause && strcmp(method, "GET") == 0) {
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello";
            if (write_all(fd, head, sizeof head - 1) != 0) goto done;
            sleep((unsigned)strtoul(pause + 7, NULL, 10));
            if (write_all(fd, "world", 5) != 0) goto done;
        } else if (bytes && strcmp(method, "GET") == 0) {
            size_t total = strtoul(bytes + 7, NULL, 10);
            char head[256];
            int n = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                             total, keep_alive ? "keep-alive" : "close");
            if (write_all(fd, head, (size_t)n) != 0) goto done;
            for (size_t sent = 0; sent < total;) {
                size_t length = total - sent < sizeof piece ? total - sent : sizeof piece;
                if (write_all(fd, piece, length) != 0) goto done;
                sent += length;
            }
        } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
            respond(fd, "200 OK", "application/octet-stream", buffer + head_length, content_length, keep_alive);
        } else {
            char body[1024];
            int n = snprintf(body, sizeof body, "Hi, I'm a container and this is my message: \"%s\", my instance ID is: %s\n",
                             message, instance_id);
            respond(fd, "200 OK", "text/plain; charset=utf-8", body, (size_t)n, keep_alive);
        }
        size_t consumed = head_length + content_length;
        memmove(buffer, buffer + consumed, used - consumed);
        used -= consumed;
        if (!keep_alive) break;
    }
done:
    free(buffer);
    close(fd);
    return NULL;
}

static void on_term(int signal) {
    (void)signal;
    static const char text[] = "received SIGTERM, shutting down\n";
    write(1, text, sizeof text - 1);
    _exit(0);
}

int main(void) {
    memset(piece, 'x', sizeof piece);
    message = getenv("MESSAGE") ? getenv("MESSAGE") : "";
    instance_id = getenv("CLOUDFLARE_DEPLOYMENT_ID") ? getenv("CLOUDFLARE_DEPLOYMENT_ID") : "unknown";
    signal(SIGTERM, getenv("IGNORE_SIGTERM") ? SIG_IGN : on_term);
    signal(SIGPIPE, SIG_IGN);
    int port = getenv("PORT") ? atoi(getenv("PORT")) : 8080;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = INADDR_ANY};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 512) != 0) {
        perror("listen");
        return 2;
    }
    printf("listening on :%d\n", port);
    fflush(stdout);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attributes, 256 * 1024);
        if (pthread_create(&thread, &attributes, serve, (void *)(long)fd) != 0) close(fd);
        pthread_attr_destroy(&attributes);
    }
}
