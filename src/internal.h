/* SPDX-License-Identifier: MIT
 *
 * internal.h: project-private helpers shared by czero's sources (never installed).
 */
#ifndef CZERO_INTERNAL_H
#define CZERO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define cz__container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define cz__likely(x) __builtin_expect(!!(x), 1)
#define cz__unlikely(x) __builtin_expect(!!(x), 0)
#define cz__countof(a) (sizeof(a) / sizeof((a)[0]))
#define cz__min(a, b) ((a) < (b) ? (a) : (b))
#define cz__max(a, b) ((a) > (b) ? (a) : (b))

#endif
