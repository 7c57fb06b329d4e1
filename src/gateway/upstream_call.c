/* SPDX-License-Identifier: MIT
 *
 * upstream_call.c: one call through an upstream: pick, per-node breaker, feedback and retries.
 *
 * A cz_upcall_t wraps the client calls (client.h) of its attempts. Each attempt picks a node not
 * tried yet (the balancer's tried bitmap); a node whose breaker drops the call is marked tried and
 * another is picked at once, without spending the retry budget. When an attempt ends, its outcome
 * feeds the balancer (P2C EWMA, SWRR effective weight), the node's breaker (go-zero's acceptable:
 * no transport error and status < 500) and passive ejection (outlier.c), but only when the node
 * caused it (classify()): a request the client refuses to serialise is refused before any pick
 * (CZ_EARG), and the caller's or the gateway's own failures blame no node. A failed attempt is
 * retried on another node, unseen by the caller, when nothing of the response arrived and either
 * nothing was sent (connect failed) or the request is idempotent, as long as the request body can
 * be sent again: none, a whole body, or a streamed body whose bytes so far are all in the 512 KiB
 * replay buffer (Envoy's retry buffer idea). The budget is rq->retries and the whole call, retries
 * included, is bounded by rq->http.total_timeout_ms.
 */
#include <stdlib.h>
#include <string.h>
#include "czero/client.h"
#include "czero/log.h"
#include "gw_int.h"

/* Bytes of a streamed body kept for a replay. Until a connection is up nothing drains, so the
 * client's write buffer stops a proxy at its 256 KiB high-water mark plus one read piece: with
 * room for that, a refused or timed-out connect can always be retried with the whole body so far
 * (Envoy buffers up to 1 MiB for retries by default). */
#define REPLAY_MAX (512u * 1024u)
/* Latency reported to the balancer for a breaker drop: a P2C pick should shy away from the node,
 * as from one that answers slowly. */
#define DROP_PENALTY_NS (1000ull * CZ_NS_PER_MS)

struct cz_upcall {
    cz_upstream_t *u;
    cz_client_t *c;
    cz_upstream_req_t rq;
    const cz_call_cbs_t *cbs;
    void *ud;
    cz_call_t *inner;         /* the current attempt; NULL between attempts */
    cz__up_node_t *node;
    size_t idx;
    cz_promise_t promise;
    uint64_t start_ns, deadline_ns;
    int retries_left, attempts;
    bool owned;               /* malloc'd here (else the caller's memory, e.g. a request arena) */
    bool aborted;             /* the caller's on_head refused the response */
    bool head_seen;
    bool want_drain;          /* the caller waits for on_drain */
    bool write_ended;
    bool replay_lost;         /* more body was written than the replay buffer holds */
    bool breaker_dropped;     /* a node's breaker dropped a pick of this call */
    char *replay;
    size_t replay_len, replay_cap;
    uint64_t tried[CZ_LB_TRIED_WORDS];
};

size_t cz__upcall_size(void) { return sizeof(cz_upcall_t); }
bool cz__upcall_breaker_dropped(const cz_upcall_t *uc) { return uc->breaker_dropped; }

static int in_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                   void *ud)
{
    cz_upcall_t *uc = ud;
    uc->head_seen = true;
    if (!uc->cbs->on_head)
        return 0;
    int rc = uc->cbs->on_head(call, status, hn, hv, n, uc->ud);
    if (rc != 0)
        uc->aborted = true;
    return rc;
}

static void in_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    cz_upcall_t *uc = ud;
    if (uc->cbs->on_body)
        uc->cbs->on_body(call, data, n, uc->ud);
}

static void in_drain(cz_call_t *call, void *ud)
{
    cz_upcall_t *uc = ud;
    if (!uc->want_drain)
        return;
    uc->want_drain = false;
    if (uc->cbs->on_drain)
        uc->cbs->on_drain(call, uc->ud);
}

static void in_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud);

static const cz_call_cbs_t inner_cbs = {
    .on_head = in_head, .on_body = in_body, .on_drain = in_drain, .on_done = in_done};

/* Pick an untried node whose breaker lets the call through. */
/* now: the caller's reading of the upstream's clock (the balancer's too), or 0. */
static int pick(cz_upcall_t *uc, uint64_t now)
{
    cz_upstream_t *u = uc->u;
    bool released = false;
    for (;;) {
        size_t idx;
        int rc = cz_lb_pick_at(u->lb, uc->rq.key, uc->tried, now, &idx);
        if (rc == CZ_ENOSERVICE && uc->attempts == 0 && !released) {
            released = true; /* every node ejected: try them again rather than fail all */
            if (cz__outlier_release_all(u) > 0)
                continue;
        }
        if (rc != 0)
            return rc;
        CZ_LB_TRIED_SET(uc->tried, idx);
        cz__up_node_t *n = cz_lb_node_data(u->lb, idx);
        if (!n) { /* removed between pick and here */
            cz_lb_done(u->lb, idx, 0, 0);
            continue;
        }
        if (cz_breaker_allow(n->breaker, &uc->promise) != 0) {
            uc->breaker_dropped = true;
            cz_lb_done(u->lb, idx, 1, DROP_PENALTY_NS);
            continue;
        }
        uc->node = n;
        uc->idx = idx;
        return 0;
    }
}

/* Whose doing an attempt's outcome is. This is the one place that decides what the balancer,
 * the node's breaker, passive ejection and retries see: only what the node did counts against
 * it (a connect error, a reset, a timeout, a malformed answer, a 5xx it sent). The gateway's own
 * failures leave the node's record as it was and are not retried: it ran out of memory, or its
 * client is closing (at_start: a closed client refuses to start; once the call runs, CZ_ECLOSED
 * is the peer closing early). An answer the caller refused (aborted: e.g. too big for it) was
 * still an answer. A request the client refuses to serialise never gets here: cz__upcall_start
 * checks it before any pick. */
typedef enum { OUT_OK, OUT_5XX, OUT_NODE_ERR, OUT_LOCAL } outcome_t;

static outcome_t classify(const cz_upcall_t *uc, int err, int status, bool at_start)
{
    if (uc->aborted)
        return OUT_OK;
    if (err == CZ_ENOMEM || (at_start && err == CZ_ECLOSED))
        return OUT_LOCAL;
    if (err != 0)
        return OUT_NODE_ERR;
    return status >= 500 ? OUT_5XX : OUT_OK;
}

/* Settle the attempt on the current node. */
static void feedback(cz_upcall_t *uc, outcome_t o, int err, uint64_t now)
{
    cz_upstream_t *u = uc->u;
    bool failed = o == OUT_NODE_ERR || (o == OUT_5XX && u->outlier.on_5xx);
    cz_lb_done_at(u->lb, uc->idx, failed, now > uc->start_ns ? now - uc->start_ns : 0, now);
    if (o == OUT_NODE_ERR || o == OUT_5XX)
        cz_promise_reject(&uc->promise, err ? cz_err_name(err) : "5xx");
    else
        cz_promise_accept(&uc->promise);
    if (o != OUT_LOCAL)
        cz__outlier_result(u, uc->node, failed, now);
}

/* Start an attempt on a fresh node at `now` (the caller's clock reading, taken just before).
 * 0: a call is in flight; else no node could take it. */
static int attempt(cz_upcall_t *uc, uint64_t now)
{
    cz_upstream_t *u = uc->u;
    for (bool first = true;; first = false) {
        int rc = pick(uc, first ? now : 0);
        if (rc != 0)
            return rc;
        if (!first) /* a node refused the call: time has passed since the caller's reading */
            now = cz_clock_now_ns(u->clock);
        cz_client_req_t h = uc->rq.http;
        h.addr = uc->node->addr;
        h.tls = u->tls;
        if (!h.connect_timeout_ms)
            h.connect_timeout_ms = u->connect_timeout_ms;
        if (!h.read_timeout_ms)
            h.read_timeout_ms = u->read_timeout_ms;
        h.pool_size = u->pool_size;
        h.pool_idle_timeout_ms = u->pool_idle_ms;
        if (uc->deadline_ns) {
            if (now >= uc->deadline_ns) {
                cz_lb_done(u->lb, uc->idx, 0, 0);
                cz_promise_accept(&uc->promise);
                return CZ_ETIMEOUT;
            }
            h.total_timeout_ms = (uc->deadline_ns - now + CZ_NS_PER_MS - 1) / CZ_NS_PER_MS;
        }
        uc->start_ns = now;
        uc->attempts++;
        uc->head_seen = false;
        atomic_fetch_add_explicit(&uc->node->requests, 1, memory_order_relaxed);
        /* checked once in cz__upcall_start; h differs from it only in what the client fills */
        rc = cz__client_call_checked(uc->c, &h, &inner_cbs, uc, &uc->inner);
        if (rc == 0)
            break;
        uc->inner = NULL;
        outcome_t o = classify(uc, rc, 0, true);
        feedback(uc, o, rc, now);
        if (o == OUT_LOCAL)
            return rc;
        /* e.g. an address the client cannot use: the next node */
    }
    if (uc->rq.http.body_stream && uc->attempts > 1) {
        /* replay what the caller wrote before the failed attempt */
        int wr = 0;
        if (uc->replay_len)
            wr = cz_call_write(uc->inner, uc->replay, uc->replay_len);
        if (wr >= 0 && uc->write_ended)
            cz_call_write_end(uc->inner);
        if (wr == 1)
            uc->want_drain = true;
        else if (uc->want_drain && wr == 0) {
            uc->want_drain = false;
            if (uc->cbs->on_drain)
                uc->cbs->on_drain(uc->inner, uc->ud);
        }
    }
    return 0;
}

static void release(cz_upcall_t *uc)
{
    free(uc->replay);
    uc->replay = NULL;
    if (uc->owned)
        free(uc);
}

static bool can_retry(const cz_upcall_t *uc, outcome_t o, const cz_call_info_t *info)
{
    if (o != OUT_NODE_ERR || uc->head_seen || uc->retries_left <= 0)
        return false;
    if (info && info->response_started)
        return false;
    bool nothing_sent = !info || !info->connected || !info->sent_any;
    if (!nothing_sent && !uc->rq.idempotent)
        return false;
    if (uc->rq.http.body_stream && uc->replay_lost)
        return false;
    return true;
}

static void in_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    cz_upcall_t *uc = ud;
    cz_upstream_t *u = uc->u;
    uint64_t now = cz_clock_now_ns(u->clock);
    outcome_t o = classify(uc, err, info ? info->status : 0, false);
    if (err == CZ_ETLS) /* the answer is a bare 502: the reason is only here */
        cz_log_error("upstream %s: TLS to %s failed: %s", u->name, uc->node->addr,
                     info && info->tls_error ? info->tls_error : "handshake failed");
    feedback(uc, o, err, now);
    uc->inner = NULL;
    if (can_retry(uc, o, info)) {
        uc->retries_left--;
        if (attempt(uc, now) == 0)
            return;
    }
    uc->cbs->on_done(call, err, info, uc->ud);
    release(uc);
}

int cz__upcall_start(cz_upcall_t *uc, bool owned, cz_upstream_t *u, cz_client_t *c,
                     const cz_upstream_req_t *rq, const cz_call_cbs_t *cbs, void *ud)
{
    memset(uc, 0, sizeof *uc);
    uc->owned = owned;
    uc->u = u;
    uc->c = c;
    uc->rq = *rq;
    uc->cbs = cbs;
    uc->ud = ud;
    uc->retries_left = rq->retries > 0 ? rq->retries : 0;
    /* A request the client would refuse to write is refused here, before a node is picked: no
     * node could send it, so trying them all would only blame each (the caller answers 400). */
    if (cz__client_req_check(&rq->http) != 0) {
        release(uc);
        return CZ_EARG;
    }
    uint64_t now = cz_clock_now_ns(u->clock);
    if (rq->http.total_timeout_ms)
        uc->deadline_ns = now + rq->http.total_timeout_ms * CZ_NS_PER_MS;
    cz__outlier_tick(u, now);
    int rc = attempt(uc, now);
    if (rc != 0)
        release(uc);
    return rc;
}

int cz_upstream_call(cz_upstream_t *u, cz_client_t *c, const cz_upstream_req_t *rq,
                     const cz_call_cbs_t *cbs, void *ud, cz_upcall_t **out)
{
    if (!u || !c || !rq || !cbs || !cbs->on_done)
        return CZ_EARG;
    cz_upcall_t *uc = malloc(sizeof *uc);
    if (!uc)
        return CZ_ENOMEM;
    int rc = cz__upcall_start(uc, true, u, c, rq, cbs, ud);
    if (rc == 0 && out)
        *out = uc;
    return rc;
}

int cz_upcall_write(cz_upcall_t *uc, const void *data, size_t n)
{
    if (!uc->inner)
        return CZ_ECLOSED;
    if (!uc->replay_lost && n) {
        if (uc->replay_len + n > REPLAY_MAX) {
            uc->replay_lost = true;
            free(uc->replay);
            uc->replay = NULL;
            uc->replay_len = uc->replay_cap = 0;
        } else {
            if (uc->replay_len + n > uc->replay_cap) {
                size_t cap = uc->replay_cap ? uc->replay_cap * 2 : 4096;
                while (cap < uc->replay_len + n)
                    cap *= 2;
                char *p = realloc(uc->replay, cap);
                if (!p) {
                    uc->replay_lost = true; /* no replay, but the call itself goes on */
                } else {
                    uc->replay = p;
                    uc->replay_cap = cap;
                }
            }
            if (!uc->replay_lost) {
                memcpy(uc->replay + uc->replay_len, data, n);
                uc->replay_len += n;
            }
        }
    }
    int rc = cz_call_write(uc->inner, data, n);
    if (rc == 1)
        uc->want_drain = true;
    return rc;
}

int cz_upcall_write_end(cz_upcall_t *uc)
{
    if (!uc->inner)
        return CZ_ECLOSED;
    uc->write_ended = true;
    return cz_call_write_end(uc->inner);
}

void cz_upcall_pause(cz_upcall_t *uc)
{
    if (uc->inner)
        cz_call_pause(uc->inner);
}

void cz_upcall_resume(cz_upcall_t *uc)
{
    if (uc->inner)
        cz_call_resume(uc->inner);
}

void cz_upcall_cancel(cz_upcall_t *uc)
{
    if (uc->inner) {
        cz_call_cancel(uc->inner);
        uc->inner = NULL;
        /* the caller gave up, the node did nothing wrong: release the pick, count no failure */
        uint64_t now = cz_clock_now_ns(uc->u->clock);
        cz_lb_done_at(uc->u->lb, uc->idx, 0, now > uc->start_ns ? now - uc->start_ns : 0, now);
        cz_promise_accept(&uc->promise);
    }
    release(uc);
}

const char *cz_upcall_addr(const cz_upcall_t *uc) { return uc->node ? uc->node->addr : ""; }
int cz_upcall_attempts(const cz_upcall_t *uc) { return uc->attempts; }
