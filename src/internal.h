/* SPDX-License-Identifier: MIT
 *
 * internal.h: project-private helpers shared by czero's sources (never installed).
 */
#ifndef CZERO_INTERNAL_H
#define CZERO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "czero/str.h"

#define cz__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define cz__likely(x) __builtin_expect(!!(x), 1)
#define cz__unlikely(x) __builtin_expect(!!(x), 0)
#define cz__countof(a) (sizeof(a) / sizeof((a)[0]))
#define cz__min(a, b) ((a) < (b) ? (a) : (b))
#define cz__max(a, b) ((a) > (b) ? (a) : (b))

/* A buffered fetch's response head (client/client_fetch.c, gateway/upstream_fetch.c).
 * cz__head_over: a Content-Length above max, so the body is refused before a byte of it is read.
 * cz__head_copy: names and values kept past the callback in one malloc'd block (the two
 * cz_str_t arrays, then the bytes), returned for free(); NULL when out of memory. */
bool cz__head_over(const cz_str_t *hn, const cz_str_t *hv, size_t n, uint64_t max);
char *cz__head_copy(const cz_str_t *hn, const cz_str_t *hv, size_t n, cz_str_t **on,
                    cz_str_t **ov);

/* The value cz_cpu_set_override() set, or -1 when none (core/shed/cpu_linux.c). */
int64_t cz__cpu_override(void);

/* The request as the upstream client writes it (client/client_call.c). The gateway checks a request
 * once before it picks a node (a request the client refuses is the caller's error, never a
 * node's) and the gateway-forwarding fuzz target serialises without a connection.
 * cz__client_req_check: 0, or CZ_EARG when the client refuses rq: an empty method or target, CR,
 * LF, NUL or a space in them, a header name that is empty or holds ':', CR, LF or NUL, a value
 * that holds CR, LF or NUL. cz__client_req_size: the check, then the bytes of the head (a Host
 * of alen bytes added when rq has none: *has_host) and of a whole body. cz__client_req_write:
 * those bytes to out (Content-Length / Transfer-Encoding from the body, not rq's headers);
 * returns how many. cz__client_chunk: one chunk of a chunked body, or the last chunk when n is
 * 0; at most n + CZ__CHUNK_OVERHEAD bytes. cz__client_call_checked: cz_client_call for a
 * request the caller has passed through cz__client_req_check (it is not scanned again). */
struct cz_client_req;
#define CZ__CHUNK_OVERHEAD 24
int cz__client_req_check(const struct cz_client_req *rq);
int cz__client_req_size(const struct cz_client_req *rq, size_t alen, size_t *out, bool *has_host);
size_t cz__client_req_write(char *out, const struct cz_client_req *rq, const char *addr,
                            bool has_host);
size_t cz__client_chunk(char *out, const void *data, size_t n);
struct cz_client;
struct cz_call;
struct cz_call_cbs;
int cz__client_call_checked(struct cz_client *c, const struct cz_client_req *rq,
                            const struct cz_call_cbs *cbs, void *ud, struct cz_call **out);

/* Whether p[0, n) holds a CR, LF or NUL byte, or with colon also a ':': the bytes that would
 * let a header name or value (or a request-line part) end its line early and inject one of its
 * own. It runs over every header a proxied request forwards and every header its answer
 * copies, where three or four memchr calls per string cost several times more: eight bytes
 * at a time, a word passes with one exact "has a byte below 14" test (header bytes rarely are),
 * and only a word that fails it (a tab, a CR) is looked at byte by byte. Short strings are read
 * as two overlapping 4-byte halves; a word may overlap the one before, which only re-checks. */
static inline bool cz__line_break_byte(unsigned char c, bool colon)
{
    return c == '\r' || c == '\n' || c == '\0' || (colon && c == ':');
}
static inline bool cz__line_break_word(uint64_t v, bool colon)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t t = (v - ones * 14) & ~v & high;
    if (colon)
        t |= ((v ^ (ones * ':')) - ones) & ~(v ^ (ones * ':')) & high;
    if (cz__likely(!t))
        return false;
    for (int k = 0; k < 8; k++)
        if (cz__line_break_byte((unsigned char)(v >> (8 * k)), colon))
            return true;
    return false;
}
static inline __attribute__((always_inline)) bool cz__has_line_break(const char *p, size_t n,
                                                                   bool colon)
{
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (cz__line_break_byte((unsigned char)p[i], colon))
                return true;
        return false;
    }
    if (n < 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        return cz__line_break_word(lo | (uint64_t)hi << 32, colon);
    }
    for (size_t i = 0;; i += 8) {
        if (i > n - 8)
            i = n - 8;
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (cz__line_break_word(v, colon))
            return true;
        if (i == n - 8)
            return false;
    }
}

/* memcpy for the short pieces a head or a log line is assembled from (names, values, numbers):
 * up to 16 bytes as two overlapping loads and stores, inline, where a call to the library's
 * memcpy costs more than the copy. Longer pieces go to memcpy. */
static inline void cz__copy(void *d, const void *s, size_t n)
{
    char *dc = d;
    const char *sc = s;
    if (n > 16) {
        memcpy(dc, sc, n);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, sc, 8);
        memcpy(&b, sc + n - 8, 8);
        memcpy(dc, &a, 8);
        memcpy(dc + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, sc, 4);
        memcpy(&b, sc + n - 4, 4);
        memcpy(dc, &a, 4);
        memcpy(dc + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dc[i] = sc[i];
    }
}

/* The route's timeout-link deadline, taken over by a handler that enforces it itself (the
 * proxy's upstream call answers 504 when it passes): ms left, 0 when the request has no
 * timeout link (http/chain.c). */
struct cz_req;
uint64_t cz__req_take_deadline(struct cz_req *r);

#endif
