/* SPDX-License-Identifier: MIT
 *
 * gw_main.c: czero-gateway, the API gateway program (go-zero's gateway, nginx's reverse proxy
 * role).
 *
 * Usage: czero-gateway [-f etc/gateway.yaml] [-t | -s reload|stop] [-h|--help] [-v|--version]
 *   -f  the config: go-zero's RestConf keys, plus Upstreams (clusters of nodes or a discovery
 *       source, with a balancing policy), Routes (what goes where, with per-route JWT, CORS,
 *       rate limit and body limit) and PidFile; see etc/gateway.yaml
 *   -t  check the config and exit (0 when good; 1 and "file:line:col: key: message" when not)
 *   -s  signal the gateway this config started (its PidFile), as nginx -s: reload (SIGHUP) or
 *       stop (SIGTERM)
 * SIGHUP reloads the config without dropping requests; SIGTERM/SIGINT stop gracefully. The
 * running gateway writes its pid to PidFile and removes the file when it exits.
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
            printf("usage: %s [-f etc/gateway.yaml] [-t | -s reload|stop]\n"
                   "  -f  the config: RestConf keys plus Upstreams, Routes and PidFile (etc/gateway.yaml)\n"
                   "  -t  check the config and exit (0 when good)\n"
                   "  -s  signal the gateway this config started (its PidFile): reload or stop\n"
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
    const char *file = "etc/gateway.yaml", *sig = NULL;
    bool test_only = false;
    int opt;
    while ((opt = getopt(argc, argv, "f:ts:")) != -1) {
        if (opt == 'f') {
            file = optarg;
        } else if (opt == 't') {
            test_only = true;
        } else if (opt == 's') {
            sig = optarg;
        } else {
            opt = '?';
            break;
        }
    }
    if (opt == '?' || optind < argc || (sig && test_only)) {
        fprintf(stderr, "usage: %s [-f gateway.yaml] [-t | -s reload|stop]\n", argv[0]);
        return 2;
    }
    gw_conf_t c;
    cz_diag_t d;
    char msg[768];
    if (gw_conf_load(file, &c, &d) != 0) {
        fprintf(stderr, "config error: %s\n", cz_diag_format(&d, msg, sizeof msg));
        return 1;
    }
    char pid_path[1024];
    if (gw_pid_path(&c, pid_path, sizeof pid_path) != 0) {
        fprintf(stderr, "config error: %s: PidFile: longer than %zu bytes\n", file,
                sizeof pid_path - 1);
        gw_conf_free(&c);
        return 1;
    }
    if (sig) { /* nginx -s: the config names the pid file of the gateway to signal */
        gw_conf_free(&c);
        return gw_pid_signal(pid_path, sig);
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
    if (!g) { /* a diagnostic without a file is about the machine (a busy port), not the file */
        fprintf(stderr, "%s: %s\n", d.file[0] ? "config error" : "czero-gateway",
                cz_diag_format(&d, msg, sizeof msg));
        cz_log_close();
        return 1;
    }
    int prc = gw_pid_write(pid_path);
    if (prc != 0) { /* as nginx: a gateway -s cannot reach is not started */
        cz_log_error("pid file %s: %s", pid_path, cz_strerror(prc));
        gw_instance_free(g);
        cz_log_close();
        return 1;
    }
    cz_log_info("czero-gateway serving on port %d from %s (pid %ld in %s)", gw_instance_port(g),
                file, (long)getpid(), pid_path);
    int rc = gw_run(file, g);
    gw_pid_remove(pid_path);
    cz_log_close();
    return rc ? 1 : 0;
}
