/* SPDX-License-Identifier: MIT
 *
 * pool.c: the bounded thread pool for blocking handlers.
 *
 * libuv's own threadpool has an unbounded queue and is shared with file and DNS work, so a burst
 * of slow database calls would queue without limit and starve them. This pool has its own
 * threads and a fixed queue: when it is full the request is answered 503 at once (go-zero sheds
 * load the same way rather than queueing it). A finished request is handed back to its worker's
 * loop through the worker's async handle (dispatch.c's cz__worker_drain_done finishes it there);
 * only the loop thread touches the connection.
 */
#include <stdlib.h>
#include "http/http_int.h"

struct cz__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cz_req_t **ring;
    int cap, head, count;
    bool stop;
    int nthreads;
    pthread_t *threads;
};

static void *pool_main(void *arg)
{
    cz__pool_t *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->count && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->count && p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        cz_req_t *r = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->mu);

        if (!r->cancelled) {
            sigjmp_buf jb;
            sigjmp_buf *prev = cz__panic_swap(&jb);
            if (sigsetjmp(jb, 0) == 0) {
                r->route->handler(r, &r->res, r->route->ud);
            } else { /* cz_panic() in a blocking handler: 500, as on the loop */
                r->panicked = true;
                r->res.status = 500;
                r->res.body_len = 0;
            }
            cz__panic_swap(prev);
        }
        cz_worker_t *w = r->w;
        pthread_mutex_lock(&w->done_mu);
        r->pool_next = w->done;
        w->done = r;
        pthread_mutex_unlock(&w->done_mu);
        uv_async_send(&w->wake);
    }
}

int cz__pool_new(cz__pool_t **out, int threads, int queue)
{
    cz__pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return CZ_ENOMEM;
    p->cap = queue;
    p->ring = calloc((size_t)queue, sizeof *p->ring);
    p->threads = calloc((size_t)threads, sizeof *p->threads);
    if (!p->ring || !p->threads) {
        free(p->ring);
        free(p->threads);
        free(p);
        return CZ_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0)
            break;
        p->nthreads++;
    }
    if (!p->nthreads) {
        cz__pool_free(p);
        return CZ_ENOMEM;
    }
    *out = p;
    return 0;
}

int cz__pool_submit(cz__pool_t *p, cz_req_t *r)
{
    pthread_mutex_lock(&p->mu);
    if (p->count == p->cap || p->stop) {
        pthread_mutex_unlock(&p->mu);
        return CZ_EFULL;
    }
    p->ring[(p->head + p->count) % p->cap] = r;
    p->count++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void cz__pool_free(cz__pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->ring);
    free(p->threads);
    free(p);
}
