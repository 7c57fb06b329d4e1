/* SPDX-License-Identifier: MIT
 *
 * bench_bind.c: cost of cz_bind() per request, on an in-memory request (the engine's cz_req_t)
 * whose arena is reset between calls as the server does. Prints "name value" lines for
 * bench/run.sh:
 *   bind_demo_json_ns   the demo's POST /users body {"name","age","email"} (jansson parse inside)
 *   bind_demo_error_ns  the same with age out of range (message formatted)
 *   bind_form_ns        path id + three query parameters + a header, no JSON
 * Each figure is the best of several rounds of ITER calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/bind.h"
#include "http/http_int.h"

#define ITER 200000
#define ROUNDS 5

typedef struct user {
    char *name;
    int64_t age;
    char *email;
    bool has_email;
} user_t;

static const cz_bind_field_t user_fields[] = {
    {.name = "name", .type = CZ_BIND_STRING, .offset = offsetof(user_t, name)},
    {.name = "age", .type = CZ_BIND_INT, .offset = offsetof(user_t, age), .has_range = true,
     .lo = 0, .hi = 150},
    {.name = "email", .type = CZ_BIND_STRING, .offset = offsetof(user_t, email),
     .flags = CZ_BIND_OPTIONAL | CZ_BIND_HAS, .has_offset = offsetof(user_t, has_email)},
    {0},
};

typedef struct list_req {
    int64_t org;
    int64_t page, size;
    char *sort;
    char *client;
} list_req_t;

static const char *const sorts[] = {"new", "old", NULL};

static const cz_bind_field_t list_fields[] = {
    {.name = "org", .src = CZ_BIND_PATH, .type = CZ_BIND_INT, .offset = offsetof(list_req_t, org)},
    {.name = "page", .src = CZ_BIND_FORM, .type = CZ_BIND_INT, .offset = offsetof(list_req_t, page),
     .def = "1"},
    {.name = "size", .src = CZ_BIND_FORM, .type = CZ_BIND_INT, .offset = offsetof(list_req_t, size),
     .has_range = true, .lo = 1, .hi = 100},
    {.name = "sort", .src = CZ_BIND_FORM, .type = CZ_BIND_STRING,
     .offset = offsetof(list_req_t, sort), .options = sorts},
    {.name = "X-Client", .src = CZ_BIND_HEADER, .type = CZ_BIND_STRING,
     .offset = offsetof(list_req_t, client)},
    {0},
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run(cz_req_t *r, const cz_bind_field_t *t, size_t outsize, int want)
{
    double best = 1e18;
    char out[256], err[256];
    if (outsize > sizeof out)
        abort();
    for (int round = 0; round < ROUNDS; round++) {
        double t0 = now_ns();
        for (int i = 0; i < ITER; i++) {
            memset(out, 0, outsize);
            if (cz_bind(r, t, out, err, sizeof err) != want) {
                fprintf(stderr, "bench_bind: unexpected result: %s\n", err);
                exit(1);
            }
            cz_arena_reset(&r->arena);
        }
        double ns = (now_ns() - t0) / ITER;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(void)
{
    cz_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    cz_arena_init(&r->arena, 0);
    r->method = CZ_STR("POST");
    r->nqparams = -1;
    r->hname[0] = CZ_STR("Content-Type");
    r->hvalue[0] = CZ_STR("application/json");
    r->hname[1] = CZ_STR("X-Client");
    r->hvalue[1] = CZ_STR("cli/1.0");
    r->nheaders = 2;

    r->body = CZ_STR("{\"name\":\"ann\",\"age\":30,\"email\":\"ann@example.com\"}");
    printf("bind_demo_json_ns %.1f\n", run(r, user_fields, sizeof(user_t), 0));
    r->body = CZ_STR("{\"name\":\"ann\",\"age\":300,\"email\":\"ann@example.com\"}");
    printf("bind_demo_error_ns %.1f\n", run(r, user_fields, sizeof(user_t), CZ_EPARSE));

    r->method = CZ_STR("GET");
    r->body = CZ_STR_NULL;
    r->query = CZ_STR("page=2&size=20&sort=old");
    r->match.params[0].name = CZ_STR("org");
    r->match.params[0].value = CZ_STR("42");
    r->match.nparams = 1;
    printf("bind_form_ns %.1f\n", run(r, list_fields, sizeof(list_req_t), 0));

    cz_arena_dispose(&r->arena);
    free(r);
    return 0;
}
