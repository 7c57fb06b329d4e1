/* SPDX-License-Identifier: MIT
 *
 * singleflight_int.h: introspection of a single-flight group for czero's tests (private).
 */
#ifndef CZERO_SINGLEFLIGHT_INT_H
#define CZERO_SINGLEFLIGHT_INT_H

#include "czero/singleflight.h"

/** Callers currently sharing key's in-flight call (the runner included); 0 if none. */
int cz__singleflight_sharers(cz_singleflight_t *g, const char *key);

#endif
