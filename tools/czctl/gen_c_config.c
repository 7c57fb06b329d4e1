/* SPDX-License-Identifier: MIT
 *
 * gen_c_config.c: the configuration of a generated project: internal/config/api_sections.{h,c}
 * (generated), config.{h,c} and etc/NAME.yaml (scaffolded), and the notes printed when the
 * user's files lack a section the .api now asks for.
 *
 * The sections the .api's @server keys need (one per `jwt` name with AccessSecret and
 * AccessExpire, one per `jwtTransition` name with Secret and PrevSecret) live in the generated
 * api_sections.h as two macros that the scaffolded config.h and config.c expand:
 * API_SECTIONS_MEMBERS in config_t, API_SECTIONS_FIELDS in config_fields. So `jwt: Auth` added
 * to an existing .api gives, on regeneration, a config_t with `auth` and a loader that reads
 * `Auth:`, and the project builds. Two things stay the user's: the YAML (a missing section is
 * printed, ready to paste: the service would refuse to start without it), and a config.h
 * scaffolded before api_sections.h existed (the member and field lines to add are printed,
 * rather than leaving a compile error to decode). Not here: the routes that read the sections
 * (gen_c_routes.c).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "gen_c.h"

/* the distinct values of @server key ("jwt", "jwtTransition") in the .api, in order */
static int section_names(const cz_api_t *api, const char *key, const char **out, int max)
{
    int n = 0;
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next) {
            if (s->kind != CZ_API_S_SERVICE)
                continue;
            const char *j = cz_api_kv_get(s->service->server, key);
            if (!j || !*j)
                continue;
            int dup = 0;
            for (int i = 0; i < n; i++)
                dup |= !strcmp(out[i], j);
            if (!dup && n < max)
                out[n++] = j;
        }
    return n;
}

typedef struct sections {
    const char *jwt[32], *trans[32];
    int nj, nt;
} sections_t;

static void sections_of(const cz_api_t *api, sections_t *s)
{
    s->nj = section_names(api, "jwt", s->jwt, 32);
    s->nt = section_names(api, "jwtTransition", s->trans, 32);
}

/* AUTH for Auth, JWT_AUTH for JwtAuth: the ${X_SECRET} environment variable's stem */
static const char *env_stem(cz_arena_t *a, const char *name)
{
    char *s = cz_arena_sprintf(a, "%s", cz__gen_snake(a, name));
    for (char *p = s; p && *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return s;
}

/* The YAML section of a jwt (trans 0) or jwtTransition (trans 1) name. */
static void yaml_section(cz__gen_t *g, FILE *o, const char *name, int trans)
{
    const char *e = env_stem(g->a, name);
    if (!trans)
        fprintf(o, "%s:\n  AccessSecret: ${%s_SECRET:-change-me-to-a-long-random-secret}\n"
                   "  AccessExpire: 86400\n",
                name, e);
    else
        fprintf(o, "%s:\n  Secret: ${%s_SECRET:-change-me-to-a-long-random-secret}\n"
                   "  PrevSecret: ${%s_PREV_SECRET:-change-me-to-the-previous-secret}\n",
                name, e, e);
}

static void member_line(cz__gen_t *g, FILE *o, const char *name, int trans, const char *indent)
{
    fprintf(o, "%s%s %s; /* %s */", indent, trans ? "api_jwt_trans_t" : "api_jwt_auth_t",
            cz__gen_cident(g->a, name), name);
}

static void field_line(cz__gen_t *g, FILE *o, const char *name, int trans, const char *indent)
{
    fprintf(o, "%s{.key = ", indent);
    cz__gen_cstr(o, name);
    fprintf(o, ", .type = CZ_CONF_OBJECT, .offset = offsetof(config_t, %s), .sub = %s},",
            cz__gen_cident(g->a, name), trans ? "api_jwt_trans_fields" : "api_jwt_auth_fields");
}

static int gen_sections(cz__gen_t *g, const sections_t *s)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/*\n * api_sections.h: the configuration sections the .api's @server "
          "keys need, a section per\n * jwt name (go-zero's Auth: AccessSecret, AccessExpire) "
          "and per jwtTransition name\n * (Secret, PrevSecret). config.h puts "
          "API_SECTIONS_MEMBERS in config_t, config.c puts\n * API_SECTIONS_FIELDS in "
          "config_fields: regeneration keeps them in step with the .api.\n */\n"
          "#ifndef CONFIG_API_SECTIONS_H\n#define CONFIG_API_SECTIONS_H\n\n"
          "#include <stddef.h>\n#include <stdint.h>\n#include <czero/config.h>\n\n"
          "/* go-zero's Auth section: the JWT secret and token lifetime (seconds) */\n"
          "typedef struct api_jwt_auth {\n    char *access_secret; /* AccessSecret */\n"
          "    int64_t access_expire; /* AccessExpire */\n} api_jwt_auth_t;\n\n"
          "/* go-zero's jwtTransition section: during a secret rotation both are accepted */\n"
          "typedef struct api_jwt_trans {\n    char *secret; /* Secret */\n"
          "    char *prev_secret; /* PrevSecret */\n} api_jwt_trans_t;\n\n"
          "extern const cz_conf_field_t api_jwt_auth_fields[];\n"
          "extern const cz_conf_field_t api_jwt_trans_fields[];\n\n"
          "/* config_t's members */\n#define API_SECTIONS_MEMBERS",
          o);
    for (int i = 0; i < s->nj; i++) {
        fputs(" \\\n", o);
        member_line(g, o, s->jwt[i], 0, "    ");
    }
    for (int i = 0; i < s->nt; i++) {
        fputs(" \\\n", o);
        member_line(g, o, s->trans[i], 1, "    ");
    }
    fputs("\n\n/* config_fields' entries (after config_t is complete) */\n"
          "#define API_SECTIONS_FIELDS",
          o);
    for (int i = 0; i < s->nj; i++) {
        fputs(" \\\n", o);
        field_line(g, o, s->jwt[i], 0, "    ");
    }
    for (int i = 0; i < s->nt; i++) {
        fputs(" \\\n", o);
        field_line(g, o, s->trans[i], 1, "    ");
    }
    fputs("\n\n#endif\n", o);
    int rc = cz__gen_close(g, o, &buf, &n, "internal/config/api_sections.h", 0);
    if (rc || !(o = cz__gen_open(&buf, &n)))
        return rc ? rc : CZ_ENOMEM;
    fputs(CZ__GEN_MARK "/* api_sections.c: the loader tables of the sections in "
                       "api_sections.h. */\n"
          "#include \"internal/config/api_sections.h\"\n\n"
          "const cz_conf_field_t api_jwt_auth_fields[] = {\n"
          "    {.key = \"AccessSecret\", .type = CZ_CONF_STRING,\n"
          "     .offset = offsetof(api_jwt_auth_t, access_secret), .flags = "
          "CZ_CONF_REQUIRED},\n"
          "    {.key = \"AccessExpire\", .type = CZ_CONF_INT,\n"
          "     .offset = offsetof(api_jwt_auth_t, access_expire), .def = \"86400\"},\n"
          "    {0},\n};\n\n"
          "const cz_conf_field_t api_jwt_trans_fields[] = {\n"
          "    {.key = \"Secret\", .type = CZ_CONF_STRING,\n"
          "     .offset = offsetof(api_jwt_trans_t, secret), .flags = CZ_CONF_REQUIRED},\n"
          "    {.key = \"PrevSecret\", .type = CZ_CONF_STRING,\n"
          "     .offset = offsetof(api_jwt_trans_t, prev_secret), .flags = CZ_CONF_REQUIRED},\n"
          "    {0},\n};\n",
          o);
    return cz__gen_close(g, o, &buf, &n, "internal/config/api_sections.c", 0);
}

static int gen_scaffolds(cz__gen_t *g, const sections_t *s)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fputs(CZ__SCAF_MARK "/*\n * config.h: the service's configuration (the YAML in etc/), "
          "go-zero's config.Config:\n * rest.RestConf embedded, plus the sections the .api "
          "needs (api_sections.h, kept in\n * step with the .api by czctl) and your own.\n */\n"
          "#ifndef CONFIG_CONFIG_H\n#define CONFIG_CONFIG_H\n\n#include <czero/config.h>\n"
          "#include \"internal/config/api_sections.h\"\n\n"
          "typedef struct config {\n    cz_rest_conf_t rest; /* Name, Host, Port, Log, ... */\n"
          "    API_SECTIONS_MEMBERS /* a section per jwt / jwtTransition name of the .api */\n"
          "    /* your own sections here, with their entries in config.c */\n"
          "} config_t;\n\n/* The loader's table (cz_conf_load, cz_conf_must_load). */\n"
          "extern const cz_conf_field_t config_fields[];\n\n#endif\n",
          o);
    int rc = cz__gen_close(g, o, &buf, &n, "internal/config/config.h", 1);
    if (rc || !(o = cz__gen_open(&buf, &n)))
        return rc ? rc : CZ_ENOMEM;
    fputs(CZ__SCAF_MARK "/* config.c: the table that maps the YAML in etc/ onto config_t. */\n"
          "#include <stddef.h>\n#include \"internal/config/config.h\"\n\n"
          "const cz_conf_field_t config_fields[] = {\n"
          "    {.key = \"\", .type = CZ_CONF_INLINE, .offset = offsetof(config_t, rest),\n"
          "     .sub = cz_rest_conf_fields},\n"
          "    API_SECTIONS_FIELDS\n"
          "    {0},\n};\n",
          o);
    rc = cz__gen_close(g, o, &buf, &n, "internal/config/config.c", 1);
    if (rc || !(o = cz__gen_open(&buf, &n)))
        return rc ? rc : CZ_ENOMEM;
    fprintf(o, "# Scaffolded by czctl. Safe to edit.\n# %s's configuration (go-zero RestConf "
               "keys).\nName: %s\nHost: 0.0.0.0\n"
               "Port: 8888\nLog:\n  Mode: console\n  Encoding: plain\n"
               "# The dev listener: /healthz for the Dockerfile's HEALTHCHECK and the Kubernetes\n"
               "# probes (czctl docker, czctl kube deploy), /metrics for Prometheus.\n"
               "DevServer:\n  Enabled: true\n  Host: 0.0.0.0\n  Port: ${DEV_PORT:-6060}\n",
            g->name, g->name);
    for (int i = 0; i < s->nj; i++)
        yaml_section(g, o, s->jwt[i], 0);
    for (int i = 0; i < s->nt; i++)
        yaml_section(g, o, s->trans[i], 1);
    char rel[512];
    snprintf(rel, sizeof rel, "etc/%s.yaml", g->name);
    return cz__gen_close(g, o, &buf, &n, rel, 1);
}

static char *slurp(cz__gen_t *g, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", g->dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    char chunk[8192];
    size_t r;
    while (m && (r = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, r, m);
    fclose(f);
    if (!m || fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* A line of text that starts with "key:" (a top-level YAML key). */
static int has_top_key(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; p; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (!strncmp(p, key, k) && p[k] == ':')
            return 1;
    }
    return 0;
}

/* A C member `<ident>;` anywhere in text (a crude but sufficient check of config_t). */
static int has_member(const char *text, const char *ident)
{
    size_t k = strlen(ident);
    for (const char *p = strstr(text, ident); p; p = strstr(p + 1, ident)) {
        const char *q = p + k;
        while (*q == ' ')
            q++;
        if (*q == ';' && (p == text || (!isalnum((unsigned char)p[-1]) && p[-1] != '_')))
            return 1;
    }
    return 0;
}

/* The user's files that the .api now needs more of: say exactly what to add. */
static void notes(cz__gen_t *g, const sections_t *s)
{
    const char *names[64];
    int trans[64], n = 0;
    for (int i = 0; i < s->nj; i++)
        names[n] = s->jwt[i], trans[n++] = 0;
    for (int i = 0; i < s->nt; i++)
        names[n] = s->trans[i], trans[n++] = 1;
    if (!n)
        return;
    fflush(stdout); /* the notes come after the list of files written */
    char rel[512];
    snprintf(rel, sizeof rel, "etc/%s.yaml", g->name);
    char *yaml = slurp(g, rel), *h = slurp(g, "internal/config/config.h");
    for (int i = 0; yaml && i < n; i++) {
        if (has_top_key(yaml, names[i]))
            continue;
        fprintf(stderr, "czctl: %s/%s has no %s section, which `%s: %s` needs (the service "
                        "will not start without it); add:\n",
                g->dir, rel, names[i], trans[i] ? "jwtTransition" : "jwt", names[i]);
        yaml_section(g, stderr, names[i], trans[i]);
    }
    if (h && !strstr(h, "API_SECTIONS_MEMBERS")) { /* a config.h from an older czctl */
        int missing = 0;
        for (int i = 0; i < n; i++)
            missing += !has_member(h, cz__gen_cident(g->a, names[i]));
        if (missing) {
            fprintf(stderr, "czctl: %s/internal/config/config.h predates api_sections.h; "
                            "for the .api's sections add to config.h\n"
                            "#include \"internal/config/api_sections.h\"\n"
                            "and in config_t:\n",
                    g->dir);
            for (int i = 0; i < n; i++)
                if (!has_member(h, cz__gen_cident(g->a, names[i]))) {
                    member_line(g, stderr, names[i], trans[i], "    ");
                    fputc('\n', stderr);
                }
            fputs("and in config_fields (internal/config/config.c), before {0}:\n", stderr);
            for (int i = 0; i < n; i++)
                if (!has_member(h, cz__gen_cident(g->a, names[i]))) {
                    field_line(g, stderr, names[i], trans[i], "    ");
                    fputc('\n', stderr);
                }
        }
    }
    free(yaml);
    free(h);
}

int cz__gen_config(cz__gen_t *g)
{
    sections_t s;
    sections_of(g->api, &s);
    int rc = gen_sections(g, &s);
    if (!rc)
        rc = gen_scaffolds(g, &s);
    if (!rc)
        notes(g, &s);
    return rc;
}
