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

/* The route's timeout-link deadline, taken over by a handler that enforces it itself (the
 * proxy's upstream call answers 504 when it passes): ms left, 0 when the request has no
 * timeout link (http/chain.c). */
struct cz_req;
uint64_t cz__req_take_deadline(struct cz_req *r);

#endif
