/* SPDX-License-Identifier: MIT
 *
 * gw_drain.c: the link that empties a retiring instance before it is shut down (SIGHUP).
 *
 * cz_server_shutdown() closes idle keep-alive connections at once; a client whose next request
 * is already on the wire then reads a reset (wrk counts it as a read error). So a reload first
 * drains: while the new server accepts on the same port, every answer of the old one ends its
 * connection (Connection: close), clients reconnect and the kernel spreads them over both
 * listeners until none is left on the old server, which is then shut down with nothing idle.
 *
 * A retiring instance's answers say so with cz_res_close_after().
 */
#include <stdatomic.h>
#include "gw.h"

static cz_mw_step_t drain_enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void *ctx)
{
    const atomic_bool *retiring = mw->data;
    (void)req, (void)ctx;
    if (atomic_load_explicit(retiring, memory_order_relaxed))
        cz_res_close_after(res);
    return CZ_MW_NEXT;
}

static const cz_mw_ops_t drain_ops = {.name = "drain", .enter = drain_enter};

int gw_drain_mw(cz_server_t *srv, atomic_bool *retiring)
{
    cz_mw_t mw = {&drain_ops, retiring};
    return cz_server_use(srv, &mw);
}
