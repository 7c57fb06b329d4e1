/* SPDX-License-Identifier: MIT
 *
 * codec_side.h: the exchange's steps a codec takes as it writes an answer, inline because every
 * request takes them (included by the codec's writer, h1/h1_write.c, after http_int.h). They
 * are apart from exchange.h, which every exchange file includes, so that header calls nothing.
 */
#ifndef CZERO_CODEC_SIDE_H
#define CZERO_CODEC_SIDE_H

#include "http/http_int.h"

/* The codec takes the collected answer (cz__codec_ops_t.finish): a blocking handler that
 * outlived its timeout gets its 503, the chain leaves. */
static inline void cz__res_settle(cz_req_t *r)
{
    if (r->timed_out)
        cz__res_timed_out(r);
    cz__chain_leave(r);
}
/* The codec serialised the answer of r (status, body bytes): the unrouted one is logged here,
 * a routed one by the log link. */
static inline void cz__res_sent(cz_req_t *r, int status, uint64_t bytes)
{
    if (!r->route)
        cz__res_sent_unrouted(r, status, bytes);
}

#endif
