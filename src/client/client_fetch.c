/* SPDX-License-Identifier: MIT
 *
 * client_fetch.c: the buffered convenience over cz_client_call (go-zero's httpc.Do): the response
 * head is copied and the body collected in memory up to a cap, then one callback gets it all.
 * For handlers calling another service; the proxy streams with cz_client_call instead.
 */
#include <stdlib.h>
#include <string.h>
#include "client_int.h"

typedef struct fetch {
    cz_fetch_fn cb;
    void *ud;
    size_t max;
    char *body;
    size_t blen, bcap;
    char *hblock; /* names and values, then the two cz_str_t arrays */
    cz_str_t *hn, *hv;
    size_t nh;
    int status;
    bool over;
} fetch_t;

static void fetch_end(fetch_t *f, int err, const cz_call_info_t *info)
{
    cz_fetch_res_t res = {.status = f->status, .hname = f->hn, .hvalue = f->hv,
                          .nheaders = f->nh, .body = {f->body ? f->body : "", f->blen}};
    if (info)
        res.info = *info;
    f->cb(err, &res, f->ud);
    free(f->body);
    free(f->hblock);
    free(f);
}

static int f_head(cz_call_t *call, int status, const cz_str_t *hn, const cz_str_t *hv, size_t n,
                  void *ud)
{
    fetch_t *f = ud;
    f->status = status;
    if (cz__head_over(hn, hv, n, f->max)) {
        f->over = true;
        return 1;
    }
    f->hblock = cz__head_copy(hn, hv, n, &f->hn, &f->hv);
    if (!f->hblock)
        return 1;
    f->nh = n;
    return 0;
}

bool cz__head_over(const cz_str_t *hn, const cz_str_t *hv, size_t n, uint64_t max)
{
    for (size_t i = 0; i < n; i++) {
        if (!cz_str_ieq(hn[i], CZ_STR("Content-Length")))
            continue;
        uint64_t cl = 0; /* saturates just above max, so a huge value cannot overflow */
        for (size_t j = 0; j < hv[i].n && hv[i].p[j] >= '0' && hv[i].p[j] <= '9' && cl <= max;
             j++)
            cl = cl * 10 + (uint64_t)(hv[i].p[j] - '0');
        if (cl > max)
            return true;
    }
    return false;
}

char *cz__head_copy(const cz_str_t *hn, const cz_str_t *hv, size_t n, cz_str_t **on,
                    cz_str_t **ov)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += hn[i].n + hv[i].n;
    size_t arr = n * sizeof(cz_str_t);
    char *block = malloc(2 * arr + bytes + 1);
    if (!block)
        return NULL;
    cz_str_t *names = (cz_str_t *)(void *)block, *values = names + n;
    char *w = block + 2 * arr;
    for (size_t i = 0; i < n; i++) {
        memcpy(w, hn[i].p, hn[i].n);
        names[i] = (cz_str_t){w, hn[i].n};
        w += hn[i].n;
        memcpy(w, hv[i].p, hv[i].n);
        values[i] = (cz_str_t){w, hv[i].n};
        w += hv[i].n;
    }
    *on = names;
    *ov = values;
    return block;
}

static void f_body(cz_call_t *call, const void *data, size_t n, void *ud)
{
    fetch_t *f = ud;
    if (f->blen + n > f->max) {
        f->over = true;
        cz_call_info_t info = {.response_started = true, .status = f->status};
        cz_call_cancel(call);
        fetch_end(f, CZ_EFULL, &info);
        return;
    }
    if (f->blen + n > f->bcap) {
        size_t cap = f->bcap ? f->bcap : 4096;
        while (cap < f->blen + n)
            cap *= 2;
        if (cap > f->max)
            cap = f->max;
        char *nb = realloc(f->body, cap);
        if (!nb) {
            cz_call_cancel(call);
            fetch_end(f, CZ_ENOMEM, NULL);
            return;
        }
        f->body = nb;
        f->bcap = cap;
    }
    memcpy(f->body + f->blen, data, n);
    f->blen += n;
}

static void f_done(cz_call_t *call, int err, const cz_call_info_t *info, void *ud)
{
    fetch_t *f = ud;
    fetch_end(f, f->over ? CZ_EFULL : err, info);
}

static const cz_call_cbs_t fetch_cbs = {.on_head = f_head, .on_body = f_body, .on_done = f_done};

int cz_client_fetch(cz_client_t *c, const cz_client_req_t *rq, size_t max_body, cz_fetch_fn cb,
                    void *ud)
{
    if (!rq || !cb || rq->body_stream)
        return CZ_EARG;
    fetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return CZ_ENOMEM;
    f->cb = cb;
    f->ud = ud;
    f->max = max_body ? max_body : 1024 * 1024;
    int rc = cz_client_call(c, rq, &fetch_cbs, f, NULL);
    if (rc != 0)
        free(f);
    return rc;
}
