/*
 * wsload: the WebSocket load of berth-bench's `ws` scenario (built static by the Makefile into
 * bench/out/wsload). RFC 6455 client: C connections to ws://ADDRESS:PORT/PATH, each sends a
 * masked message of S bytes and waits for its echo before sending the next (a round trip),
 * for D seconds. Prints one JSON line:
 *
 *   {"messages":N,"seconds":D,"msgs_per_s":R,"p50_ms":A,"p99_ms":B,"errors":E,"error":"..."}
 *
 *   wsload [-c CONNECTIONS] [-d SECONDS] [-s BYTES] [-t THREADS] [-b] ws://127.0.0.1:PORT/PATH
 *
 * -b sends binary messages (default: text, printable ASCII). Every echo is compared with what
 * was sent, opcode and bytes; a mismatch, a refused handshake (the status line is in "error"),
 * a close, a reset or an echo later than 10 s (also one in flight when the time is up) is an error, and any error makes the exit status
 * 1. Only numeric IPv4 addresses on this machine: loopback, or the engine's private bridge
 * networks (10/8, 172.16/12, 192.168/16) where the bench's containers are; no names resolved.
 * Everything is bounded: at most 10,000 connections, 600 s, 16 MiB messages, 10 s for the
 * handshakes, and an alarm ends the process 30 s after the run should have ended.
 *
 * Each thread owns its share of the connections and one epoll set; a round trip costs one
 * write and (for small messages) one read on each side. Latencies go into a log-linear
 * histogram of nanoseconds (1/1024 precision), so memory does not grow with the run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../examples/hello/websocket_accept.h"

#define MAX_CONNECTIONS 10000
#define MAX_SECONDS 600
#define MAX_MESSAGE (16u << 20)
#define MAX_HEAD 16384
#define HANDSHAKE_NS (10ull * 1000000000ull)
#define ECHO_TIMEOUT_NS (10ull * 1000000000ull)

/* ---- options and shared state ---- */

static int connections = 32, seconds = 10, threads = 2, binary = 0;
static size_t message_size = 64;
static struct sockaddr_in target;
static char host_header[80], path[2048];

static pthread_barrier_t barrier;
static volatile int handshake_failed;
static uint64_t run_start_ns, run_end_ns; /* set by thread 0 between the two barriers */
static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void note_error(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void note_error(const char *format, ...) {
    pthread_mutex_lock(&error_lock);
    if (first_error[0] == 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(first_error, sizeof first_error, format, arguments);
        va_end(arguments);
    }
    pthread_mutex_unlock(&error_lock);
}

/* ---- latency histogram: nanoseconds, log-linear, 1/1024 precision ---- */

#define SUB 1024
#define BUCKETS (2 * SUB + 54 * SUB)

static size_t bucket_of(uint64_t v) {
    if (v < 2 * SUB) return (size_t)v;
    int e = 63 - __builtin_clzll(v) - 10; /* v >> e in [1024, 2048) */
    return (size_t)(2 * SUB + (size_t)(e - 1) * SUB + ((v >> e) - SUB));
}

static double value_of(size_t bucket) { /* the middle of the bucket, in nanoseconds */
    if (bucket < 2 * SUB) return (double)bucket;
    size_t e = (bucket - 2 * SUB) / SUB + 1, m = (bucket - 2 * SUB) % SUB + SUB;
    return ((double)m + 0.5) * (double)(1ull << e);
}

/* ---- connections ---- */

enum state { CONNECTING, HANDSHAKE, OPEN, DONE };

struct connection {
    int fd, index;
    enum state state;
    char key[32];
    unsigned char *out; /* frames queued: out_sent of out_length bytes written */
    size_t out_length, out_sent, out_capacity;
    unsigned char *in; /* bytes read and not consumed */
    size_t in_length, in_capacity;
    unsigned char *frame; /* the message's frame, built before it is queued */
    unsigned char *expected; /* the payload of the message in flight */
    unsigned char *assembled; /* a fragmented echo, put together */
    size_t assembled_length;
    int assembled_opcode;
    uint64_t sequence, sent_at;
    int awaiting, wants_out;
    uint64_t random;
};

struct worker {
    int id, epoll;
    struct connection *connections;
    int count;
    uint64_t messages, errors, *histogram;
    pthread_t thread;
};

static uint64_t next_random(uint64_t *s) { /* xorshift64: the masks and keys */
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

static void fail(struct worker *w, struct connection *c, const char *format, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct worker *w, struct connection *c, const char *format, ...) {
    char text[400];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    note_error("connection %d: %s", c->index, text);
    w->errors++;
    if (c->fd >= 0) {
        epoll_ctl(w->epoll, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = DONE;
}

static void watch(struct worker *w, struct connection *c, int out) {
    struct epoll_event event = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &event);
    c->wants_out = out;
}

/* Writes what is left of c->out; 0 when all of it went, 1 when the socket is full, -1 on error. */
static int flush(struct worker *w, struct connection *c) {
    while (c->out_sent < c->out_length) {
        ssize_t n = send(c->fd, c->out + c->out_sent, c->out_length - c->out_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                if (!c->wants_out) watch(w, c, 1);
                return 1;
            }
            fail(w, c, "write: %s", strerror(errno));
            return -1;
        }
        c->out_sent += (size_t)n;
    }
    if (c->wants_out) watch(w, c, 0);
    return 0;
}

/* Appends a frame (or the handshake) to what is still to be written, then writes. */
static void queue(struct worker *w, struct connection *c, const unsigned char *bytes, size_t length) {
    if (c->out_sent > 0) {
        memmove(c->out, c->out + c->out_sent, c->out_length - c->out_sent);
        c->out_length -= c->out_sent, c->out_sent = 0;
    }
    if (c->out_length + length > c->out_capacity) {
        fail(w, c, "%zu bytes not yet written: the peer does not read", c->out_length);
        return;
    }
    memcpy(c->out + c->out_length, bytes, length);
    c->out_length += length;
    flush(w, c);
}

/* A client frame: FIN, the opcode, the mask bit, the length, a mask, the masked payload. */
static size_t frame(struct connection *c, int opcode, const unsigned char *payload, size_t length, unsigned char *out) {
    size_t h = 0;
    out[h++] = (unsigned char)(0x80 | opcode);
    if (length < 126) {
        out[h++] = (unsigned char)(0x80 | length);
    } else if (length < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (unsigned char)(length >> 8), out[h++] = (unsigned char)length;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (unsigned char)((uint64_t)length >> (8 * i));
    }
    uint32_t mask = (uint32_t)next_random(&c->random);
    unsigned char m[4] = {(unsigned char)(mask >> 24), (unsigned char)(mask >> 16), (unsigned char)(mask >> 8), (unsigned char)mask};
    memcpy(out + h, m, 4);
    h += 4;
    for (size_t i = 0; i < length; i++) out[h + i] = payload[i] ^ m[i & 3];
    return h + length;
}

/* The next message: its sequence number and connection, then a pattern, printable for text. */
static void send_message(struct worker *w, struct connection *c) {
    c->sequence++;
    for (size_t i = 0; i < message_size; i++) {
        uint64_t v = c->sequence * 131 + (uint64_t)c->index * 7 + i;
        c->expected[i] = binary ? (unsigned char)(v * 2654435761u >> 13) : (unsigned char)('!' + v % 94);
    }
    char tag[32];
    int t = snprintf(tag, sizeof tag, "%d:%llu:", c->index, (unsigned long long)c->sequence);
    memcpy(c->expected, tag, (size_t)t < message_size ? (size_t)t : message_size);
    size_t n = frame(c, binary ? 2 : 1, c->expected, message_size, c->frame);
    c->awaiting = 1;
    c->sent_at = now_ns();
    queue(w, c, c->frame, n);
}

static void send_control(struct worker *w, struct connection *c, int opcode, const unsigned char *payload, size_t length) {
    unsigned char buffer[140]; /* control frames carry at most 125 bytes */
    size_t n = frame(c, opcode, payload, length, buffer);
    queue(w, c, buffer, n);
}

static int start_connection(struct worker *w, struct connection *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(w, c, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        fail(w, c, "connect: %s", strerror(errno));
        return -1;
    }
    unsigned char raw[16];
    for (int i = 0; i < 16; i++) raw[i] = (unsigned char)next_random(&c->random);
    base64(raw, 16, c->key);
    char request[MAX_HEAD];
    int n = snprintf(request, sizeof request,
                                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                     path, host_header, c->key);
    c->state = CONNECTING;
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(w->epoll, EPOLL_CTL_ADD, c->fd, &event);
    c->wants_out = 1;
    /* Queued only: written once the connection is up (on_writable). */
    memcpy(c->out, request, (size_t)n);
    c->out_length = (size_t)n, c->out_sent = 0;
    return 0;
}

/* A header's value in a response head (case-insensitive name), or NULL. */
static const char *header(const char *head, const char *name, size_t *length) {
    size_t name_length = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2] != '\r'; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, name_length) == 0 && line[2 + name_length] == ':') {
            const char *value = line + 3 + name_length;
            while (*value == ' ' || *value == '\t') value++;
            const char *end = strstr(value, "\r\n");
            while (end > value && (end[-1] == ' ' || end[-1] == '\t')) end--;
            *length = (size_t)(end - value);
            return value;
        }
    }
    return NULL;
}

static int contains_token(const char *value, size_t length, const char *token) {
    size_t t = strlen(token);
    for (size_t i = 0; i + t <= length; i++)
        if (strncasecmp(value + i, token, t) == 0) return 1;
    return 0;
}

/* The response head, once whole: 101, Upgrade: websocket, Connection: upgrade, the right accept. */
static void check_handshake(struct worker *w, struct connection *c) {
    unsigned char *end = memmem(c->in, c->in_length, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->in_length >= MAX_HEAD) fail(w, c, "handshake: a response head over %d bytes", MAX_HEAD);
        return;
    }
    size_t head_length = (size_t)(end - c->in) + 4;
    char head[MAX_HEAD + 1];
    memcpy(head, c->in, head_length);
    head[head_length] = 0;
    char *line_end = strstr(head, "\r\n");
    char status_line[200];
    snprintf(status_line, sizeof status_line, "%.*s", (int)(line_end - head), head);
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        fail(w, c, "handshake answered \"%s\", not 101", status_line);
        return;
    }
    size_t length;
    const char *value = header(head, "Upgrade", &length);
    if (!value || !contains_token(value, length, "websocket")) {
        fail(w, c, "handshake: 101 without Upgrade: websocket");
        return;
    }
    value = header(head, "Connection", &length);
    if (!value || !contains_token(value, length, "upgrade")) {
        fail(w, c, "handshake: 101 without Connection: upgrade");
        return;
    }
    char accept[32];
    websocket_accept(c->key, accept);
    value = header(head, "Sec-WebSocket-Accept", &length);
    if (!value || length != strlen(accept) || memcmp(value, accept, length) != 0) {
        fail(w, c, "handshake: a wrong or missing Sec-WebSocket-Accept");
        return;
    }
    memmove(c->in, c->in + head_length, c->in_length - head_length);
    c->in_length -= head_length;
    c->state = OPEN;
    watch(w, c, 0);
}

static void record(struct worker *w, struct connection *c, uint64_t at) {
    if (at >= run_start_ns && at <= run_end_ns && c->sent_at >= run_start_ns) {
        w->messages++;
        w->histogram[bucket_of(at - c->sent_at)]++;
    }
}

/* Every whole frame in c->in: data frames make up the echo, pings get a pong, a close ends it. */
static void consume_frames(struct worker *w, struct connection *c, int sending) {
    size_t at = 0;
    while (c->state == OPEN) {
        size_t available = c->in_length - at;
        if (available < 2) break;
        unsigned char *f = c->in + at;
        int fin = f[0] & 0x80, opcode = f[0] & 0x0f;
        if (f[0] & 0x70) { fail(w, c, "a frame with reserved bits 0x%02x", f[0] & 0x70); return; }
        if (f[1] & 0x80) { fail(w, c, "a masked frame from the server"); return; }
        uint64_t length = f[1] & 0x7f;
        size_t h = 2;
        if (length == 126) {
            if (available < 4) break;
            length = (uint64_t)f[2] << 8 | f[3], h = 4;
        } else if (length == 127) {
            if (available < 10) break;
            length = 0;
            for (int i = 0; i < 8; i++) length = length << 8 | f[2 + i];
            h = 10;
        }
        if (length > MAX_MESSAGE) { fail(w, c, "a frame of %llu bytes", (unsigned long long)length); return; }
        if (available < h + length) {
            if (h + length > c->in_capacity) { /* grow to hold this frame whole */
                size_t capacity = h + length;
                memmove(c->in, c->in + at, available);
                c->in_length = available, at = 0;
                c->in = realloc(c->in, capacity), c->in_capacity = capacity;
            }
            break;
        }
        unsigned char *payload = f + h;
        at += h + (size_t)length;
        if (opcode >= 8) {
            if (!fin || length > 125) { fail(w, c, "a fragmented or long control frame"); return; }
            if (opcode == 8) {
                unsigned code = length >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 0;
                { fail(w, c, "the server closed the WebSocket (code %u)", code); return; }
            }
            if (opcode == 9) send_control(w, c, 10, payload, (size_t)length);
            continue; /* pong: ignored */
        }
        if (!c->awaiting) { fail(w, c, "a message nobody asked for (opcode %d)", opcode); return; }
        if (opcode != 0) {
            if (c->assembled_opcode) { fail(w, c, "a new message inside a fragmented one"); return; }
            c->assembled_opcode = opcode, c->assembled_length = 0;
        } else if (!c->assembled_opcode) {
            { fail(w, c, "a continuation frame without a message"); return; }
        }
        if (c->assembled_length + length > message_size)
            { fail(w, c, "an echo longer than the %zu bytes sent", message_size); return; }
        memcpy(c->assembled + c->assembled_length, payload, (size_t)length);
        c->assembled_length += (size_t)length;
        if (!fin) continue;
        uint64_t received = now_ns();
        int want = binary ? 2 : 1;
        if (c->assembled_opcode != want)
            { fail(w, c, "an echo with opcode %d, sent %d", c->assembled_opcode, want); return; }
        if (c->assembled_length != message_size || memcmp(c->assembled, c->expected, message_size) != 0)
            { fail(w, c, "an echo that differs from message %llu (%zu bytes back)", (unsigned long long)c->sequence, c->assembled_length); return; }
        c->assembled_opcode = 0, c->awaiting = 0;
        record(w, c, received);
        if (sending && received < run_end_ns) send_message(w, c);
    }
    if (c->state != OPEN) return;
    memmove(c->in, c->in + at, c->in_length - at);
    c->in_length -= at;
}

static void on_readable(struct worker *w, struct connection *c, int sending) {
    for (;;) {
        if (c->in_length == c->in_capacity) {
            if (c->in_capacity >= MAX_MESSAGE + 64) { fail(w, c, "more than %u bytes unread", MAX_MESSAGE); return; }
            c->in_capacity *= 2;
            c->in = realloc(c->in, c->in_capacity);
        }
        size_t space = c->in_capacity - c->in_length;
        ssize_t n = read(c->fd, c->in + c->in_length, space);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            { fail(w, c, "read: %s", strerror(errno)); return; }
        }
        if (n == 0) { fail(w, c, "the connection was closed%s", c->state == HANDSHAKE ? " before the handshake's answer" : ""); return; }
        c->in_length += (size_t)n;
        if (c->state == HANDSHAKE) check_handshake(w, c);
        if (c->state == OPEN) consume_frames(w, c, sending);
        if (c->state == DONE) return;
        if ((size_t)n < space) return; /* the socket is drained */
    }
}

static void on_writable(struct worker *w, struct connection *c) {
    if (c->state == CONNECTING) {
        int error = 0;
        socklen_t size = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &size);
        if (error) { fail(w, c, "connect: %s", strerror(error)); return; }
        c->state = HANDSHAKE;
    }
    if (flush(w, c) == 0 && c->state == HANDSHAKE) watch(w, c, 0);
}

/* Runs the loop until `until`, with `sending` whether echoes lead to the next message. */
static int poll_until(struct worker *w, uint64_t until, int sending, int (*finished)(struct worker *)) {
    struct epoll_event events[256];
    uint64_t last_check = now_ns();
    for (;;) {
        uint64_t now = now_ns();
        if (now >= until || (finished && finished(w))) return 0;
        int timeout = (int)((until - now) / 1000000) + 1;
        if (timeout > 100) timeout = 100;
        int n = epoll_wait(w->epoll, events, 256, timeout);
        if (n < 0 && errno != EINTR) {
            note_error("epoll_wait: %s", strerror(errno));
            w->errors++;
            return -1;
        }
        for (int i = 0; i < n; i++) {
            struct connection *c = events[i].data.ptr;
            if (c->state == DONE) continue;
            if (events[i].events & (EPOLLOUT | EPOLLERR)) on_writable(w, c);
            if (c->state != DONE && events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(w, c, sending);
        }
        now = now_ns();
        if (now - last_check > 100000000ull) { /* every 100 ms: echoes that never came */
            last_check = now;
            for (int i = 0; i < w->count; i++) {
                struct connection *c = &w->connections[i];
                if (c->state == OPEN && c->awaiting && now - c->sent_at > ECHO_TIMEOUT_NS)
                    fail(w, c, "no echo of message %llu in %llu s", (unsigned long long)c->sequence, ECHO_TIMEOUT_NS / 1000000000ull);
            }
        }
    }
}

static int all_open(struct worker *w) {
    for (int i = 0; i < w->count; i++)
        if (w->connections[i].state != OPEN && w->connections[i].state != DONE) return 0;
    return 1;
}

static int none_awaiting(struct worker *w) {
    for (int i = 0; i < w->count; i++)
        if (w->connections[i].state == OPEN && w->connections[i].awaiting) return 0;
    return 1;
}

static void *run(void *argument) {
    struct worker *w = argument;
    w->epoll = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < w->count; i++) start_connection(w, &w->connections[i]);
    uint64_t deadline = now_ns() + HANDSHAKE_NS;
    poll_until(w, deadline, 0, all_open);
    for (int i = 0; i < w->count; i++) {
        struct connection *c = &w->connections[i];
        if (c->state != OPEN && c->state != DONE) fail(w, c, "no handshake in %llu s", HANDSHAKE_NS / 1000000000ull);
    }
    if (w->errors) handshake_failed = 1;
    pthread_barrier_wait(&barrier);
    if (w->id == 0) {
        run_start_ns = now_ns();
        run_end_ns = run_start_ns + (uint64_t)seconds * 1000000000ull;
    }
    pthread_barrier_wait(&barrier);
    if (!handshake_failed) {
        for (int i = 0; i < w->count; i++)
            if (w->connections[i].state == OPEN) send_message(w, &w->connections[i]);
        poll_until(w, run_end_ns, 1, NULL);
        /* The echoes in flight at the end: taken, not counted; one later than ECHO_TIMEOUT_NS
           is an error here too, so that a stalled connection never passes for a slow one. */
        poll_until(w, run_end_ns + ECHO_TIMEOUT_NS + 200000000ull, 0, none_awaiting);
    }
    for (int i = 0; i < w->count; i++) {
        struct connection *c = &w->connections[i];
        if (c->state == OPEN) {
            static const unsigned char normal[2] = {0x03, 0xe8}; /* 1000 */
            send_control(w, c, 8, normal, 2);
        }
        if (c->fd >= 0) close(c->fd);
        c->fd = -1;
    }
    close(w->epoll);
    return NULL;
}

static int usage(const char *why) {
    fprintf(stderr, "wsload: %s\nusage: wsload [-c CONNECTIONS] [-d SECONDS] [-s BYTES] [-t THREADS] [-b] ws://ADDRESS:PORT/PATH\n", why);
    return 2;
}

/* Loopback or the engine's private bridge networks, where the bench's containers are. */
static int local(struct in_addr address) {
    uint32_t a = ntohl(address.s_addr);
    return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == (172 << 4 | 1) || (a >> 16) == (192 << 8 | 168);
}

int main(int argc, char **argv) {
    int option;
    while ((option = getopt(argc, argv, "c:d:s:t:b")) != -1) {
        switch (option) {
        case 'c': connections = atoi(optarg); break;
        case 'd': seconds = atoi(optarg); break;
        case 's': message_size = strtoul(optarg, NULL, 10); break;
        case 't': threads = atoi(optarg); break;
        case 'b': binary = 1; break;
        default: return usage("unknown option");
        }
    }
    if (optind != argc - 1) return usage("one URL");
    if (connections < 1 || connections > MAX_CONNECTIONS) return usage("-c: 1 to 10000 connections");
    if (seconds < 1 || seconds > MAX_SECONDS) return usage("-d: 1 to 600 seconds");
    if (message_size < 1 || message_size > MAX_MESSAGE) return usage("-s: 1 byte to 16 MiB");
    if (threads < 1 || threads > 64) return usage("-t: 1 to 64 threads");
    if (threads > connections) threads = connections;

    const char *url = argv[optind];
    if (strncmp(url, "ws://", 5) != 0) return usage("the URL is ws://ADDRESS:PORT/PATH");
    const char *authority = url + 5, *slash = strchr(authority, '/'), *colon = strchr(authority, ':');
    if (!colon || (slash && colon > slash)) return usage("the URL needs a port");
    char address[64];
    if ((size_t)(colon - authority) >= sizeof address) return usage("the address is too long");
    snprintf(address, sizeof address, "%.*s", (int)(colon - authority), authority);
    long port = strtol(colon + 1, NULL, 10);
    if (port < 1 || port > 65535) return usage("a port from 1 to 65535");
    snprintf(path, sizeof path, "%s", slash ? slash : "/");
    snprintf(host_header, sizeof host_header, "%s:%ld", address, port);
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, address, &target.sin_addr) != 1) return usage("a numeric IPv4 address (no names are resolved)");
    if (!local(target.sin_addr)) return usage("only loopback or the engine's private networks");

    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)seconds + 30); /* the hard bound: SIGALRM ends the process */

    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    struct connection *all = calloc((size_t)connections, sizeof *all);
    /* Room for a message's frame, a pong and a close behind it, or the handshake. */
    size_t frame_capacity = message_size + 14 + 512 > MAX_HEAD ? message_size + 14 + 512 : MAX_HEAD;
    uint64_t seed = now_ns() ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < connections; i++) {
        struct connection *c = &all[i];
        c->fd = -1, c->index = i;
        c->out = malloc(frame_capacity), c->out_capacity = frame_capacity;
        c->frame = malloc(message_size + 14);
        c->in_capacity = message_size + 14 > 65536 ? message_size + 14 : 65536;
        c->in = malloc(c->in_capacity);
        c->expected = malloc(message_size);
        c->assembled = malloc(message_size);
        c->random = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
        if (!c->random) c->random = 1;
    }
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (int t = 0, first = 0; t < threads; t++) {
        int count = connections / threads + (t < connections % threads);
        workers[t].id = t;
        workers[t].connections = all + first;
        workers[t].count = count;
        workers[t].histogram = calloc(BUCKETS, sizeof(uint64_t));
        first += count;
    }
    for (int t = 0; t < threads; t++) pthread_create(&workers[t].thread, NULL, run, &workers[t]);
    for (int t = 0; t < threads; t++) pthread_join(workers[t].thread, NULL);

    uint64_t messages = 0, errors = 0;
    uint64_t *histogram = calloc(BUCKETS, sizeof(uint64_t));
    for (int t = 0; t < threads; t++) {
        messages += workers[t].messages, errors += workers[t].errors;
        for (size_t b = 0; b < BUCKETS; b++) histogram[b] += workers[t].histogram[b];
    }
    double p[2] = {0, 0}, q[2] = {0.50, 0.99};
    for (int k = 0; k < 2 && messages > 0; k++) {
        uint64_t rank = (uint64_t)(q[k] * (double)messages + 0.5), seen = 0;
        if (rank < 1) rank = 1;
        for (size_t b = 0; b < BUCKETS; b++) {
            seen += histogram[b];
            if (seen >= rank) {
                p[k] = value_of(b) / 1e6;
                break;
            }
        }
    }
    double elapsed = handshake_failed ? 0 : (double)seconds;
    char escaped[sizeof first_error * 2];
    size_t e = 0;
    for (const char *s = first_error; *s; s++) {
        if (*s == '"' || *s == '\\') escaped[e++] = '\\';
        escaped[e++] = (*s >= 32 && *s < 127) ? *s : '?';
    }
    escaped[e] = 0;
    printf("{\"messages\":%llu,\"seconds\":%.3f,\"msgs_per_s\":%.2f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"errors\":%llu,"
           "\"connections\":%d,\"message_bytes\":%zu,\"binary\":%s,\"error\":\"%s\"}\n",
           (unsigned long long)messages, elapsed, elapsed > 0 ? (double)messages / elapsed : 0.0, p[0], p[1],
           (unsigned long long)errors, connections, message_size, binary ? "true" : "false", escaped);
    return errors ? 1 : 0;
}
