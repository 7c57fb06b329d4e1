/* SPDX-License-Identifier: MIT
 *
 * api_check.c: the entry points (parse text, load a file with its imports, free) and the checks
 * that span statements.
 *
 * Imports follow goctl (tools/goctl/pkg/parser/api/parser/api.go parseImportedAPI): a relative
 * path is joined to the importing file's directory, each file is read once however often it is
 * imported, and importing a file that is still being read is a cycle, reported at that import.
 * Files are identified by realpath(), so `a/../b.api` and `b.api` are one file. The checks are
 * goctl's SelfCheck: one service name (a "-api" suffix ignored), unique type names, unique
 * handlers per @server group, unique "[prefix]:method path", and no unresolved type names.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api_int.h"

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int rc_ = (x);                                                                             \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

static int read_all(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char *b = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return CZ_ENOMEM;
            }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        free(b);
        return err;
    }
    *buf = b;
    *len = n;
    return 0;
}

typedef struct seen {
    struct seen *next;
    const char *real;
    const char *shown;
    int open; /* still being read: importing it again is a cycle */
} seen_t;

typedef struct {
    cz_api_t *api;
    seen_t *seen;
    cz_diag_t *d;
} loader_t;

static int load_file(loader_t *L, const char *path, const cz_api_import_t *from)
{
    char real[PATH_MAX];
    int line = from ? from->pos.line : 0, col = from ? from->pos.col : 0;
    const char *file = from ? from->pos.file : path;
    if (!realpath(path, real)) {
        int err = -errno;
        cz__api_err(L->d, file, line, col, "cannot read %s: %s", path, strerror(errno));
        return err;
    }
    for (seen_t *s = L->seen; s; s = s->next) {
        if (strcmp(s->real, real))
            continue;
        if (!s->open)
            return 0;
        const char *a = strrchr(file, '/'), *b = strrchr(s->shown, '/');
        return cz__api_err(L->d, file, line, col, "import cycle: %s imports %s, which is still "
                           "being read", a ? a + 1 : file, b ? b + 1 : s->shown);
    }
    seen_t *me = cz_arena_calloc(&L->api->arena, sizeof *me);
    if (!me || !(me->real = cz_arena_strdup(&L->api->arena, cz_str_c(real)).p) ||
        !(me->shown = cz_arena_strdup(&L->api->arena, cz_str_c(path)).p))
        return CZ_ENOMEM;
    me->open = 1;
    me->next = L->seen;
    L->seen = me;

    char *src = NULL;
    size_t len = 0;
    int rc = read_all(path, &src, &len);
    if (rc) {
        cz__api_err(L->d, file, line, col, "cannot read %s: %s", path, cz_strerror(rc));
        return rc;
    }
    cz_api_file_t *f;
    rc = cz__api_parse_into(L->api, path, src, len, &f, L->d);
    free(src);
    if (rc)
        return rc;
    /* imports are relative to this file's directory */
    const char *slash = strrchr(f->path, '/');
    size_t dirlen = slash ? (size_t)(slash - f->path) + 1 : 0;
    for (cz_api_stmt_t *st = f->stmts; st; st = st->next) {
        if (st->kind != CZ_API_S_IMPORT)
            continue;
        for (cz_api_import_t *im = st->imports; im; im = im->next) {
            const char *p = im->path[0] == '/'
                                ? im->path
                                : cz_arena_sprintf(&L->api->arena, "%.*s%s", (int)dirlen,
                                                   f->path, im->path);
            if (!p)
                return CZ_ENOMEM;
            TRY(load_file(L, p, im));
        }
    }
    me->open = 0;
    return 0;
}

int cz_api_parse(cz_api_t **out, const char *name, const char *src, size_t len, cz_diag_t *d)
{
    *out = NULL;
    cz_api_t *api = calloc(1, sizeof *api);
    if (!api)
        return CZ_ENOMEM;
    cz_arena_init(&api->arena, 16384);
    int rc = cz__api_parse_into(api, name, src, len, NULL, d);
    if (rc) {
        if (rc == CZ_ENOMEM)
            cz__api_err(d, name, 0, 0, "out of memory");
        cz_api_free(api);
        return rc;
    }
    *out = api;
    return 0;
}

void cz_api_free(cz_api_t *api)
{
    if (!api)
        return;
    cz_arena_dispose(&api->arena);
    free(api);
}

int cz_api_load(cz_api_t **out, const char *path, cz_diag_t *d)
{
    *out = NULL;
    cz_api_t *api = calloc(1, sizeof *api);
    if (!api)
        return CZ_ENOMEM;
    cz_arena_init(&api->arena, 16384);
    loader_t L = {.api = api, .d = d};
    int rc = load_file(&L, path, NULL);
    if (!rc)
        rc = cz_api_check(api, d);
    if (rc) {
        if (rc == CZ_ENOMEM)
            cz__api_err(d, path, 0, 0, "out of memory");
        cz_api_free(api);
        return rc;
    }
    *out = api;
    return 0;
}

/* ---- checks --------------------------------------------------------------------------------- */

static const char *trim_api(const char *name, size_t *n)
{
    *n = strlen(name);
    if (*n > 4 && !strcmp(name + *n - 4, "-api"))
        *n -= 4;
    return name;
}

static int check_type_refs(const cz_api_t *api, const cz_api_type_t *t, cz_diag_t *d);

static const cz_api_typedecl_t *find_type(const cz_api_t *api, const char *name)
{
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *st = f->stmts; st; st = st->next)
            if (st->kind == CZ_API_S_TYPE)
                for (const cz_api_typedecl_t *td = st->types; td; td = td->next)
                    if (!strcmp(td->name, name))
                        return td;
    return NULL;
}

static int check_type_refs(const cz_api_t *api, const cz_api_type_t *t, cz_diag_t *d)
{
    if (!t)
        return 0;
    switch (t->kind) {
    case CZ_API_T_IDENT:
        if (cz_api_is_builtin(t->name) || strchr(t->name, '.') || find_type(api, t->name))
            return 0;
        return cz__api_err(d, t->pos.file, t->pos.line, t->pos.col, "unresolved type '%s'",
                           t->name);
    case CZ_API_T_STRUCT:
        for (const cz_api_field_t *f = t->fields; f; f = f->next)
            TRY(check_type_refs(api, f->type, d));
        return 0;
    case CZ_API_T_MAP:
        TRY(check_type_refs(api, t->key, d));
        return check_type_refs(api, t->elem, d);
    case CZ_API_T_INTERFACE:
        return 0;
    default:
        return check_type_refs(api, t->elem, d);
    }
}

static int check_types(const cz_api_t *api, cz_diag_t *d)
{
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *st = f->stmts; st; st = st->next) {
            if (st->kind != CZ_API_S_TYPE)
                continue;
            for (const cz_api_typedecl_t *td = st->types; td; td = td->next) {
                const cz_api_typedecl_t *first = find_type(api, td->name);
                if (first != td)
                    return cz__api_err(d, td->pos.file, td->pos.line, td->pos.col,
                                       "duplicate type '%s' (first declared at %s:%d:%d)",
                                       td->name, first->pos.file, first->pos.line,
                                       first->pos.col);
                TRY(check_type_refs(api, td->type, d));
            }
        }
    return 0;
}

typedef struct {
    const cz_api_service_t *sv;
    const cz_api_route_t *r;
} route_ref_t;

static int check_services(const cz_api_t *api, cz_diag_t *d)
{
    const cz_api_service_t *first = NULL;
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *st = f->stmts; st; st = st->next) {
            if (st->kind != CZ_API_S_SERVICE)
                continue;
            const cz_api_service_t *sv = st->service;
            size_t n1, n2;
            if (!first) {
                first = sv;
            } else {
                const char *a = trim_api(first->name, &n1), *b = trim_api(sv->name, &n2);
                if (n1 != n2 || memcmp(a, b, n1))
                    return cz__api_err(d, sv->pos.file, sv->pos.line, sv->pos.col,
                                       "multiple service names: '%s' here, '%s' at %s:%d:%d",
                                       sv->name, first->name, first->pos.file, first->pos.line,
                                       first->pos.col);
            }
            /* compare with every earlier route of every service: quadratic, fine for .api sizes */
            const char *group = cz_api_kv_get(sv->server, "group");
            const char *prefix = cz_api_kv_get(sv->server, "prefix");
            for (const cz_api_route_t *r = sv->routes; r; r = r->next) {
                TRY(check_type_refs(api, r->request, d));
                TRY(check_type_refs(api, r->response, d));
                for (const cz_api_file_t *f2 = api->files; f2; f2 = f2->next)
                    for (const cz_api_stmt_t *s2 = f2->stmts; s2; s2 = s2->next) {
                        if (s2->kind != CZ_API_S_SERVICE)
                            continue;
                        const char *g2 = cz_api_kv_get(s2->service->server, "group");
                        const char *p2 = cz_api_kv_get(s2->service->server, "prefix");
                        for (const cz_api_route_t *o = s2->service->routes; o; o = o->next) {
                            if (o == r)
                                goto next_route;
                            if (!strcmp(o->handler, r->handler) &&
                                !strcmp(g2 ? g2 : "", group ? group : ""))
                                return cz__api_err(
                                    d, r->handler_pos.file, r->handler_pos.line,
                                    r->handler_pos.col,
                                    "duplicate handler '%s' (first at %s:%d:%d)", r->handler,
                                    o->handler_pos.file, o->handler_pos.line, o->handler_pos.col);
                            if (!strcmp(o->method, r->method) && !strcmp(o->path, r->path) &&
                                !strcmp(p2 ? p2 : "", prefix ? prefix : ""))
                                return cz__api_err(
                                    d, r->method_pos.file, r->method_pos.line, r->method_pos.col,
                                    "duplicate route '%s %s%s' (first at %s:%d:%d)", r->method,
                                    prefix ? prefix : "", r->path, o->method_pos.file,
                                    o->method_pos.line, o->method_pos.col);
                        }
                    }
            next_route:;
            }
        }
    return 0;
}

int cz_api_check(const cz_api_t *api, cz_diag_t *d)
{
    if (!api)
        return cz__api_err(d, NULL, 0, 0, "no api");
    TRY(check_types(api, d));
    return check_services(api, d);
}
