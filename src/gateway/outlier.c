/* SPDX-License-Identifier: MIT
 *
 * outlier.c: passive ejection of failing nodes (Envoy outlier detection, nginx max_fails).
 *
 * MaxFails consecutive failed calls (connect errors, resets, timeouts, and 5xx answers when
 * Outlier.On5xx) eject a node for BaseEjection * 2^k, where k counts the ejections since its last
 * success, capped at MaxEjection (Envoy doubles base_ejection_time per ejection up to
 * max_ejection_time). When the time is up the node gets traffic again on trial: its first failure
 * ejects it at once for the next, longer period, its first success clears the record. Time comes
 * from the upstream's clock, so unit tests drive it exactly. Ejections end lazily: the call path
 * runs cz__outlier_tick, which is one atomic load until the earliest ejection is due.
 */
#include "gw_int.h"

static uint64_t ejection_ns(const cz_upstream_t *u, uint32_t k)
{
    uint64_t base = (uint64_t)u->outlier.base_ejection_ms * CZ_NS_PER_MS;
    uint64_t max = (uint64_t)u->outlier.max_ejection_ms * CZ_NS_PER_MS;
    uint64_t t = base;
    for (uint32_t i = 0; i < k && t < max; i++)
        t *= 2;
    return t < max ? t : max;
}

static void expiry_lower(cz_upstream_t *u, uint64_t at)
{
    uint_fast64_t cur = atomic_load(&u->next_expiry);
    while (at < cur && !atomic_compare_exchange_weak(&u->next_expiry, &cur, at))
        ;
}

void cz__outlier_result(cz_upstream_t *u, cz__up_node_t *n, bool failed, uint64_t now)
{
    if (u->outlier.max_fails <= 0)
        return;
    if (!failed) {
        /* the common case: nothing to clear, no lock (a stale read only delays a clear) */
        if (__atomic_load_n(&n->fails, __ATOMIC_RELAXED) == 0 &&
            __atomic_load_n(&n->ejections, __ATOMIC_RELAXED) == 0 &&
            !__atomic_load_n(&n->trial, __ATOMIC_RELAXED))
            return;
        pthread_mutex_lock(&n->mu);
        if (n->eject_until == 0) { /* a late success from before an ejection clears nothing */
            n->fails = 0;
            n->ejections = 0;
            n->trial = false;
        }
        pthread_mutex_unlock(&n->mu);
        return;
    }
    pthread_mutex_lock(&n->mu);
    if (n->eject_until != 0) { /* calls that were in flight when it was ejected */
        pthread_mutex_unlock(&n->mu);
        return;
    }
    n->fails++;
    if (n->trial || n->fails >= (uint32_t)u->outlier.max_fails) {
        n->eject_until = now + ejection_ns(u, n->ejections);
        if (n->eject_until == 0)
            n->eject_until = 1;
        n->ejections++;
        n->fails = 0;
        n->trial = false;
        cz__up_node_apply(u, n);
        expiry_lower(u, n->eject_until);
    }
    pthread_mutex_unlock(&n->mu);
}

void cz__outlier_tick(cz_upstream_t *u, uint64_t now)
{
    if (now < atomic_load_explicit(&u->next_expiry, memory_order_relaxed))
        return;
    pthread_mutex_lock(&u->mu);
    uint64_t next = UINT64_MAX;
    for (cz__up_node_t *n = u->nodes; n; n = n->next) {
        pthread_mutex_lock(&n->mu);
        if (n->eject_until != 0) {
            if (now >= n->eject_until) {
                n->eject_until = 0;
                n->trial = true;
                cz__up_node_apply(u, n);
            } else if (n->eject_until < next) {
                next = n->eject_until;
            }
        }
        pthread_mutex_unlock(&n->mu);
    }
    atomic_store(&u->next_expiry, next);
    pthread_mutex_unlock(&u->mu);
}

size_t cz__outlier_release_all(cz_upstream_t *u)
{
    size_t released = 0, usable = 0;
    pthread_mutex_lock(&u->mu);
    for (cz__up_node_t *n = u->nodes; n; n = n->next) {
        if (!n->live)
            continue;
        pthread_mutex_lock(&n->mu);
        if (n->eject_until == 0 && !n->unhealthy)
            usable++;
        pthread_mutex_unlock(&n->mu);
    }
    if (usable == 0) {
        for (cz__up_node_t *n = u->nodes; n; n = n->next) {
            pthread_mutex_lock(&n->mu);
            if (n->live && n->eject_until != 0 && !n->unhealthy) {
                n->eject_until = 0;
                n->trial = true;
                cz__up_node_apply(u, n);
                released++;
            }
            pthread_mutex_unlock(&n->mu);
        }
    }
    pthread_mutex_unlock(&u->mu);
    return released;
}
