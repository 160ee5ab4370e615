/*
 * The chaos suite's faulty container (built static, so the image is FROM scratch):
 *
 *   fault exit N   exits with code N at once (the crash-loop class)
 *   fault          an HTTP/1.1 server on port 8080 (a thread per connection, kept alive):
 *                    a path with /oom  allocates and touches memory until the kernel kills it
 *                    anything else     200 "fault <CLOUDFLARE_DEPLOYMENT_ID>"
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *instance;

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    char request[8192];
    size_t used = 0;
    for (;;) {
        char *end;
        while ((end = memmem(request, used, "\r\n\r\n", 4)) == NULL) {
            if (used == sizeof request) goto done;
            ssize_t n = read(fd, request + used, sizeof request - used);
            if (n <= 0) goto done;
            used += (size_t)n;
        }
        size_t headLength = (size_t)(end - request) + 4;
        char *line = memmem(request, headLength, "\r\n", 2);
        if (line && memmem(request, (size_t)(line - request), "/oom", 4)) {
            /* 1 MiB at a time, every page written, never freed: the memory limit ends it. */
            for (;;) {
                char *block = malloc(1 << 20);
                if (block) memset(block, 1, 1 << 20);
            }
        }
        char body[256], head[256];
        int length = snprintf(body, sizeof body, "fault %s\n", instance);
        int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", length);
        if (write(fd, head, (size_t)n) < 0 || write(fd, body, (size_t)length) < 0) goto done;
        /* Requests without a body only (GET): what follows the head is the next request. */
        memmove(request, request + headLength, used - headLength);
        used -= headLength;
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
    instance = getenv("CLOUDFLARE_DEPLOYMENT_ID") ? getenv("CLOUDFLARE_DEPLOYMENT_ID") : "unknown";
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(8080), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 64) != 0) return 2;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve, (void *)(long)fd) != 0) close(fd);
        else pthread_detach(thread);
    }
}
