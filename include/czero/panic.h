/* SPDX-License-Identifier: MIT
 *
 * panic.h: abort the current request from anywhere in a handler's call stack (go-zero's
 * RecoverHandler turns a Go panic into a 500; this is its C counterpart).
 *
 * cz_panic() logs the message with a backtrace at error level and unwinds (siglongjmp) to the
 * chain running the request, which answers 500; the connection and the process stay up.
 * Memory from the request arena is released with the request; anything the handler malloc'd
 * and had not freed is lost, and locks it held stay held: panic only where that is acceptable.
 * Outside a request (or with Middlewares.Recover off) it logs and aborts the process.
 */
#ifndef CZERO_PANIC_H
#define CZERO_PANIC_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

CZ_EXTERN _Noreturn void cz_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif
