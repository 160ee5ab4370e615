/*
 * The container of the request-smuggling tests: an HTTP/1.1 server on port 8080 (PORT) that
 * answers every request it reads and records, per connection and in order, every byte each
 * connection brought.
 *
 *   any request         200, header `X-Seen: <METHOD> <target> len=<body bytes>`, the same
 *                       line as the body (none for HEAD); keep-alive unless `Connection: close`
 *   GET /__log          every connection's bytes so far, as records
 *                           conn <n> <open|closed> <length>\n<length raw bytes>\n
 *                       in the order connections were accepted; a connection that starts with
 *                       `GET /__log` is the test's own (sent straight to the container, not
 *                       through Berth) and is not recorded
 *
 * It parses requests as a lenient server would, so that a proxy that passes ambiguous framing
 * through would desynchronise it: a Transfer-Encoding that contains "chunked" anywhere, in any
 * case, means chunked (sizes read by strtoul, extensions ignored); otherwise the first
 * Content-Length counts. The tests judge the recorded bytes with a strict parser of their own.
 * Built static (gcc -static), so the image is FROM scratch.
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

struct record {
    int id;
    int closed;
    char *data;
    size_t length, capacity;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct record **records;
static size_t record_count, record_capacity;

static struct record *new_record(void) {
    struct record *r = calloc(1, sizeof *r);
    pthread_mutex_lock(&lock);
    if (record_count == record_capacity) {
        record_capacity = record_capacity ? record_capacity * 2 : 64;
        records = realloc(records, record_capacity * sizeof *records);
    }
    r->id = (int)record_count + 1;
    records[record_count++] = r;
    pthread_mutex_unlock(&lock);
    return r;
}

static void append(struct record *r, const char *bytes, size_t n) {
    pthread_mutex_lock(&lock);
    if (r->length + n > r->capacity) {
        r->capacity = (r->length + n) * 2;
        r->data = realloc(r->data, r->capacity);
    }
    memcpy(r->data + r->length, bytes, n);
    r->length += n;
    pthread_mutex_unlock(&lock);
}

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

/* One connection's unparsed bytes. */
struct connection {
    int fd;
    struct record *record; /* NULL until it is known not to be the test's own */
    int control;
    char *buffer;
    size_t start, used, capacity;
};

static const char control_prefix[] = "GET /__log";

/* Reads more bytes; 0 at the end of the stream or on an error. */
static int fill(struct connection *c) {
    if (c->start > 0) {
        memmove(c->buffer, c->buffer + c->start, c->used - c->start);
        c->used -= c->start;
        c->start = 0;
    }
    if (c->used == c->capacity) {
        c->capacity *= 2;
        c->buffer = realloc(c->buffer, c->capacity);
    }
    ssize_t n;
    do {
        n = read(c->fd, c->buffer + c->used, c->capacity - c->used);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    size_t before = c->used;
    c->used += (size_t)n;
    if (!c->record && !c->control) {
        size_t compared = c->used < sizeof control_prefix - 1 ? c->used : sizeof control_prefix - 1;
        if (memcmp(c->buffer, control_prefix, compared) != 0) {
            c->record = new_record();
            before = 0; /* everything so far */
        } else if (compared == sizeof control_prefix - 1) {
            c->control = 1;
        }
    }
    if (c->record) append(c->record, c->buffer + before, c->used - before);
    return 1;
}

/* The next line (without CRLF or LF) from the buffer, read on as needed; NULL at the end. */
static char *line(struct connection *c) {
    for (;;) {
        char *newline = memchr(c->buffer + c->start, '\n', c->used - c->start);
        if (newline) {
            char *text = c->buffer + c->start;
            size_t length = (size_t)(newline - text);
            c->start += length + 1;
            if (length > 0 && text[length - 1] == '\r') length--;
            text[length] = 0;
            return text;
        }
        if (!fill(c)) return NULL;
    }
}

/* Consumes `n` body bytes, read on as needed; 0 if the stream ends first. */
static int skip(struct connection *c, size_t n) {
    while (n > 0) {
        if (c->start == c->used && !fill(c)) return 0;
        size_t available = c->used - c->start;
        size_t taken = available < n ? available : n;
        c->start += taken;
        n -= taken;
    }
    return 1;
}

static void dump(int fd, int keep_alive) {
    pthread_mutex_lock(&lock);
    size_t total = 0;
    for (size_t i = 0; i < record_count; i++) total += records[i]->length + 64;
    char *body = malloc(total + 1);
    size_t length = 0;
    for (size_t i = 0; i < record_count; i++) {
        struct record *r = records[i];
        length += (size_t)sprintf(body + length, "conn %d %s %zu\n", r->id, r->closed ? "closed" : "open", r->length);
        memcpy(body + length, r->data, r->length);
        length += r->length;
        body[length++] = '\n';
    }
    pthread_mutex_unlock(&lock);
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %zu\r\nConnection: %s\r\n\r\n",
                     length, keep_alive ? "keep-alive" : "close");
    if (write_all(fd, head, (size_t)n) == 0) write_all(fd, body, length);
    free(body);
}

static void *serve(void *arg) {
    struct connection c = {.fd = (int)(long)arg, .capacity = 65536};
    c.buffer = malloc(c.capacity);
    for (;;) {
        char *request_line = line(&c);
        if (!request_line) break;
        if (!*request_line) continue; /* an empty line before a request */
        char method[32] = {0}, target[4096] = {0};
        sscanf(request_line, "%31s %4095s", method, target);
        size_t content_length = 0;
        int chunked = 0, keep_alive = 1;
        for (;;) {
            char *header = line(&c);
            if (!header) goto done;
            if (!*header) break;
            char *colon = strchr(header, ':');
            if (!colon) continue;
            *colon = 0;
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t') value++;
            if (strcasecmp(header, "Content-Length") == 0 && content_length == 0) content_length = strtoul(value, NULL, 10);
            if (strcasecmp(header, "Transfer-Encoding") == 0 && strcasestr(value, "chunked")) chunked = 1;
            if (strcasecmp(header, "Connection") == 0 && strcasestr(value, "close")) keep_alive = 0;
        }
        size_t body_length = 0;
        if (chunked) {
            for (;;) {
                char *size_line = line(&c);
                if (!size_line) goto done;
                size_t size = strtoul(size_line, NULL, 16);
                if (size == 0) {
                    /* Trailers, up to an empty line. */
                    for (;;) {
                        char *trailer = line(&c);
                        if (!trailer) goto done;
                        if (!*trailer) break;
                    }
                    break;
                }
                if (!skip(&c, size)) goto done;
                body_length += size;
                if (!line(&c)) goto done;
            }
        } else {
            if (!skip(&c, content_length)) goto done;
            body_length = content_length;
        }
        if (c.control && strcmp(target, "/__log") == 0) {
            dump(c.fd, keep_alive);
        } else {
            char seen[4200];
            int n = snprintf(seen, sizeof seen, "%s %s len=%zu", method, target, body_length);
            char head[4400];
            int h = snprintf(head, sizeof head,
                             "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seen: %s\r\nContent-Length: %d\r\nConnection: %s\r\n\r\n", seen,
                             n + 1, keep_alive ? "keep-alive" : "close");
            if (write_all(c.fd, head, (size_t)h) != 0) break;
            if (strcmp(method, "HEAD") != 0) {
                seen[n] = '\n';
                if (write_all(c.fd, seen, (size_t)n + 1) != 0) break;
            }
        }
        if (!keep_alive) break;
    }
done:
    if (c.record) {
        pthread_mutex_lock(&lock);
        c.record->closed = 1;
        pthread_mutex_unlock(&lock);
    }
    free(c.buffer);
    close(c.fd);
    return NULL;
}

static void on_term(int signal) {
    (void)signal;
    _exit(0);
}

int main(void) {
    signal(SIGTERM, on_term);
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
    printf("recording on :%d\n", port);
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
