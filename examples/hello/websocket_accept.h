/*
 * Sec-WebSocket-Accept (RFC 6455 §4.2.2) for small static programs: a SHA-1 (FIPS 180-4) of
 * short inputs and base64. Shared by the example container (server.c) and the bench's load
 * generator (bench/wsload.c); header-only, so each stays one static binary.
 */
#ifndef BERTH_WEBSOCKET_ACCEPT_H
#define BERTH_WEBSOCKET_ACCEPT_H

#include <stdint.h>
#include <string.h>

/* SHA-1 (FIPS 180-4) of a short input, for Sec-WebSocket-Accept. */
static uint32_t rotate_left(uint32_t value, int bits) { return value << bits | value >> (32 - bits); }

static void sha1_block(uint32_t h[5], const unsigned char *block) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 | (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rotate_left(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) f = (b & c) | (~b & d), k = 0x5A827999;
        else if (i < 40) f = b ^ c ^ d, k = 0x6ED9EBA1;
        else if (i < 60) f = (b & c) | (b & d) | (c & d), k = 0x8F1BBCDC;
        else f = b ^ c ^ d, k = 0xCA62C1D6;
        uint32_t t = rotate_left(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rotate_left(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const unsigned char *data, size_t length, unsigned char digest[20]) {
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    size_t left = length;
    for (; left >= 64; data += 64, left -= 64) sha1_block(h, data);
    /* The rest, the 0x80 byte, zeros, and the length in bits: one or two last blocks. */
    unsigned char tail[128] = {0};
    memcpy(tail, data, left);
    tail[left] = 0x80;
    size_t blocks = left + 9 > 64 ? 2 : 1;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) tail[blocks * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t i = 0; i < blocks; i++) sha1_block(h, tail + 64 * i);
    for (int i = 0; i < 20; i++) digest[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

/* Standard base64 with padding; out needs 4 * ((length + 2) / 3) + 1 bytes. */
static void base64(const unsigned char *data, size_t length, char *out) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < length; i += 3) {
        uint32_t group = (uint32_t)data[i] << 16 | (i + 1 < length ? (uint32_t)data[i + 1] << 8 : 0) | (i + 2 < length ? data[i + 2] : 0);
        *out++ = alphabet[group >> 18 & 63];
        *out++ = alphabet[group >> 12 & 63];
        *out++ = i + 1 < length ? alphabet[group >> 6 & 63] : '=';
        *out++ = i + 2 < length ? alphabet[group & 63] : '=';
    }
    *out = 0;
}

/* Sec-WebSocket-Accept: base64 of the SHA-1 of the key and the protocol's GUID; out: 29 bytes. */
static void websocket_accept(const char *key, char out[29]) {
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char joined[128 + sizeof guid], digest[20];
    size_t length = strlen(key);
    memcpy(joined, key, length);
    memcpy(joined + length, guid, sizeof guid - 1);
    sha1(joined, length + sizeof guid - 1, digest);
    base64(digest, sizeof digest, out);
}

#endif
