/* SPDX-License-Identifier: MIT
 *
 * gunzip.c: the Gunzip link (go-zero rest/handler/gunziphandler.go): a request whose
 * Content-Encoding contains "gzip" has its body inflated before the handler sees it.
 *
 * go-zero wraps r.Body in a gzip.Reader and lets the handler read it lazily; czero has the whole
 * body already (the engine reads it, bounded by MaxBytes), so the link inflates it once, into the
 * request arena, and hands the handler the plain bytes. What go-zero leaves to the MaxBytes
 * reader's position in the chain is made explicit here: the INFLATED size is bounded by the
 * route's body limit, and inflating stops as soon as the limit is passed, so a gzip bomb costs at
 * most about twice the limit in memory and the time to inflate that much (413). With the MaxBytes
 * switch off a route has no limit, and then neither does inflating (go-zero's behaviour too).
 * A body that is not valid gzip is 400, as go-zero's gzip.NewReader failure is. Concatenated
 * gzip members are read as one stream (Go's gzip.Reader multistream default). The handler then
 * sees no Content-Encoding header and a Content-Length that matches the new body.
 */
#include <string.h>
#include <zlib.h>
#include "mw_int.h"

#define FIRST_CHUNK 16384
#define MAX_CHUNK (1u << 20)

typedef struct piece {
    struct piece *next;
    size_t len;
    char data[];
} piece_t;

/* Inflate in → pieces in the arena. Returns 0 and *total, 413 over the limit, 400 when broken. */
static int inflate_body(cz_arena_t *a, cz_str_t in, int64_t limit, piece_t **head,
                        size_t *total)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) /* 16: gzip wrapper only, as Go's reader */
        return 503;
    zs.next_in = (Bytef *)in.p;
    zs.avail_in = (uInt)in.n; /* bodies are far below 4 GiB (MaxBytes) */
    piece_t **tail = head;
    size_t chunk = FIRST_CHUNK, sum = 0;
    int status = 0;
    bool ended = false;
    while (!ended) {
        size_t want = chunk;
        if (limit > 0 && (uint64_t)limit + 1 - sum < want)
            want = (size_t)limit + 1 - sum; /* one byte past the limit proves it is exceeded */
        piece_t *p = cz_arena_alloc(a, sizeof *p + want);
        if (!p) {
            status = 503;
            break;
        }
        p->next = NULL;
        zs.next_out = (Bytef *)p->data;
        zs.avail_out = (uInt)want;
        while (zs.avail_out) {
            int rc = inflate(&zs, Z_NO_FLUSH);
            if (rc == Z_STREAM_END) {
                /* another gzip member may follow (multistream); anything else is broken */
                if (zs.avail_in == 0) {
                    ended = true;
                    break;
                }
                if (inflateReset(&zs) != Z_OK) {
                    status = 400;
                    break;
                }
                continue;
            }
            if (rc == Z_BUF_ERROR && zs.avail_in == 0) { /* truncated */
                status = 400;
                break;
            }
            if (rc != Z_OK) {
                status = rc == Z_MEM_ERROR ? 503 : 400;
                break;
            }
        }
        p->len = want - zs.avail_out;
        sum += p->len;
        *tail = p;
        tail = &p->next;
        if (status)
            break;
        if (limit > 0 && sum > (uint64_t)limit) {
            status = 413;
            break;
        }
        if (chunk < MAX_CHUNK)
            chunk *= 2;
    }
    inflateEnd(&zs);
    *total = sum;
    return status;
}

/* Hide Content-Encoding from the handler and make Content-Length match the new body. */
static void fix_headers(cz_req_t *r, size_t n)
{
    uint32_t o = 0;
    for (uint32_t i = 0; i < r->nheaders; i++) {
        if (cz_str_ieq(r->hname[i], CZ_STR("Content-Encoding")))
            continue;
        if (cz_str_ieq(r->hname[i], CZ_STR("Content-Length"))) {
            char *v = cz_arena_sprintf(&r->arena, "%zu", n);
            if (v)
                r->hvalue[i] = cz_str_c(v);
        }
        r->hname[o] = r->hname[i];
        r->hvalue[o] = r->hvalue[i];
        o++;
    }
    r->nheaders = o;
}

static cz_mw_step_t gunzip_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw, (void)ctx;
    cz_str_t ce = cz_req_header(r, "Content-Encoding");
    /* go-zero: strings.Contains(r.Header.Get(ContentEncoding), "gzip") */
    if (!ce.p || !memmem(ce.p, ce.n, "gzip", 4))
        return CZ_MW_NEXT;
    piece_t *head = NULL;
    size_t total = 0;
    int status = inflate_body(&r->arena, r->body, r->route->body_limit, &head, &total);
    if (status) {
        cz__mw_answer(res, status, NULL);
        return CZ_MW_DONE;
    }
    char *body = head ? head->data : NULL;
    if (head && head->next) { /* several pieces: join them */
        body = cz_arena_alloc(&r->arena, total ? total : 1);
        if (!body) {
            cz__mw_answer(res, 503, NULL);
            return CZ_MW_DONE;
        }
        size_t off = 0;
        for (piece_t *p = head; p; p = p->next) {
            memcpy(body + off, p->data, p->len);
            off += p->len;
        }
    }
    r->body = (cz_str_t){body, total};
    r->body_cap = total;
    fix_headers(r, total);
    return CZ_MW_NEXT;
}

static const cz_mw_ops_t gunzip_ops = {.name = "gunzip", .enter = gunzip_enter};

static int gunzip_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                        cz_diag_t *d)
{
    (void)s, (void)state, (void)rt, (void)d;
    out->ops = &gunzip_ops;
    return 0;
}

const cz__mw_module_t cz__mw_gunzip = {.name = "gunzip", .route = gunzip_route};
