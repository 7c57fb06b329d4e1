/* SPDX-License-Identifier: MIT
 *
 * proc.h: what the tests' server processes (redis_server.c, etcd_server.c) share: finding a
 * program on PATH, a free loopback port, waiting for a child to be ready, and stopping it.
 * Waiting with short sleeps is fine here: this is process setup, not the behaviour under test.
 */
#ifndef CZ_TEST_PROC_H
#define CZ_TEST_PROC_H

#include <sys/types.h>

/** 1 when an executable `name` is in one of $PATH's folders, else 0. */
int cz_test_in_path(const char *name);
/** A loopback TCP port that was free a moment ago (bound and released), or -errno. */
int cz_test_free_port(void);
/** Sleep ms milliseconds. */
void cz_test_nap_ms(long ms);
/** Poll ready(arg) every 10 ms, at most `tries` times, while child *pid lives. 0 when ready;
 *  -ECHILD when the child exited (reaped, *pid set to 0); -ETIMEDOUT when it never got ready
 *  (the child is left running for the caller to kill). */
int cz_test_proc_wait(pid_t *pid, int (*ready)(void *arg), void *arg, int tries);
/** Send sig to child *pid (when > 0) and reap it; *pid becomes 0. Any signal but SIGKILL is
 *  preceded by SIGCONT, so that a frozen (SIGSTOPped) child can act on it; SIGKILL is not, so
 *  a frozen child never gets to answer first. */
void cz_test_proc_signal(pid_t *pid, int sig);

#endif
