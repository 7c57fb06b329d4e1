/* SPDX-License-Identifier: MIT
 *
 * main.c: czctl, czero's goctl: the command line.
 *
 * Today it reads go-zero .api files: `czctl api validate -api FILE` parses a file with its
 * imports and runs goctl's checks; `czctl api format -api FILE [-w]` prints (or rewrites) the
 * canonical layout; `czctl api format -dir DIR` rewrites every .api file under DIR;
 * `czctl api new NAME` and `czctl api c -api FILE -dir DIR` generate a C project (gen_c*.c);
 * `api openapi` (and goctl's name for it, `api swagger`), `docker` and `kube` live in
 * gen_openapi.c, gen_docker.c, gen_kube.c. Flags take one or two dashes, as goctl's do;
 * `--help` (or -h) after any command prints its usage on stdout and exits 0; `czctl version`
 * (--version) prints the version. Exit codes: 0 success, 1 the input is wrong (a diagnostic on
 * stderr as file:line:col: message), 2 usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "api_ast.h"
#include "cmd.h"
#include "gen_c.h"

#ifndef CZ_VERSION
#define CZ_VERSION "unknown" /* CMake passes the project version */
#endif

static const char api_usage[] =
    "  api validate -api FILE        parse FILE and its imports, check them\n"
    "  api format -api FILE [-w]     print FILE in canonical form (-w: rewrite it)\n"
    "  api format -dir DIR           rewrite every .api file under DIR\n"
    "  api new NAME                  write NAME/NAME.api (goctl's greet) and its project\n"
    "  api c -api FILE [-dir DIR]    generate (or regenerate) the C project of FILE\n"
    "  api openapi -api FILE [-o F]  OpenAPI 3.0.3 of the service (.json or .yaml)\n"
    "  api swagger -api F [-dir D]   the same, with goctl's swagger flags\n";

static void usage(FILE *o)
{
    fprintf(o, "usage: czctl <command> [flags]   (czctl %s)\n\ncommands:\n%s"
               "  docker -go NAME.c|-name NAME  write a multi-stage Dockerfile\n"
               "  kube deploy -name N ...       write Deployment, Service and HPA manifests\n"
               "  version                       print czctl's version\n"
               "\n`czctl <command> --help` shows a command's flags.\n",
            CZ_VERSION, api_usage);
}

static void api_usage_to(FILE *o)
{
    fprintf(o, "usage: czctl api <command> [flags]\n\ncommands:\n%s"
               "\n`czctl api <command> --help` shows a command's flags.\n",
            api_usage);
}

static void report(const cz_diag_t *d)
{
    char buf[800];
    fprintf(stderr, "%s\n", cz_diag_format(d, buf, sizeof buf));
}

static int flag(const char *arg, const char *name)
{
    if (arg[0] != '-')
        return 0;
    arg += arg[1] == '-' ? 2 : 1;
    return !strcmp(arg, name);
}

static char *slurp(const char *path, size_t *len)
{
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
    int bad = ferror(f);
    fclose(f);
    if (!m || fclose(m) != 0 || bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Format path; write the result back (only when it changed) or to stdout. */
static int format_file(const char *path, int in_place)
{
    size_t len;
    char *src = slurp(path, &len);
    if (!src) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    cz_api_t *api;
    cz_diag_t d;
    int rc = cz_api_parse(&api, path, src, len, &d);
    if (rc) {
        free(src);
        report(&d);
        return 1;
    }
    char *out;
    size_t n;
    rc = cz_api_format_string(api->files, &out, &n);
    cz_api_free(api);
    if (rc) {
        free(src);
        fprintf(stderr, "%s: %s\n", path, cz_strerror(rc));
        return 1;
    }
    int ret = 0;
    if (!in_place) {
        fwrite(out, 1, n, stdout);
    } else if (n != len || memcmp(out, src, n)) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.czctl-tmp", path);
        FILE *f = fopen(tmp, "wb");
        if (!f || fwrite(out, 1, n, f) != n || fclose(f) != 0 || rename(tmp, path) != 0) {
            fprintf(stderr, "%s: cannot rewrite: %s\n", path, strerror(errno));
            unlink(tmp);
            ret = 1;
        }
    }
    free(out);
    free(src);
    return ret;
}

static int dir_status;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    if (type == FTW_F && n > 4 && !strcmp(path + n - 4, ".api"))
        dir_status |= format_file(path, 1);
    return 0;
}

static int cmd_api(int argc, char **argv)
{
    if (argc < 1) {
        api_usage_to(stderr);
        return 2;
    }
    const char *sub = argv[0], *file = NULL, *dir = NULL;
    int write = 0;
    if (flag(sub, "h") || flag(sub, "help") || !strcmp(sub, "help")) {
        api_usage_to(stdout);
        return 0;
    }
    if (!strcmp(sub, "openapi"))
        return cz_cmd_openapi(argc - 1, argv + 1);
    if (!strcmp(sub, "swagger"))
        return cz_cmd_swagger(argc - 1, argv + 1);
    if (!strcmp(sub, "new"))
        return cz_cmd_api_new(argc - 1, argv + 1);
    if (!strcmp(sub, "c"))
        return cz_cmd_api_c(argc - 1, argv + 1);
    if (!strcmp(sub, "go")) {
        fputs("czctl api go: czero generates C: czctl api c -api FILE -dir DIR\n", stderr);
        return 2;
    }
    if (strcmp(sub, "validate") && strcmp(sub, "format")) {
        fprintf(stderr, "czctl api: unknown command '%s'\n", sub);
        api_usage_to(stderr);
        return 2;
    }
    if (cz__cmd_wants_help(argc - 1, argv + 1)) {
        fputs(!strcmp(sub, "validate")
                  ? "usage: czctl api validate -api FILE\n"
                    "Parse FILE and its imports and run goctl's checks: 'FILE: ok', or exit 1\n"
                    "with file:line:col: message.\n"
                  : "usage: czctl api format -api FILE [-w] | -dir DIR\n"
                    "Print FILE in canonical form (-w: rewrite it in place), or rewrite every\n"
                    ".api file under DIR.\n",
              stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], "api") && i + 1 < argc) {
            file = argv[++i];
        } else if (flag(argv[i], "dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (flag(argv[i], "w")) {
            write = 1;
        } else {
            fprintf(stderr, "czctl api %s: unexpected argument '%s'\n", sub, argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!strcmp(sub, "validate")) {
        if (!file || dir || write) {
            usage(stderr);
            return 2;
        }
        cz_api_t *api;
        cz_diag_t d;
        if (cz_api_load(&api, file, &d)) {
            report(&d);
            return 1;
        }
        cz_api_free(api);
        printf("%s: ok\n", file);
        return 0;
    }
    if (!file == !dir) {
        usage(stderr);
        return 2;
    }
    if (file)
        return format_file(file, write);
    dir_status = 0;
    if (nftw(dir, visit, 16, FTW_PHYS) != 0) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return 1;
    }
    return dir_status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (flag(cmd, "h") || flag(cmd, "help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (flag(cmd, "v") || flag(cmd, "version") || !strcmp(cmd, "version")) {
        printf("czctl %s\n", CZ_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "api"))
        return cmd_api(argc - 2, argv + 2);
    if (!strcmp(cmd, "docker"))
        return cz_cmd_docker(argc - 2, argv + 2);
    if (!strcmp(cmd, "kube"))
        return cz_cmd_kube(argc - 2, argv + 2);
    if (!strcmp(cmd, "rpc") || !strcmp(cmd, "model")) {
        fprintf(stderr, "czctl %s: not implemented yet\n", cmd);
        return 2;
    }
    fprintf(stderr, "czctl: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
