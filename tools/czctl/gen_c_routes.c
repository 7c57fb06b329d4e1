/* SPDX-License-Identifier: MIT
 *
 * gen_c_routes.c: the service blocks of an .api file to C: internal/handler/routes.{h,c}, one
 * handler per route, the logic and middleware headers (all generated), and the logic and
 * middleware stubs (scaffolded once, then the user's).
 *
 * Each `@server(...) service` block is a route group: routes.c registers it with one
 * cz_server_add_routes call whose cz_route_opts_t carries prefix, jwt (the secret from the
 * config section of that name), middleware, timeout, maxBytes and signature; other keys are
 * listed in a comment. Function names are group_handler (snake_case) so that one handler name
 * may appear in several groups, as goctl allows.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "gen_c.h"

typedef enum { REQ_NONE, REQ_STRUCT, REQ_RAW } req_kind_t;

typedef struct groute {
    const cz_api_route_t *r;
    const char *base;    /* snake handler name without "handler" */
    const char *fn;      /* group_base */
    const char *dir;     /* group as a directory ("" for none) */
    req_kind_t req_kind, res_kind;
    const cz__gtype_t *req, *res;
} groute_t;

static const char *strip_handler(cz_arena_t *a, const char *h)
{
    size_t n = strlen(h);
    if (n > 7 && !strcasecmp(h + n - 7, "handler"))
        n -= 7;
    return cz__gen_snake_n(a, h, n);
}

static const char *group_dir(cz_arena_t *a, const char *group)
{
    if (!group)
        return "";
    char *d = cz_arena_sprintf(a, "%s", group);
    if (!d)
        return NULL;
    for (char *p = d; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '/' && *p != '_' && *p != '-')
            *p = '_';
    while (*d == '/')
        d++;
    return d;
}

static req_kind_t kind_of(cz__gen_t *g, const cz_api_type_t *t, const cz__gtype_t **out)
{
    *out = NULL;
    if (!t)
        return REQ_NONE;
    while (t->kind == CZ_API_T_POINTER)
        t = t->elem;
    if (t->kind == CZ_API_T_IDENT && (*out = cz__gen_type(g, t->name)) != NULL)
        return REQ_STRUCT;
    return REQ_RAW;
}

static int fill(cz__gen_t *g, const cz_api_service_t *s, const cz_api_route_t *r, groute_t *gr)
{
    const char *group = cz_api_kv_get(s->server, "group");
    gr->r = r;
    gr->base = strip_handler(g->a, r->handler ? r->handler : "handler");
    gr->dir = group_dir(g->a, group);
    if (!gr->base || !gr->dir)
        return CZ_ENOMEM;
    gr->fn = group && *group ? cz_arena_sprintf(g->a, "%s_%s", cz__gen_snake(g->a, group), gr->base)
                             : gr->base;
    if (!gr->fn)
        return CZ_ENOMEM;
    gr->req_kind = kind_of(g, r->request, &gr->req);
    gr->res_kind = kind_of(g, r->response, &gr->res);
    return 0;
}

/* The logic function's signature (shared by logic.h and the stub), broken after a comma when
 * it would pass 100 columns. */
static void logic_proto(FILE *o, const groute_t *gr)
{
    char args[4][160];
    int n = 0;
    snprintf(args[n++], sizeof args[0], "service_context_t *svc");
    snprintf(args[n++], sizeof args[0], "cz_req_t *req");
    if (gr->req_kind == REQ_STRUCT)
        snprintf(args[n++], sizeof args[0], "const %s_t *in", gr->req->cname);
    else if (gr->req_kind == REQ_RAW)
        snprintf(args[n++], sizeof args[0], "const json_t *in");
    if (gr->res_kind == REQ_STRUCT)
        snprintf(args[n++], sizeof args[0], "%s_t *out", gr->res->cname);
    else if (gr->res_kind == REQ_RAW)
        snprintf(args[n++], sizeof args[0], "json_t **out");
    int open = fprintf(o, "int %s_logic(", gr->fn), col = open;
    for (int i = 0; i < n; i++) {
        int w = (int)strlen(args[i]) + (i + 1 < n ? 1 : 2); /* "," or ");" */
        if (i > 0 && col + 1 + w > 100) {
            fprintf(o, "\n%*s", open, "");
            col = open;
        } else if (i > 0) {
            fputc(' ', o);
            col++;
        }
        fprintf(o, "%s%s", args[i], i + 1 < n ? "," : "");
        col += w - (i + 1 < n ? 0 : 1);
    }
    fputc(')', o);
}

static const char *upper(cz_arena_t *a, const char *s)
{
    char *u = cz_arena_sprintf(a, "%s", s);
    for (char *p = u; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

/* goctl's path.Join("/", prefix): "v1/" and "/v1" are both "/v1"; "" and "/" are no prefix. */
static const char *prefix_of(cz_arena_t *a, const cz_api_service_t *s)
{
    const char *pre = cz_api_kv_get(s->server, "prefix");
    char *out = cz_arena_alloc(a, (pre ? strlen(pre) : 0) + 2);
    if (!pre || !out)
        return NULL;
    size_t n = 0;
    for (const char *p = pre; *p; p++) {
        if (*p == '/' || (n == 0 && *p != '/'))
            if (n == 0 || out[n - 1] != '/')
                out[n++] = '/';
        if (*p != '/')
            out[n++] = *p;
    }
    while (n > 0 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    return n ? out : NULL;
}

static const char *full_path(cz_arena_t *a, const cz_api_service_t *s, const cz_api_route_t *r)
{
    const char *pre = prefix_of(a, s);
    return cz_arena_sprintf(a, "%s%s", pre ? pre : "", r->path);
}

static int gen_handler(cz__gen_t *g, const cz_api_service_t *s, const groute_t *gr)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fprintf(o, CZ__GEN_MARK "/* %s_handler.c: %s %s\n"
               " * binds the request, calls %s_logic and answers. */\n"
               "#include \"internal/handler/routes.h\"\n#include \"internal/logic/logic.h\"\n\n"
               "int %s_handler(cz_req_t *req, cz_res_t *res, void *ud)\n{\n"
               "    service_context_t *svc = ud;\n",
            gr->base, upper(g->a, gr->r->method), full_path(g->a, s, gr->r), gr->fn, gr->fn);
    const char *args = "";
    if (gr->req_kind == REQ_STRUCT) {
        fprintf(o, "    %s_t in = {0};\n"
                   "    if (cz_httpx_parse(req, res, %s_fields, &in) != 0)\n"
                   "        return CZ_DONE; /* 400 naming the field, already answered */\n",
                gr->req->cname, gr->req->cname);
        args = ", &in";
    } else if (gr->req_kind == REQ_RAW) {
        fputs("    cz_str_t body = cz_req_body(req);\n    json_error_t jerr;\n"
              "    json_t *in = json_loadb(body.p ? body.p : \"\", body.n, JSON_DECODE_ANY, "
              "&jerr);\n"
              "    if (!in)\n"
              "        return cz_httpx_error(res, 400, 0, \"invalid JSON body\"), CZ_DONE;\n",
              o);
        args = ", in";
    }
    if (gr->res_kind == REQ_STRUCT)
        fprintf(o, "    %s_t out = {0};\n", gr->res->cname);
    else if (gr->res_kind == REQ_RAW)
        fputs("    json_t *out = NULL;\n", o);
    fprintf(o, "    int rc = %s_logic(svc, req%s%s);\n", gr->fn, args,
            gr->res_kind != REQ_NONE ? ", &out" : "");
    if (gr->req_kind == REQ_RAW)
        fputs("    json_decref(in);\n", o);
    if (gr->res_kind == REQ_RAW)
        fputs("    if (rc != 0) {\n        json_decref(out);\n        return cz_httpx_fail(res, rc);\n"
              "    }\n    cz_httpx_ok_json(res, out ? out : json_null());\n"
              "    json_decref(out);\n    return CZ_DONE;\n}\n",
              o);
    else if (gr->res_kind == REQ_STRUCT)
        fprintf(o, "    if (rc != 0)\n        return cz_httpx_fail(res, rc);\n"
                   "    json_t *v = %s_to_json(&out);\n"
                   "    if (!v)\n        return cz_httpx_error(res, 503, 0, \"out of memory\"), "
                   "CZ_DONE;\n"
                   "    cz_httpx_ok_json(res, v);\n    json_decref(v);\n    return CZ_DONE;\n}\n",
                gr->res->cname);
    else
        fputs("    return rc != 0 ? cz_httpx_fail(res, rc) : CZ_DONE;\n}\n", o);
    char rel[1024];
    snprintf(rel, sizeof rel, "internal/handler/%s%s%s_handler.c", gr->dir, *gr->dir ? "/" : "",
             gr->base);
    return cz__gen_close(g, o, &buf, &n, rel, 0);
}

static int gen_logic(cz__gen_t *g, const cz_api_service_t *s, const groute_t *gr)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fprintf(o, CZ__SCAF_MARK "/* %s_logic.c: %s %s. */\n#include \"internal/logic/logic.h\"\n\n",
            gr->base, upper(g->a, gr->r->method), full_path(g->a, s, gr->r));
    logic_proto(o, gr);
    fputs("\n{\n    (void)svc;\n    (void)req;\n", o);
    if (gr->req_kind != REQ_NONE)
        fputs("    (void)in;\n", o);
    if (gr->res_kind != REQ_NONE)
        fputs("    (void)out;\n", o);
    fputs("    /* todo: add your logic here; an error answers through the error handler:\n"
          "     * return cz_logic_error(req, 400, 0, \"name %s taken\", ...); */\n"
          "    return 0;\n}\n",
          o);
    char rel[1024];
    snprintf(rel, sizeof rel, "internal/logic/%s%s%s_logic.c", gr->dir, *gr->dir ? "/" : "",
             gr->base);
    return cz__gen_close(g, o, &buf, &n, rel, 1);
}

/* middleware: A, B  ->  calls fn(name) for each */
static int each_mw(cz__gen_t *g, const char *list, int (*fn)(cz__gen_t *, const char *, void *),
                   void *ud)
{
    if (!list)
        return 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        size_t k = 0;
        while (p[k] && p[k] != ',' && p[k] != ' ' && p[k] != '\t')
            k++;
        if (!k)
            break;
        char *name = cz_arena_alloc(g->a, k + 1);
        if (!name)
            return CZ_ENOMEM;
        memcpy(name, p, k);
        name[k] = '\0';
        int rc = fn(g, name, ud);
        if (rc)
            return rc;
        p += k;
    }
    return 0;
}

typedef struct mwset {
    const char *names[64];
    int n;
} mwset_t;

static int collect_mw(cz__gen_t *g, const char *name, void *ud)
{
    mwset_t *m = ud;
    const char *sn = cz__gen_snake(g->a, name);
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->names[i], sn))
            return 0;
    if (m->n < 64)
        m->names[m->n++] = sn;
    return 0;
}

static int count_mw(cz__gen_t *g, const char *name, void *ud)
{
    (void)g, (void)name;
    ++*(int *)ud;
    return 0;
}

typedef struct mwinit {
    FILE *o;
    int i;
} mwinit_t;

static int init_mw(cz__gen_t *g, const char *name, void *ud)
{
    mwinit_t *m = ud;
    fprintf(m->o, "        if ((rc = %s_middleware_init(&mws[%d], svc)) != 0)\n"
                  "            return rc;\n",
            cz__gen_snake(g->a, name), m->i++);
    return 0;
}

static int gen_middleware(cz__gen_t *g, const mwset_t *m)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/* middleware.h: the middlewares the .api declares (@server "
                       "middleware). */\n"
          "#ifndef MIDDLEWARE_MIDDLEWARE_H\n#define MIDDLEWARE_MIDDLEWARE_H\n\n"
          "#include <czero/czero.h>\n#include \"internal/svc/service_context.h\"\n\n",
          o);
    for (int i = 0; i < m->n; i++)
        fprintf(o, "/** Fill mw (its ops and data) for the routes that name %s. 0 or a negative "
                   "CZ_E* code. */\nint %s_middleware_init(cz_mw_t *mw, service_context_t *svc);\n",
                m->names[i], m->names[i]);
    fputs("\n#endif\n", o);
    int rc = cz__gen_close(g, o, &buf, &n, "internal/middleware/middleware.h", 0);
    for (int i = 0; !rc && i < m->n; i++) {
        if (!(o = cz__gen_open(&buf, &n)))
            return CZ_ENOMEM;
        const char *nm = m->names[i];
        fprintf(o, CZ__SCAF_MARK "/* %s_middleware.c: the %s middleware (runs before the "
                   "handlers of its groups). */\n#include \"internal/middleware/middleware.h\"\n\n"
                   "static cz_mw_step_t enter(cz_mw_t *mw, cz_req_t *req, cz_res_t *res, void "
                   "*ctx)\n"
                   "{\n    (void)mw;\n    (void)req;\n    (void)res;\n    (void)ctx;\n"
                   "    /* todo: your middleware; to stop the request here, answer on res "
                   "and\n     * return CZ_MW_DONE */\n    return CZ_MW_NEXT;\n}\n\n"
                   "static const cz_mw_ops_t ops = {.name = \"%s_middleware\", .enter = enter};\n\n"
                   "int %s_middleware_init(cz_mw_t *mw, service_context_t *svc)\n{\n"
                   "    mw->ops = &ops;\n    mw->data = svc;\n    return 0;\n}\n",
                nm, nm, nm, nm);
        char rel[512];
        snprintf(rel, sizeof rel, "internal/middleware/%s_middleware.c", nm);
        rc = cz__gen_close(g, o, &buf, &n, rel, 1);
    }
    return rc;
}

static int is_known_key(const char *k)
{
    static const char *const keys[] = {"group", "prefix", "jwt", "middleware", "timeout",
                                       "maxBytes", "signature", "jwtTransition", NULL};
    for (int i = 0; keys[i]; i++)
        if (!strcmp(k, keys[i]))
            return 1;
    return 0;
}

static void emit_group(cz__gen_t *g, FILE *o, const cz_api_service_t *s, groute_t *grs, int nr)
{
    const cz_api_kv_t *sv = s->server;
    fputs("    {\n", o);
    if (sv) {
        fputs("        /* @server:", o);
        int col = 19;
        for (const cz_api_kv_t *kv = sv; kv; kv = kv->next) {
            const char *note = is_known_key(kv->key) ? "" : " (kept, unused)";
            int w = (int)(strlen(kv->key) + strlen(kv->value) + strlen(note)) + 2;
            if (col + w > 96) { /* keep the comment within 100 columns */
                fputs("\n         *", o);
                col = 10;
            }
            fprintf(o, " %s=%s%s", kv->key, kv->value, note);
            col += w;
        }
        fputs(" */\n", o);
    }
    int nmw = 0;
    each_mw(g, cz_api_kv_get(sv, "middleware"), count_mw, &nmw);
    if (nmw) {
        fprintf(o, "        static cz_mw_t mws[%d];\n", nmw);
        mwinit_t mi = {o, 0};
        each_mw(g, cz_api_kv_get(sv, "middleware"), init_mw, &mi);
    }
    fputs("        const cz_route_t routes[] = {\n", o);
    for (int i = 0; i < nr; i++) {
        fprintf(o, "            {\"%s\", ", upper(g->a, grs[i].r->method));
        cz__gen_cstr(o, grs[i].r->path);
        fprintf(o, ", %s_handler, svc, 0},\n", grs[i].fn);
    }
    fputs("        };\n        const cz_route_opts_t opts = {\n", o);
    long mark = ftell(o);
    const char *v;
    if ((v = prefix_of(g->a, s))) {
        fputs("            .prefix = ", o);
        cz__gen_cstr(o, v);
        fputs(",\n", o);
    }
    if ((v = cz_api_kv_get(sv, "timeout")) && *v) {
        int64_t ms = cz__gen_duration_ms(v);
        if (ms >= 0)
            fprintf(o, "            .timeout_ms = %lld, /* %s */\n", (long long)ms, v);
    }
    if ((v = cz_api_kv_get(sv, "maxBytes")) && *v)
        fprintf(o, "            .max_bytes = %lld,\n", strtoll(v, NULL, 10));
    const char *tr = cz_api_kv_get(sv, "jwtTransition");
    if (tr && *tr) /* go-zero: WithJwtTransition comes after WithJwt and wins */
        fprintf(o, "            .jwt = {.secret = svc->config->%s.secret,\n"
                   "                    .prev_secret = svc->config->%s.prev_secret},\n",
                cz__gen_cident(g->a, tr), cz__gen_cident(g->a, tr));
    else if ((v = cz_api_kv_get(sv, "jwt")) && *v)
        fprintf(o, "            .jwt = {.secret = svc->config->%s.access_secret},\n",
                cz__gen_cident(g->a, v));
    if ((v = cz_api_kv_get(sv, "signature")) && !strcmp(v, "true"))
        fputs("            .signature = true,\n", o);
    if (nmw)
        fprintf(o, "            .middlewares = mws,\n            .nmiddlewares = %d,\n", nmw);
    if (ftell(o) == mark)
        fputs("            .prefix = NULL, /* no @server options */\n", o);
    fputs("        };\n"
          "        rc = cz_server_add_routes(srv, routes, sizeof routes / sizeof routes[0], "
          "&opts, d);\n"
          "        if (rc != 0)\n            return rc;\n    }\n",
          o);
}

int cz__gen_routes(cz__gen_t *g)
{
    /* every route of every group, in source order */
    int total = 0;
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next)
            if (s->kind == CZ_API_S_SERVICE)
                for (const cz_api_route_t *r = s->service->routes; r; r = r->next)
                    total++;
    groute_t *all = cz_arena_calloc(g->a, sizeof *all * (size_t)(total + 1));
    if (!all)
        return CZ_ENOMEM;
    mwset_t mw = {{0}, 0};
    int k = 0, rc = 0;
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next) {
            if (s->kind != CZ_API_S_SERVICE)
                continue;
            if ((rc = each_mw(g, cz_api_kv_get(s->service->server, "middleware"), collect_mw, &mw)))
                return rc;
            for (const cz_api_route_t *r = s->service->routes; r; r = r->next)
                if ((rc = fill(g, s->service, r, &all[k++])))
                    return rc;
        }

    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/* routes.h: the handlers of the .api routes and their registration. */\n"
          "#ifndef HANDLER_ROUTES_H\n#define HANDLER_ROUTES_H\n\n#include <czero/czero.h>\n"
          "#include \"internal/svc/service_context.h\"\n#include \"internal/types/types.h\"\n\n"
          "/** Register every route group of the .api on srv (before cz_server_start); svc must "
          "outlive\n *  the server. 0, or a negative CZ_E* code with d naming the route. */\n"
          "int register_handlers(cz_server_t *srv, service_context_t *svc, cz_diag_t *d);\n\n",
          o);
    for (int i = 0; i < total; i++)
        fprintf(o, "int %s_handler(cz_req_t *req, cz_res_t *res, void *ud);\n", all[i].fn);
    fputs("\n#endif\n", o);
    if ((rc = cz__gen_close(g, o, &buf, &n, "internal/handler/routes.h", 0)))
        return rc;

    if (!(o = cz__gen_open(&buf, &n)))
        return CZ_ENOMEM;
    fprintf(o, CZ__GEN_MARK "/* routes.c: every route group of the .api, with its @server "
                            "options. */\n"
               "#include \"internal/handler/routes.h\"\n%s\n"
               "int register_handlers(cz_server_t *srv, service_context_t *svc, cz_diag_t *d)\n{\n"
               "    int rc = 0;\n",
            mw.n ? "#include \"internal/middleware/middleware.h\"\n" : "");
    k = 0;
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next) {
            if (s->kind != CZ_API_S_SERVICE)
                continue;
            int nr = 0;
            for (const cz_api_route_t *r = s->service->routes; r; r = r->next)
                nr++;
            if (nr)
                emit_group(g, o, s->service, all + k, nr);
            k += nr;
        }
    /* an .api without routes still builds with -Wunused-parameter */
    fputs(total ? "    (void)svc;\n    return rc;\n}\n"
                : "    (void)srv;\n    (void)svc;\n    (void)d;\n    return rc;\n}\n",
          o);
    if ((rc = cz__gen_close(g, o, &buf, &n, "internal/handler/routes.c", 0)))
        return rc;

    if (!(o = cz__gen_open(&buf, &n)))
        return CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/*\n * logic.h: one function per route, for you to fill in "
          "(internal/logic/). in is the bound\n * request; fill out and return 0 for a 200 with "
          "out as JSON, or return an error:\n *   return cz_logic_error(req, 409, 1001, \"name %s "
          "taken\", in->name);\n * (status, your code, a message), which the handler answers "
          "through the process-wide\n * error handler (cz_http_set_error_handler, "
          "czero/httpx.h; without one: the status and the\n * message as text). A bare HTTP "
          "status (400..599) answers with its reason phrase. Strings\n * you put in out must "
          "live until the handler has encoded them: use the request's arena\n * "
          "(cz_arena_sprintf(cz_req_arena(req), ...)).\n */\n"
          "#ifndef LOGIC_LOGIC_H\n#define LOGIC_LOGIC_H\n\n#include <czero/czero.h>\n"
          "#include \"internal/svc/service_context.h\"\n#include \"internal/types/types.h\"\n\n",
          o);
    k = 0;
    for (const cz_api_file_t *f = g->api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next) {
            if (s->kind != CZ_API_S_SERVICE)
                continue;
            for (const cz_api_route_t *r = s->service->routes; r; r = r->next, k++) {
                fprintf(o, "/* %s %s */\n", upper(g->a, r->method), full_path(g->a, s->service, r));
                logic_proto(o, &all[k]);
                fputs(";\n", o);
                if ((rc = gen_handler(g, s->service, &all[k])) ||
                    (rc = gen_logic(g, s->service, &all[k])))
                    return rc;
            }
        }
    fputs("\n#endif\n", o);
    if ((rc = cz__gen_close(g, o, &buf, &n, "internal/logic/logic.h", 0)))
        return rc;
    return gen_middleware(g, &mw);
}
