/* SPDX-License-Identifier: MIT
 *
 * internal.h: project-private helpers shared by czero's sources (never installed).
 */
#ifndef CZERO_INTERNAL_H
#define CZERO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "czero/str.h"

#define cz__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define cz__likely(x) __builtin_expect(!!(x), 1)
#define cz__unlikely(x) __builtin_expect(!!(x), 0)
#define cz__countof(a) (sizeof(a) / sizeof((a)[0]))
#define cz__min(a, b) ((a) < (b) ? (a) : (b))
#define cz__max(a, b) ((a) > (b) ? (a) : (b))

/* A buffered fetch's response head (client/fetch.c, gateway/fetch.c). cz__head_over: a
 * Content-Length above max, so the body is refused before a byte of it is read.
 * cz__head_copy: names and values kept past the callback in one malloc'd block (the two
 * cz_str_t arrays, then the bytes), returned for free(); NULL when out of memory. */
bool cz__head_over(const cz_str_t *hn, const cz_str_t *hv, size_t n, uint64_t max);
char *cz__head_copy(const cz_str_t *hn, const cz_str_t *hv, size_t n, cz_str_t **on,
                    cz_str_t **ov);

/* The value cz_cpu_set_override() set, or -1 when none (core/shed/cpu_linux.c). */
int64_t cz__cpu_override(void);

/* The request as the upstream client writes it (client/call.c). The gateway checks a request
 * once before it picks a node (a request the client refuses is the caller's error, never a
 * node's) and the gateway-forwarding fuzz target serialises without a connection.
 * cz__client_req_check: 0, or CZ_EARG when the client refuses rq: an empty method or target, CR,
 * LF, NUL or a space in them, a header name that is empty or holds ':', CR, LF or NUL, a value
 * that holds CR, LF or NUL. cz__client_req_size: the check, then the bytes of the head (a Host
 * of alen bytes added when rq has none: *has_host) and of a whole body. cz__client_req_write:
 * those bytes to out (Content-Length / Transfer-Encoding from the body, not rq's headers);
 * returns how many. cz__client_chunk: one chunk of a chunked body, or the last chunk when n is
 * 0; at most n + CZ__CHUNK_OVERHEAD bytes. */
struct cz_client_req;
#define CZ__CHUNK_OVERHEAD 24
int cz__client_req_check(const struct cz_client_req *rq);
int cz__client_req_size(const struct cz_client_req *rq, size_t alen, size_t *out, bool *has_host);
size_t cz__client_req_write(char *out, const struct cz_client_req *rq, const char *addr,
                            bool has_host);
size_t cz__client_chunk(char *out, const void *data, size_t n);

/* The route's timeout-link deadline, taken over by a handler that enforces it itself (the
 * proxy's upstream call answers 504 when it passes): ms left, 0 when the request has no
 * timeout link (http/chain.c). */
struct cz_req;
uint64_t cz__req_take_deadline(struct cz_req *r);

#endif
