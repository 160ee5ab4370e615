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
 *   GET  path ending in /ws a WebSocket (RFC 6455) that echoes every message, text as text and
 *                           binary as binary, one frame each; fragmented messages are reassembled
 *                           up to 64 MiB (beyond: close 1009); unmasked client frames: close 1002;
 *                           ping: pong; a client's close: the same code back, then the TCP close
 *     ws text "close:NNNN"  the server closes: a close frame with code NNNN and reason "bye",
 *                           at most 1 s of waiting for the client's, then the TCP close
 *     ws text "whoami"      answered with "instance <id>"
 *     ws query ?greet=1     a text message "hello <id>" in the same write() as the 101 response
 *   any  path ending in /ws without a valid upgrade: 426 Upgrade Required; a path ending in /ws
 *                           is only the WebSocket, the routes above ignore it
 *
 * SIGTERM ends it gracefully (exit 0), unless IGNORE_SIGTERM is set (to show the grace period
 * and SIGKILL): open WebSockets get a close frame 1001 and at most 500 ms to answer it. PORT
 * changes the port. Connections are kept alive.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "websocket_accept.h"

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

/* ---- WebSocket (RFC 6455) ---------------------------------------------------------------- */

/* The value of the next header named `name` in a request head whose header lines end at `end`
 * (where "\r\n\r\n" starts), with spaces trimmed; *line points at the "\r\n" before the first
 * line to look at and moves past the one found. NULL when there is no more. */
static const char *next_header(const char **line, const char *end, const char *name, size_t *length) {
    size_t name_length = strlen(name);
    while (*line < end) {
        const char *start = *line + 2;
        const char *stop = memmem(start, (size_t)(end + 2 - start), "\r\n", 2);
        *line = stop;
        if ((size_t)(stop - start) <= name_length || strncasecmp(start, name, name_length) != 0 || start[name_length] != ':') continue;
        const char *value = start + name_length + 1;
        while (value < stop && (*value == ' ' || *value == '\t')) value++;
        const char *value_end = stop;
        while (value_end > value && (value_end[-1] == ' ' || value_end[-1] == '\t')) value_end--;
        *length = (size_t)(value_end - value);
        return value;
    }
    return NULL;
}

/* Whether some header `name` holds `token` in its comma-separated list (case-insensitive). */
static int header_has_token(const char *head, const char *end, const char *name, const char *token) {
    size_t token_length = strlen(token), length;
    const char *line = memmem(head, (size_t)(end + 2 - head), "\r\n", 2), *value;
    while ((value = next_header(&line, end, name, &length)) != NULL) {
        for (const char *item = value, *stop = value + length; item < stop;) {
            const char *comma = memchr(item, ',', (size_t)(stop - item));
            const char *item_end = comma ? comma : stop;
            while (item < item_end && (*item == ' ' || *item == '\t')) item++;
            const char *trimmed = item_end;
            while (trimmed > item && (trimmed[-1] == ' ' || trimmed[-1] == '\t')) trimmed--;
            if ((size_t)(trimmed - item) == token_length && strncasecmp(item, token, token_length) == 0) return 1;
            item = item_end + 1;
        }
    }
    return 0;
}

/* Whether the path, before any ?query, ends in /ws. */
static int websocket_path(const char *path) {
    size_t length = strcspn(path, "?");
    return length >= 3 && memcmp(path + length - 3, "/ws", 3) == 0;
}

/* Whether the query of the path has the parameter `parameter` (as "name=value"). */
static int query_has(const char *path, const char *parameter) {
    const char *query = strchr(path, '?');
    size_t length = strlen(parameter);
    for (const char *item = query; item; item = strchr(item + 1, '&'))
        if (strncmp(item + 1, parameter, length) == 0 && (item[1 + length] == '&' || item[1 + length] == 0)) return 1;
    return 0;
}

/* Whether the head asks for a WebSocket (RFC 6455 section 4.2.1): Upgrade: websocket,
 * Connection: upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key, copied into key. */
static int websocket_request(const char *head, const char *end, char key[128]) {
    if (!header_has_token(head, end, "Upgrade", "websocket") || !header_has_token(head, end, "Connection", "upgrade") ||
        !header_has_token(head, end, "Sec-WebSocket-Version", "13"))
        return 0;
    size_t length;
    const char *line = memmem(head, (size_t)(end + 2 - head), "\r\n", 2);
    const char *value = next_header(&line, end, "Sec-WebSocket-Key", &length);
    if (value == NULL || length == 0 || length >= 128) return 0;
    memcpy(key, value, length);
    key[length] = 0;
    return 1;
}

enum { OP_CONTINUATION = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
#define MESSAGE_LIMIT ((uint64_t)64 << 20) /* the largest message reassembled */
#define CLOSE_WAIT_MS 1000                 /* how long a close frame waits for the peer's */

/* One open WebSocket, in the list of open ones (for SIGTERM). */
struct websocket {
    int fd;
    pthread_mutex_t write_lock; /* one frame at a time: the echoes and the close of SIGTERM */
    int close_sent;             /* under write_lock: a close frame went out, nothing may follow */
    long long close_deadline;   /* under write_lock: when to stop waiting for the peer's close */
    unsigned char *in;          /* bytes read from the socket and not parsed yet: in[start, end) */
    size_t in_capacity, in_start, in_end;
    struct websocket *previous, *next;
};

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct websocket *open_sockets; /* under open_lock */
static int open_count;                 /* under open_lock */

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void register_socket(struct websocket *ws) {
    pthread_mutex_lock(&open_lock);
    ws->previous = NULL;
    ws->next = open_sockets;
    if (open_sockets) open_sockets->previous = ws;
    open_sockets = ws;
    open_count++;
    pthread_mutex_unlock(&open_lock);
}

static void unregister_socket(struct websocket *ws) {
    pthread_mutex_lock(&open_lock);
    if (ws->previous) ws->previous->next = ws->next;
    else open_sockets = ws->next;
    if (ws->next) ws->next->previous = ws->previous;
    open_count--;
    pthread_mutex_unlock(&open_lock);
}

/* Writes every buffer, resuming after partial writes. */
static int writev_all(int fd, struct iovec *parts, int count) {
    while (count > 0) {
        ssize_t n = writev(fd, parts, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (; count > 0 && (size_t)n >= parts->iov_len; parts++, count--) n -= (ssize_t)parts->iov_len;
        if (count > 0) {
            parts->iov_base = (char *)parts->iov_base + n;
            parts->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* The head of an unmasked server frame with FIN set; returns its length (2, 4 or 10). */
static size_t frame_head(unsigned char head[10], int opcode, uint64_t length) {
    head[0] = (unsigned char)(0x80 | opcode);
    if (length < 126) {
        head[1] = (unsigned char)length;
        return 2;
    }
    if (length <= 0xFFFF) {
        head[1] = 126, head[2] = (unsigned char)(length >> 8), head[3] = (unsigned char)length;
        return 4;
    }
    head[1] = 127;
    for (int i = 0; i < 8; i++) head[2 + i] = (unsigned char)(length >> (56 - 8 * i));
    return 10;
}

/* Sends one whole-message frame, unless a close frame already went out. */
static int send_frame(struct websocket *ws, int opcode, const void *payload, size_t length) {
    unsigned char head[10];
    struct iovec parts[2] = {{head, frame_head(head, opcode, length)}, {(void *)payload, length}};
    pthread_mutex_lock(&ws->write_lock);
    int result = ws->close_sent ? -1 : writev_all(ws->fd, parts, 2);
    pthread_mutex_unlock(&ws->write_lock);
    return result;
}

/* The payload of a close frame: the code (none when 0), then the reason; returns its length. */
static size_t close_payload(unsigned char payload[125], int code, const char *reason) {
    if (code == 0) return 0;
    size_t length = strlen(reason) < 123 ? strlen(reason) : 123;
    payload[0] = (unsigned char)(code >> 8), payload[1] = (unsigned char)code;
    memcpy(payload + 2, reason, length);
    return 2 + length;
}

/* Sends the close frame (once; later calls do nothing) and starts the wait for the peer's. */
static void send_close(struct websocket *ws, int code, const char *reason) {
    unsigned char payload[125];
    size_t length = close_payload(payload, code, reason);
    unsigned char head[10];
    struct iovec parts[2] = {{head, frame_head(head, OP_CLOSE, length)}, {payload, length}};
    pthread_mutex_lock(&ws->write_lock);
    if (!ws->close_sent) {
        writev_all(ws->fd, parts, 2);
        ws->close_sent = 1;
        ws->close_deadline = now_ms() + CLOSE_WAIT_MS;
    }
    pthread_mutex_unlock(&ws->write_lock);
}

/* Whether a close frame went out (the session then only waits for the peer's close). */
static int closing(struct websocket *ws, long long *deadline) {
    pthread_mutex_lock(&ws->write_lock);
    int sent = ws->close_sent;
    if (deadline) *deadline = ws->close_deadline;
    pthread_mutex_unlock(&ws->write_lock);
    return sent;
}

/* One read() from the socket; once a close went out, waits no longer than its deadline.
 * -1 at the end of the stream, on an error, or at the deadline. */
static ssize_t receive(struct websocket *ws, void *into, size_t room) {
    long long deadline;
    for (;;) {
        if (closing(ws, &deadline)) {
            long long left = deadline - now_ms();
            if (left <= 0) return -1;
            struct pollfd wait = {.fd = ws->fd, .events = POLLIN};
            int ready = poll(&wait, 1, (int)left);
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return -1;
        }
        ssize_t n = read(ws->fd, into, room);
        if (n < 0 && errno == EINTR) continue;
        return n > 0 ? n : -1;
    }
}

/* Reads exactly `length` bytes, the buffered ones first; large reads go straight to `into`. */
static int read_exactly(struct websocket *ws, void *into, size_t length) {
    unsigned char *to = into;
    while (length > 0) {
        if (ws->in_start < ws->in_end) {
            size_t n = ws->in_end - ws->in_start < length ? ws->in_end - ws->in_start : length;
            memcpy(to, ws->in + ws->in_start, n);
            ws->in_start += n, to += n, length -= n;
        } else if (length >= ws->in_capacity) {
            ssize_t n = receive(ws, to, length);
            if (n < 0) return -1;
            to += n, length -= (size_t)n;
        } else {
            ssize_t n = receive(ws, ws->in, ws->in_capacity);
            if (n < 0) return -1;
            ws->in_start = 0, ws->in_end = (size_t)n;
        }
    }
    return 0;
}

/* Reads and drops `length` bytes (the payload of a frame that is not kept). */
static int skip(struct websocket *ws, uint64_t length) {
    while (length > 0) {
        if (ws->in_start == ws->in_end) {
            ssize_t n = receive(ws, ws->in, ws->in_capacity);
            if (n < 0) return -1;
            ws->in_start = 0, ws->in_end = (size_t)n;
        }
        size_t n = ws->in_end - ws->in_start < length ? ws->in_end - ws->in_start : (size_t)length;
        ws->in_start += n, length -= n;
    }
    return 0;
}

static void unmask(unsigned char *data, size_t length, const unsigned char key[4]) {
    for (size_t i = 0; i < length; i++) data[i] ^= key[i & 3];
}

/* Whether the bytes are well-formed UTF-8 (no overlong forms, surrogates or beyond U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t length) {
    for (size_t i = 0; i < length;) {
        unsigned char c = s[i];
        size_t extra;
        uint32_t point, minimum;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) extra = 1, point = c & 0x1F, minimum = 0x80;
        else if ((c & 0xF0) == 0xE0) extra = 2, point = c & 0x0F, minimum = 0x800;
        else if ((c & 0xF8) == 0xF0) extra = 3, point = c & 0x07, minimum = 0x10000;
        else return 0;
        if (i + extra >= length) return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            point = point << 6 | (s[i + k] & 0x3F);
        }
        if (point < minimum || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF)) return 0;
        i += extra + 1;
    }
    return 1;
}

/* Whether a close code may be sent in a close frame (RFC 6455 section 7.4). */
static int valid_close_code(int code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* A frame's head as read: FIN, the RSV bits, the opcode, the mask and the payload length. */
struct frame {
    int fin, rsv, opcode, masked;
    unsigned char key[4];
    uint64_t length;
};

static int read_frame_head(struct websocket *ws, struct frame *frame) {
    unsigned char b[8];
    if (read_exactly(ws, b, 2) != 0) return -1;
    frame->fin = b[0] >> 7, frame->rsv = b[0] >> 4 & 7, frame->opcode = b[0] & 15;
    frame->masked = b[1] >> 7, frame->length = b[1] & 127;
    if (frame->length == 126) {
        if (read_exactly(ws, b, 2) != 0) return -1;
        frame->length = (uint64_t)b[0] << 8 | b[1];
    } else if (frame->length == 127) {
        if (read_exactly(ws, b, 8) != 0) return -1;
        frame->length = 0;
        for (int i = 0; i < 8; i++) frame->length = frame->length << 8 | b[i];
    }
    if (frame->masked && read_exactly(ws, frame->key, 4) != 0) return -1;
    return 0;
}

/* The close code a frame calls for (1002 protocol error), or 0 when it is fine; `assembling` is
 * the opcode of the fragmented message under way, 0 when none. */
static int frame_problem(const struct frame *frame, int assembling) {
    int control = frame->opcode >= 8;
    if (frame->rsv != 0 || !frame->masked || frame->length >> 63) return 1002;
    if (control) return frame->opcode > OP_PONG || !frame->fin || frame->length > 125 ? 1002 : 0;
    if (frame->opcode > OP_BINARY) return 1002;
    if (frame->opcode == OP_CONTINUATION && assembling == 0) return 1002;
    if (frame->opcode != OP_CONTINUATION && assembling != 0) return 1002;
    return 0;
}

/* A client's close frame: the same code back (none if none), or 1002 for a malformed one. */
static void answer_close(struct websocket *ws, const unsigned char *payload, size_t length) {
    int code = length >= 2 ? payload[0] << 8 | payload[1] : 0;
    if (length == 1 || (length >= 2 && !valid_close_code(code))) code = 1002;
    else if (length >= 2 && !valid_utf8(payload + 2, length - 2)) code = 1007;
    send_close(ws, code, "");
}

/* A whole message: the test hooks (close:NNNN, whoami), else the echo. */
static void on_message(struct websocket *ws, int opcode, const unsigned char *data, size_t length) {
    if (opcode == OP_TEXT && !valid_utf8(data, length)) {
        send_close(ws, 1007, "");
        return;
    }
    if (opcode == OP_TEXT && length == 6 && memcmp(data, "whoami", 6) == 0) {
        char answer[512];
        int n = snprintf(answer, sizeof answer, "instance %s", instance_id);
        send_frame(ws, OP_TEXT, answer, (size_t)n < sizeof answer ? (size_t)n : sizeof answer - 1);
        return;
    }
    if (opcode == OP_TEXT && length == 10 && memcmp(data, "close:", 6) == 0) {
        int code = 0;
        for (size_t i = 6; i < 10 && code >= 0; i++) code = data[i] >= '0' && data[i] <= '9' ? code * 10 + (data[i] - '0') : -1;
        if (valid_close_code(code)) {
            send_close(ws, code, "bye");
            return;
        }
    }
    send_frame(ws, opcode, data, length);
}

/* Reads frames until the connection ends: echoes messages, answers pings, and once a close frame
 * went out (either side's), waits (at most CLOSE_WAIT_MS) for the peer's close. */
static void websocket_session(struct websocket *ws) {
    unsigned char *message = NULL;
    size_t message_length = 0, message_capacity = 0;
    int assembling = 0; /* the opcode of the fragmented message under way */
    for (;;) {
        struct frame frame;
        if (read_frame_head(ws, &frame) != 0) break;
        if (closing(ws, NULL)) { /* only the peer's close matters now */
            if (frame.opcode == OP_CLOSE || skip(ws, frame.length) != 0) break;
            continue;
        }
        int problem = frame_problem(&frame, assembling);
        if (problem == 0 && frame.opcode < 8 && message_length + frame.length > MESSAGE_LIMIT) problem = 1009;
        if (problem != 0) {
            send_close(ws, problem, "");
            if (skip(ws, frame.length) != 0) break;
            continue;
        }
        if (frame.opcode >= 8) { /* a control frame, possibly between fragments */
            unsigned char payload[125];
            if (read_exactly(ws, payload, (size_t)frame.length) != 0) break;
            unmask(payload, (size_t)frame.length, frame.key);
            if (frame.opcode == OP_PING) send_frame(ws, OP_PONG, payload, (size_t)frame.length);
            if (frame.opcode == OP_CLOSE) {
                answer_close(ws, payload, (size_t)frame.length);
                break;
            }
            continue;
        }
        if (message_length + frame.length > message_capacity) {
            size_t capacity = message_capacity ? message_capacity : 4096;
            while (capacity < message_length + frame.length) capacity *= 2;
            unsigned char *grown = realloc(message, capacity);
            if (grown == NULL) {
                send_close(ws, 1009, "");
                if (skip(ws, frame.length) != 0) break;
                continue;
            }
            message = grown, message_capacity = capacity;
        }
        if (read_exactly(ws, message + message_length, (size_t)frame.length) != 0) break;
        unmask(message + message_length, (size_t)frame.length, frame.key);
        message_length += (size_t)frame.length;
        if (frame.opcode != OP_CONTINUATION) assembling = frame.opcode;
        if (!frame.fin) continue;
        on_message(ws, assembling, message, message_length);
        assembling = 0, message_length = 0;
        if (message_capacity > (1 << 20)) { /* do not keep a large buffer for the next message */
            free(message);
            message = NULL, message_capacity = 0;
        }
    }
    free(message);
}

/* Answers the upgrade (with the greeting in the same write when asked), then runs the session;
 * `early` holds the bytes read after the request head. The caller closes fd. */
static void websocket(int fd, const char *key, int greet, const char *early, size_t early_length) {
    char accept[29], response[1024];
    websocket_accept(key, accept);
    int n = snprintf(response, sizeof response,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    size_t length = (size_t)n;
    if (greet) {
        char hello[256];
        int h = snprintf(hello, sizeof hello, "hello %s", instance_id);
        size_t hello_length = (size_t)h < sizeof hello ? (size_t)h : sizeof hello - 1;
        length += frame_head((unsigned char *)response + length, OP_TEXT, hello_length);
        memcpy(response + length, hello, hello_length);
        length += hello_length;
    }
    if (write_all(fd, response, length) != 0) return;

    struct websocket ws = {.fd = fd};
    pthread_mutex_init(&ws.write_lock, NULL);
    ws.in_capacity = early_length > 65536 ? early_length : 65536;
    ws.in = malloc(ws.in_capacity);
    memcpy(ws.in, early, early_length);
    ws.in_end = early_length;
    register_socket(&ws);
    websocket_session(&ws);
    unregister_socket(&ws);
    pthread_mutex_destroy(&ws.write_lock);
    free(ws.in);
}

/* A path ending in /ws without a valid upgrade. */
static int upgrade_required(int fd, int keep_alive) {
    static const char body[] = "this path expects a WebSocket upgrade (RFC 6455)\n";
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nConnection: %s\r\n\r\n",
                     sizeof body - 1, keep_alive ? "keep-alive" : "close");
    struct iovec parts[2] = {{head, (size_t)n}, {(void *)body, sizeof body - 1}};
    return writev_all(fd, parts, 2);
}

/* Drops a request (its head and a body of `length` bytes) from the front of the buffer, reading
 * and dropping the part of the body still to come; the buffer holds at least 64 KiB. */
static int drop_request(int fd, char *buffer, size_t *used, size_t head_length, size_t length) {
    size_t drop = head_length + length;
    while (*used < drop) {
        drop -= *used;
        ssize_t n = read(fd, buffer, drop < 65536 ? drop : 65536);
        if (n <= 0) return -1;
        *used = (size_t)n;
    }
    memmove(buffer, buffer + drop, *used - drop);
    *used -= drop;
    return 0;
}

/* SIGTERM: every open WebSocket gets a close frame 1001 (without blocking on a socket whose
 * buffer is full, or waiting long for a busy writer), then at most 500 ms to answer it. */
static sem_t terminate;

static void *terminator(void *arg) {
    (void)arg;
    while (sem_wait(&terminate) != 0) {}
    unsigned char payload[125], frame[135];
    size_t payload_length = close_payload(payload, 1001, "shutting down");
    size_t length = frame_head(frame, OP_CLOSE, payload_length);
    memcpy(frame + length, payload, payload_length);
    length += payload_length;
    struct timespec patience;
    clock_gettime(CLOCK_REALTIME, &patience);
    patience.tv_nsec += 200 * 1000000L;
    if (patience.tv_nsec >= 1000000000L) patience.tv_sec++, patience.tv_nsec -= 1000000000L;
    long long start = now_ms();
    pthread_mutex_lock(&open_lock);
    for (struct websocket *ws = open_sockets; ws; ws = ws->next) {
        if (pthread_mutex_timedlock(&ws->write_lock, &patience) != 0) continue;
        if (!ws->close_sent) {
            send(ws->fd, frame, length, MSG_DONTWAIT | MSG_NOSIGNAL);
            ws->close_sent = 1;
            ws->close_deadline = start + 500;
        }
        pthread_mutex_unlock(&ws->write_lock);
    }
    pthread_mutex_unlock(&open_lock);
    for (;;) {
        pthread_mutex_lock(&open_lock);
        int left = open_count;
        pthread_mutex_unlock(&open_lock);
        if (left == 0 || now_ms() - start >= 500) break;
        usleep(10000);
    }
    _exit(0);
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
        /* A path ending in /ws is the WebSocket and nothing else: upgraded, or refused (426). */
        if (websocket_path(path)) {
            char key[128];
            if (strcmp(method, "GET") == 0 && websocket_request(buffer, end, key)) {
                websocket(fd, key, query_has(path, "greet=1"), buffer + head_length, used - head_length);
                goto done;
            }
            if (upgrade_required(fd, keep_alive) != 0 || drop_request(fd, buffer, &used, head_length, content_length) != 0) goto done;
            if (!keep_alive) break;
            continue;
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
    ssize_t ignored = write(1, text, sizeof text - 1);
    (void)ignored;
    sem_post(&terminate); /* the terminator closes the open WebSockets and exits */
}

int main(void) {
    memset(piece, 'x', sizeof piece);
    message = getenv("MESSAGE") ? getenv("MESSAGE") : "";
    instance_id = getenv("CLOUDFLARE_DEPLOYMENT_ID") ? getenv("CLOUDFLARE_DEPLOYMENT_ID") : "unknown";
    sem_init(&terminate, 0, 0);
    pthread_t closer;
    pthread_create(&closer, NULL, terminator, NULL);
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
