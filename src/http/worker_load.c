/* SPDX-License-Identifier: MIT
 *
 * worker_load.c: a worker loop's load, as the shedding link reads it: the loop's smoothed busy share
 * (sampled from the worker's tick) and when the current loop turn began serving requests.
 * Apart from server.c so the shedding link reads them without calling up into the lifecycle.
 */
#include "http/http_int.h"

/* The loop's busy share over the last sample, smoothed into w->busy_pm (permille): what the
 * load shedder reads (mw/shedding.c). Sampled every BUSY_SAMPLE_NS from the tick. */
#define BUSY_SAMPLE_NS (250 * CZ_NS_PER_MS)
#define BUSY_BETA 0.8
void cz__load_sample(cz_worker_t *w)
{
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(&w->loop);
    if (w->busy_t0 == 0) {
        w->busy_t0 = now;
        w->busy_idle0 = idle;
        return;
    }
    if (now - w->busy_t0 < BUSY_SAMPLE_NS)
        return;
    uint64_t dt = now - w->busy_t0, di = idle - w->busy_idle0;
    double busy = di >= dt ? 0 : 1000.0 * (double)(dt - di) / (double)dt;
    double prev = __atomic_load_n(&w->busy_pm, __ATOMIC_RELAXED);
    __atomic_store_n(&w->busy_pm, (int64_t)(prev * BUSY_BETA + busy * (1 - BUSY_BETA)),
                     __ATOMIC_RELAXED);
    w->busy_t0 = now;
    w->busy_idle0 = idle;
}

int64_t cz__server_busy(const cz_server_t *s)
{
    int64_t sum = 0;
    int n = s->workers ? s->nworkers : 0;
    for (int i = 0; i < n; i++)
        sum += __atomic_load_n(&s->workers[i].busy_pm, __ATOMIC_RELAXED);
    return n ? sum / n : 0;
}

/* Before each poll: the next request the shedding link sees starts the turn's clock. */
static void on_turn(uv_prepare_t *p)
{
    cz_worker_t *w = cz__container_of(p, cz_worker_t, turn);
    w->turn_ms = 0;
}

void cz__load_init(cz_worker_t *w)
{
    uv_prepare_init(&w->loop, &w->turn);
    uv_prepare_start(&w->turn, on_turn);
    uv_unref((uv_handle_t *)&w->turn);
}

uint64_t cz__worker_turn_ms(cz_worker_t *w)
{
    if (w->turn_ms == 0) { /* the coarse clock, as the shedding link reads it per request */
        uint64_t now = cz_clock_now_ms(cz_clock_coarse());
        w->turn_ms = now ? now : 1;
    }
    return w->turn_ms;
}

