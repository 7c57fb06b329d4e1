/* SPDX-License-Identifier: MIT
 *
 * A fake trace collector for the tracing tests: a real loopback listener on its own thread that
 * accepts HTTP/1.1 POSTs one connection at a time, keeps each request's path and body, and
 * answers 200 (FC_OK), 500 (FC_FAIL), or nothing at all until fc_stop (FC_HANG: a collector that
 * accepted the connection and then stalled). */
#ifndef CZ_TEST_FAKE_COLLECTOR_H
#define CZ_TEST_FAKE_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { FC_OK, FC_FAIL, FC_HANG } fc_mode_t;
typedef struct fc fc_t;

/** Listen on 127.0.0.1, an ephemeral port. NULL on failure. */
fc_t *fc_start(fc_mode_t mode);
int fc_port(const fc_t *f);
/** Requests whose whole body has arrived so far. */
size_t fc_count(fc_t *f);
/** Wait (polling a condition, no sleep) until at least n requests arrived; false on timeout. */
bool fc_wait(fc_t *f, size_t n, int timeout_ms);
/** The i-th request's body / path (NUL-terminated, owned by f, valid until fc_free). */
const char *fc_body(fc_t *f, size_t i);
const char *fc_path(fc_t *f, size_t i);
/** Close the listener and every connection (a stalled one included); requests stay readable. */
void fc_stop(fc_t *f);
void fc_free(fc_t *f);

#endif
