/* SPDX-License-Identifier: MIT
 *
 * gen_c.c: `czctl api new NAME` and `czctl api c -api FILE -dir DIR`: the driver, file policy
 * and the scaffolded project files (main, service context, CMake, Makefile; the config is
 * gen_c_config.c's).
 *
 * The generated CMakeLists.txt finds czero with find_package(czero) under CZERO_PREFIX, a cache
 * variable whose default is czctl's own install prefix: the directory above the one holding
 * the czctl binary (/proc/self/exe/../..) when it has lib/cmake/czero, otherwise /usr/local.
 * The CZERO_PREFIX environment variable overrides both (tests run czctl from a build tree).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd.h"
#include "gen_c.h"
#include "gen_util.h"

/* ---- names ---- */

const char *cz__gen_snake(cz_arena_t *a, const char *s)
{
    return cz__gen_snake_n(a, s, strlen(s));
}

const char *cz__gen_snake_n(cz_arena_t *a, const char *s, size_t n)
{
    char *out = cz_arena_alloc(a, 2 * n + 2);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isupper(c)) {
            /* a new word: lower->Upper, or the last capital of an acronym before a lower */
            int prev_low = i > 0 && (islower((unsigned char)s[i - 1]) ||
                                     isdigit((unsigned char)s[i - 1]));
            int acr_end = i > 0 && isupper((unsigned char)s[i - 1]) && i + 1 < n &&
                          islower((unsigned char)s[i + 1]);
            if (o > 0 && out[o - 1] != '_' && (prev_low || acr_end))
                out[o++] = '_';
            out[o++] = (char)tolower(c);
        } else if (isalnum(c)) {
            out[o++] = (char)c;
        } else if (o > 0 && out[o - 1] != '_') {
            out[o++] = '_';
        }
    }
    while (o > 0 && out[o - 1] == '_')
        o--;
    if (o == 0)
        out[o++] = 'x';
    out[o] = '\0';
    if (isdigit((unsigned char)out[0])) {
        char *p = cz_arena_sprintf(a, "n%s", out);
        return p;
    }
    return out;
}

const char *cz__gen_cident(cz_arena_t *a, const char *s)
{
    static const char *const kw[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
        "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
        "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true", "false",
        "errno", "alignas", "alignof", "noreturn", "asm",
        "typeof", "complex", "imaginary", "assert", "stdin", "stdout", "stderr", "NULL", NULL};
    const char *sn = cz__gen_snake(a, s);
    if (!sn)
        return NULL;
    for (int i = 0; kw[i]; i++)
        if (!strcmp(sn, kw[i]))
            return cz_arena_sprintf(a, "%s_", sn);
    return sn;
}

void cz__gen_cstr(FILE *o, const char *s)
{
    fputc('"', o);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", o);
        else if (c < 0x20 || c == 0x7f)
            fprintf(o, "\\%03o", c);
        else if (c == '?' && s[1] == '?')
            fputs("?\"\"", o); /* no trigraphs */
        else
            fputc(c, o);
    }
    fputc('"', o);
}

int64_t cz__gen_duration_ms(const char *s)
{
    /* Go's time.ParseDuration for the units a timeout uses; a bare number is ms (go-zero) */
    char *end;
    double total = strtod(s, &end);
    if (end != s && !*end)
        return total < 0 ? -1 : (int64_t)total;
    total = 0;
    const char *p = s;
    if (!*p)
        return -1;
    while (*p) {
        double v = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
        double mul;
        if (!strncmp(p, "ms", 2))
            mul = 1, p += 2;
        else if (!strncmp(p, "us", 2))
            mul = 0.001, p += 2;
        else if (!strncmp(p, "ns", 2))
            mul = 0.000001, p += 2;
        else if (*p == 's')
            mul = 1000, p++;
        else if (*p == 'm')
            mul = 60000, p++;
        else if (*p == 'h')
            mul = 3600000, p++;
        else
            return -1;
        total += v * mul;
    }
    return total < 0 ? -1 : (int64_t)(total + 0.5);
}

/* ---- files ---- */

static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    return 0;
}

int cz__gen_write(cz__gen_t *g, const char *rel, const char *text, size_t n, int scaffold)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", g->dir, rel) >= (int)sizeof path)
        return -ENAMETOOLONG;
    struct stat st;
    if (scaffold && stat(path, &st) == 0)
        return 0; /* the user's file now */
    int rc = mkdirs(path);
    if (rc)
        return rc;
    /* unchanged generated files keep their mtime, so a rebuild recompiles only what changed */
    FILE *f = fopen(path, "rb");
    if (f) {
        char *old = malloc(n + 1);
        size_t r = old ? fread(old, 1, n + 1, f) : 0;
        int same = old && r == n && !memcmp(old, text, n);
        free(old);
        fclose(f);
        if (same)
            return 0;
    }
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.czctl-tmp", path);
    f = fopen(tmp, "wb");
    if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = -errno;
        fprintf(stderr, "czctl: %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return rc ? rc : -EIO;
    }
    if (!g->quiet)
        printf("%s %s\n", scaffold ? "created  " : "generated", rel);
    return 0;
}

FILE *cz__gen_open(char **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    return open_memstream(buf, n);
}

int cz__gen_close(cz__gen_t *g, FILE *f, char **buf, size_t *n, const char *rel, int scaffold)
{
    if (fclose(f) != 0) {
        free(*buf);
        return CZ_ENOMEM;
    }
    int rc = cz__gen_write(g, rel, *buf, *n, scaffold);
    free(*buf);
    *buf = NULL;
    return rc;
}

/* ---- scaffolds ---- */

static int gen_svc(cz__gen_t *g)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fputs(CZ__SCAF_MARK "/*\n * service_context.h: what every handler and logic function shares "
          "(go-zero's\n * svc.ServiceContext): the configuration, and the clients you add "
          "(redis, upstreams...).\n */\n#ifndef SVC_SERVICE_CONTEXT_H\n#define "
          "SVC_SERVICE_CONTEXT_H\n\n"
          "#include <czero/error.h>\n#include \"internal/config/config.h\"\n\n"
          "typedef struct service_context {\n    const config_t *config;\n} service_context_t;\n\n"
          "/** Set up svc for c (which must outlive it). 0, or a negative CZ_E* code with d "
          "set. */\n"
          "int service_context_init(service_context_t *svc, const config_t *c, cz_diag_t *d);\n"
          "/** Release what service_context_init acquired. */\n"
          "void service_context_dispose(service_context_t *svc);\n\n#endif\n",
          o);
    int rc = cz__gen_close(g, o, &buf, &n, "internal/svc/service_context.h", 1);
    if (rc || !(o = cz__gen_open(&buf, &n)))
        return rc ? rc : CZ_ENOMEM;
    fputs(CZ__SCAF_MARK "/* service_context.c: build and release the shared service context. */\n"
          "#include \"internal/svc/service_context.h\"\n\n"
          "int service_context_init(service_context_t *svc, const config_t *c, cz_diag_t *d)\n{\n"
          "    (void)d;\n    svc->config = c;\n    return 0;\n}\n\n"
          "void service_context_dispose(service_context_t *svc)\n{\n    svc->config = NULL;\n}\n",
          o);
    return cz__gen_close(g, o, &buf, &n, "internal/svc/service_context.c", 1);
}

static int gen_main(cz__gen_t *g)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fprintf(o, CZ__SCAF_MARK "/*\n * %s.c: the %s service: load etc/%s.yaml, build the service "
               "context, register\n * the routes of the .api file, serve until SIGTERM or "
               "SIGINT.\n */\n"
               "#include <stdio.h>\n#include <unistd.h>\n#include <czero/czero.h>\n"
               "#include \"internal/config/config.h\"\n#include \"internal/handler/routes.h\"\n"
               "#include \"internal/svc/service_context.h\"\n\n"
               "int main(int argc, char **argv)\n{\n    const char *file = \"etc/%s.yaml\";\n",
            g->name, g->name, g->name, g->name);
    fputs("    int opt;\n    while ((opt = getopt(argc, argv, \"f:\")) != -1) {\n"
          "        if (opt != 'f') {\n"
          "            fprintf(stderr, \"usage: %s [-f config.yaml]\\n\", argv[0]);\n"
          "            return 2;\n        }\n        file = optarg;\n    }\n\n"
          "    config_t c;\n    cz_conf_must_load(file, config_fields, &c);\n"
          "    /* the shape of error and 200 answers (go-zero's httpx.SetErrorHandler and\n"
          "     * SetOkHandler): cz_http_set_error_handler, cz_http_set_ok_handler (czero/httpx.h) */\n"
          "    cz_diag_t d = {0};\n    char msg[512];\n    service_context_t svc = {0};\n"
          "    cz_server_t *srv = NULL;\n    int rc = 1;\n"
          "    if (cz_log_setup(&c.rest.log, &d) != 0 || service_context_init(&svc, &c, &d) != "
          "0 ||\n"
          "        !(srv = cz_server_new(&c.rest, &d)) || register_handlers(srv, &svc, &d) != "
          "0) {\n"
          "        fprintf(stderr, \"%s\\n\", cz_diag_format(&d, msg, sizeof msg));\n"
          "    } else {\n"
  

          "        int err = cz_server_run(srv);\n"
          "        if (err)\n            fprintf(stderr, \"server: %s\\n\", cz_strerror(err));\n"
          "        rc = err ? 1 : 0;\n    }\n"
          "    if (srv)\n        cz_server_free(srv);\n    service_context_dispose(&svc);\n"
          "    cz_log_close();\n    cz_conf_free(config_fields, &c);\n    return rc;\n}\n",
          o);
    char rel[512];
    snprintf(rel, sizeof rel, "%s.c", g->name);
    return cz__gen_close(g, o, &buf, &n, rel, 1);
}

static int gen_build(cz__gen_t *g)
{
    char *buf;
    size_t n;
    FILE *o = cz__gen_open(&buf, &n);
    if (!o)
        return CZ_ENOMEM;
    fprintf(o, "# Scaffolded by czctl. Safe to edit.\n# %s: built against an installed czero "
               "(find_package under CZERO_PREFIX).\n"
               "cmake_minimum_required(VERSION 3.20)\nproject(%s LANGUAGES C)\n\n"
               "set(CMAKE_C_STANDARD 11)\nset(CMAKE_C_EXTENSIONS ON)\n"
               "if(NOT CMAKE_BUILD_TYPE)\n  set(CMAKE_BUILD_TYPE RelWithDebInfo)\nendif()\n"
               "set(CZERO_PREFIX \"%s\" CACHE PATH \"where czero is installed\")\n"
               "list(PREPEND CMAKE_PREFIX_PATH \"${CZERO_PREFIX}\")\n"
               "find_package(czero REQUIRED)\n\n"
               "# handlers and logic files appear as the .api grows: glob them\n"
               "file(GLOB_RECURSE SRCS CONFIGURE_DEPENDS "
               "${CMAKE_CURRENT_SOURCE_DIR}/internal/*.c)\n"
               "add_executable(%s %s.c ${SRCS})\n"
               "target_include_directories(%s PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})\n"
               "# warnings are shown, not fatal: -Werror is yours to add\n"
               "target_compile_options(%s PRIVATE -Wall -Wextra)\n"
               "target_link_libraries(%s PRIVATE czero::czero_static m)\n",
            g->name, g->name, g->prefix, g->name, g->name, g->name, g->name, g->name);
    int rc = cz__gen_close(g, o, &buf, &n, "CMakeLists.txt", 1);
    if (rc || !(o = cz__gen_open(&buf, &n)))
        return rc ? rc : CZ_ENOMEM;
    fprintf(o, "# Scaffolded by czctl. Safe to edit.\n"
               "#   make run    build with cmake, then serve with etc/%s.yaml\n"
               "#   make build  only build (into ./build)\n"
               "BUILD ?= build\nJOBS ?= $(shell nproc)\nMAKEFLAGS += --no-print-directory\n\n"
               ".PHONY: build run clean\n\n"
               "build:\n\t@cmake -S . -B $(BUILD) >/dev/null\n"
               "\t@cmake --build $(BUILD) -j $(JOBS)\n\n"
               "run: build\n\t./$(BUILD)/%s -f etc/%s.yaml\n\n"
               "clean:\n\trm -rf $(BUILD)\n",
            g->name, g->name, g->name);
    return cz__gen_close(g, o, &buf, &n, "Makefile", 1);
}

/* ---- commands ---- */

static int flag(const char *arg, const char *name)
{
    if (arg[0] != '-')
        return 0;
    arg += arg[1] == '-' ? 2 : 1;
    return !strcmp(arg, name);
}

static const char *self_prefix(char *buf, size_t len)
{
    const char *env = getenv("CZERO_PREFIX");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *bin = dirname(exe);
        char *pre = dirname(bin);
        static const char *const libs[] = {"lib", "lib64", "lib/x86_64-linux-gnu",
                                           "lib/aarch64-linux-gnu", NULL};
        for (int i = 0; libs[i]; i++) {
            char probe[PATH_MAX + 64];
            snprintf(probe, sizeof probe, "%s/%s/cmake/czero/czeroConfig.cmake", pre, libs[i]);
            if (access(probe, R_OK) == 0) {
                snprintf(buf, len, "%s", pre);
                return buf;
            }
        }
    }
    return "/usr/local";
}

static const char *project_name(cz_arena_t *a, const cz_api_t *api)
{
    for (const cz_api_file_t *f = api->files; f; f = f->next)
        for (const cz_api_stmt_t *s = f->stmts; s; s = s->next)
            if (s->kind == CZ_API_S_SERVICE) {
                const char *nm = s->service->name;
                size_t n = strlen(nm);
                if (n > 4 && !strcmp(nm + n - 4, "-api"))
                    n -= 4;
                return cz__gen_snake_n(a, nm, n);
            }
    return "service";
}

static int generate(const char *file, const char *dir, int quiet)
{
    cz_api_t *api;
    if (cz__gen_load(&api, file))
        return 1;
    char pbuf[PATH_MAX];
    cz_arena_t arena;
    cz_arena_init(&arena, 16384);
    cz__gen_t g = {.api = api, .a = &arena, .dir = dir, .quiet = quiet};
    g.prefix = self_prefix(pbuf, sizeof pbuf);
    g.name = project_name(&arena, api);
    int rc = g.name ? 0 : CZ_ENOMEM;
    if (!rc)
        rc = cz__gen_model(&g);
    if (!rc)
        rc = cz__gen_types(&g);
    if (!rc)
        rc = cz__gen_routes(&g);
    if (!rc)
        rc = cz__gen_config(&g);
    if (!rc)
        rc = gen_svc(&g);
    if (!rc)
        rc = gen_main(&g);
    if (!rc)
        rc = gen_build(&g);
    if (rc)
        fprintf(stderr, "czctl: generating %s into %s: %s\n", file, dir, cz_strerror(rc));
    else if (!quiet)
        printf("Done. Build and run: cd %s && make run\n", dir);
    cz_arena_dispose(&arena);
    cz_api_free(api);
    return rc ? 1 : 0;
}

static const char api_c_usage[] =
    "usage: czctl api c -api FILE [-dir DIR] [-q]\n"
    "Generate the C project of FILE into DIR (default .), or regenerate it: types, routes and\n"
    "handlers are rewritten; logic, middleware, config, main, etc/ and the build files are\n"
    "created only when missing. -q: do not list the files written.\n";

int cz_cmd_api_c(int argc, char **argv)
{
    if (cz__cmd_wants_help(argc, argv))
        return fputs(api_c_usage, stdout), 0;
    const char *file = NULL, *dir = NULL;
    int quiet = 0;
    for (int i = 0; i < argc; i++) {
        if (flag(argv[i], "api") && i + 1 < argc)
            file = argv[++i];
        else if (flag(argv[i], "dir") && i + 1 < argc)
            dir = argv[++i];
        else if (flag(argv[i], "q"))
            quiet = 1;
        else {
            fprintf(stderr, "czctl api c: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fputs(api_c_usage, stderr);
        return 2;
    }
    return generate(file, dir ? dir : ".", quiet);
}

static const char greet_api[] =
    "syntax = \"v1\"\n\n"
    "type Request {\n\tName string `path:\"name,options=you|me\"`\n}\n\n"
    "type Response {\n\tMessage string `json:\"message\"`\n}\n\n"
    "service %s-api {\n\t@handler %sHandler\n\tget /from/:name (Request) returns (Response)\n}\n";

int cz_cmd_api_new(int argc, char **argv)
{
    static const char use[] = "usage: czctl api new NAME\n"
                              "Write NAME/NAME.api (goctl's greet service) and generate its C "
                              "project into NAME/.\n";
    if (cz__cmd_wants_help(argc, argv))
        return fputs(use, stdout), 0;
    if (argc != 1 || argv[0][0] == '-') {
        fputs(use, stderr);
        return 2;
    }
    const char *name = argv[0];
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
            fprintf(stderr, "czctl api new: '%s': use letters, digits, '-' and '_'\n", name);
            return 2;
        }
    if (mkdir(name, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "czctl api new: %s: %s\n", name, strerror(errno));
        return 1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.api", name, name);
    struct stat st;
    if (stat(path, &st) != 0) {
        FILE *f = fopen(path, "wx");
        char handler[256];
        size_t k = 0;
        for (const char *p = name; *p && k + 1 < sizeof handler; p++)
            if (*p != '-' && *p != '_')
                handler[k++] = *p;
        handler[k] = '\0';
        if (!f || fprintf(f, greet_api, name, handler) < 0 || fclose(f) != 0) {
            fprintf(stderr, "czctl api new: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    return generate(path, name, 0);
}
