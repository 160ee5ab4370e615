/// The C source of the container's server that `berth init` writes to `container/server.c`.
extension InitTemplates {
    /// A small static HTTP/1.1 server on port 8080 that greets every request, like the Go
    /// server of Cloudflare's containers template (at most 200 lines: a project to read).
    static let serverSource = #"""
/*
 * The container's server: a small HTTP/1.1 server on port 8080 that answers every request,
 * on any path, with a greeting, like the Go server of Cloudflare's containers template:
 *
 *   Hi, I'm a container and this is my message: "<MESSAGE>", my instance ID is: <id>
 *
 * MESSAGE comes from the class's env_vars in wrangler.jsonc; the instance id is
 * CLOUDFLARE_DEPLOYMENT_ID, which Berth (like Cloudflare) sets in every container.
 *
 * Built static, so the image needs no base image (FROM scratch):
 *
 *   cc -static -O2 -o server container/server.c
 *
 * - Connections are kept alive; every response is framed by Content-Length, and request
 *   bodies framed by Content-Length are read and dropped, so the next request is found.
 *   A body sent chunked is not read: its answer closes the connection.
 * - One process per connection (fork): a client that stalls or goes away holds up only its
 *   own. SIGPIPE is ignored, so writing to a closed connection fails instead of killing us.
 * - SIGTERM (what Berth sends to stop a container) and SIGINT end the server with exit code 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PORT 8080
#define HEAD_LIMIT 16384 /* the largest request head; a larger one gets 431 */

static char *greeting; /* the body of every answer, made once in main */

/* Writes all of data; -1 when the connection is gone. */
static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Sends one response, head and body in one write; no body for HEAD requests. */
static int respond(int fd, const char *status, const char *body, int keep_alive, int head_only) {
    char *response;
    int n = asprintf(&response,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n%s",
                     status, strlen(body), keep_alive ? "keep-alive" : "close", head_only ? "" : body);
    if (n < 0) return -1;
    int result = write_all(fd, response, (size_t)n);
    free(response);
    return result;
}

/* The value of the first header field `name` in `head` (a string of CRLF-ended lines, the
 * request line first), spaces before it skipped; NULL when there is none. */
static const char *header(const char *head, const char *name) {
    size_t name_length = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *field = line + 2;
        if (strncasecmp(field, name, name_length) == 0 && field[name_length] == ':') {
            const char *value = field + name_length + 1;
            while (*value == ' ' || *value == '\t') value++;
            return value;
        }
    }
    return NULL;
}

/* Whether the header value (up to its CRLF) holds `token`, in any case. */
static int has_token(const char *value, const char *token) {
    if (value == NULL) return 0;
    const char *found = strcasestr(value, token), *end = strstr(value, "\r\n");
    return found != NULL && (end == NULL || found < end);
}

/* Reads and drops `length` bytes of a request body. */
static int skip_body(int fd, unsigned long long length) {
    char scratch[16384];
    while (length > 0) {
        ssize_t n = read(fd, scratch, length < sizeof scratch ? (size_t)length : sizeof scratch);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        length -= (unsigned long long)n;
    }
    return 0;
}

/* Answers a request that was not read to its end, then ends the connection so that the
 * client still gets the answer (closing with unread data would reset the connection). */
static void answer_and_close(int fd, const char *status, const char *body, int head_only) {
    char scratch[4096];
    respond(fd, status, body, 0, head_only);
    shutdown(fd, SHUT_WR);
    while (read(fd, scratch, sizeof scratch) > 0) {}
}

/* Serves one connection's requests until it closes or asks to. */
static void serve(int fd) {
    char buffer[HEAD_LIMIT];
    size_t filled = 0;
    for (;;) {
        char *end;
        while ((end = memmem(buffer, filled, "\r\n\r\n", 4)) == NULL) {
            if (filled == sizeof buffer) {
                answer_and_close(fd, "431 Request Header Fields Too Large", "request head too large\n", 0);
                return;
            }
            ssize_t n = read(fd, buffer + filled, sizeof buffer - filled);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return; /* the client is done, or gone */
            filled += (size_t)n;
        }
        size_t head_length = (size_t)(end - buffer) + 4;
        end[2] = '\0'; /* the head is now a string of CRLF-ended lines */
        const char *head = buffer;

        const char *line_end = strstr(head, "\r\n"); /* the request line: METHOD TARGET HTTP/1.1 */
        int http11 = line_end - head >= 9 && memcmp(line_end - 9, " HTTP/1.1", 9) == 0;
        const char *connection = header(head, "Connection");
        int keep_alive = http11 ? !has_token(connection, "close") : has_token(connection, "keep-alive");
        int head_only = strncmp(head, "HEAD ", 5) == 0;

        if (header(head, "Transfer-Encoding") != NULL) {
            answer_and_close(fd, "200 OK", greeting, head_only);
            return;
        }
        unsigned long long body_length = 0;
        const char *length_text = header(head, "Content-Length");
        if (length_text != NULL) {
            char *stop;
            errno = 0;
            body_length = strtoull(length_text, &stop, 10);
            while (*stop == ' ' || *stop == '\t') stop++;
            if (errno != 0 || stop == length_text || *length_text == '-' || strncmp(stop, "\r\n", 2) != 0) {
                answer_and_close(fd, "400 Bad Request", "bad Content-Length\n", head_only);
                return;
            }
        }

        /* Drop the body: first what is in the buffer, then the rest from the connection. */
        size_t buffered = filled - head_length;
        if (body_length <= buffered) {
            memmove(buffer, buffer + head_length + body_length, buffered - (size_t)body_length);
            filled = buffered - (size_t)body_length;
        } else {
            if (skip_body(fd, body_length - buffered) < 0) return;
            filled = 0;
        }
        if (respond(fd, "200 OK", greeting, keep_alive, head_only) < 0 || !keep_alive) return;
    }
}

static void stop(int signal) {
    (void)signal;
    _exit(0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a write to a closed connection fails with EPIPE instead */
    signal(SIGCHLD, SIG_IGN); /* the kernel reaps the connections' processes */
    struct sigaction on_stop = {.sa_handler = stop};
    sigaction(SIGTERM, &on_stop, NULL);
    sigaction(SIGINT, &on_stop, NULL);

    const char *message = getenv("MESSAGE"), *instance = getenv("CLOUDFLARE_DEPLOYMENT_ID");
    if (asprintf(&greeting, "Hi, I'm a container and this is my message: \"%s\", my instance ID is: %s\n",
                 message ? message : "", instance ? instance : "") < 0)
        return 1;

    int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = htonl(INADDR_ANY)};
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 128) < 0) {
        perror("server: cannot listen on port 8080");
        return 1;
    }
    printf("server: listening on port %d\n", PORT);
    fflush(stdout);

    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue; /* EINTR, or a connection that went away before we took it */
        pid_t child = fork();
        if (child == 0) {
            close(listener);
            serve(fd);
            _exit(0);
        }
        close(fd); /* the child has its own copy; when fork failed, the client sees a close */
    }
}

"""#
}
