/* SPDX-License-Identifier: MIT
 *
 * czero-gateway: the API gateway program (go-zero's gateway, nginx's reverse proxy role).
 *
 * Usage: czero-gateway [-f etc/gateway.yaml] [-t] [-h|--help] [-v|--version]
 *   -f  the config: go-zero's RestConf keys, plus Upstreams (clusters of nodes or a discovery
 *       source, with a balancing policy) and Routes (what goes where, with per-route JWT, CORS,
 *       rate limit and body limit); see etc/gateway.yaml
 *   -t  check the config and exit (0 when good; 1 and "file:line:col: key: message" when not)
 * SIGHUP reloads the config without dropping requests; SIGTERM/SIGINT stop gracefully.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gw.h"
#include "gw_reload.h"

#ifndef CZ_VERSION
#define CZ_VERSION "unknown" /* CMake passes the project version */
#endif

/* -h/--help and -v/--version, before getopt (which knows no long options): 0 when neither. */
static int help_or_version(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: %s [-f etc/gateway.yaml] [-t]\n"
                   "  -f  the config: RestConf keys plus Upstreams and Routes (etc/gateway.yaml)\n"
                   "  -t  check the config and exit (0 when good)\n"
                   "  -h, --help  this text;  -v, --version  the czero version\n"
                   "SIGHUP reloads the config; SIGTERM/SIGINT stop gracefully.\n",
                   argv[0]);
            return 1;
        }
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--version")) {
            printf("czero-gateway %s\n", CZ_VERSION);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (help_or_version(argc, argv))
        return 0;
    const char *file = "etc/gateway.yaml";
    bool test_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "f:t")) != -1) {
        if (opt == 'f') {
            file = optarg;
        } else if (opt == 't') {
            test_only = true;
        } else {
            fprintf(stderr, "usage: %s [-f gateway.yaml] [-t]\n", argv[0]);
            return 2;
        }
    }
    gw_conf_t c;
    cz_diag_t d;
    char msg[768];
    if (gw_conf_load(file, &c, &d) != 0) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    if (test_only) {
        printf("czero-gateway: the configuration file %s is ok (%zu upstreams, %zu routes)\n", file,
               c.upstreams.n, c.routes.n);
        gw_conf_free(&c);
        return 0;
    }
    if (cz_log_setup(&c.rest.log, &d) != 0) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        gw_conf_free(&c);
        return 1;
    }
    gw_instance_t *g = gw_instance_start(&c, file, NULL, &d);
    if (!g) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        cz_log_close();
        return 1;
    }
    cz_log_info("czero-gateway serving on port %d from %s", gw_instance_port(g), file);
    int rc = gw_run(file, g);
    cz_log_close();
    return rc ? 1 : 0;
}
