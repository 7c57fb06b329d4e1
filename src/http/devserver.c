/* SPDX-License-Identifier: MIT
 *
 * devserver.c: the metrics/health listener (go-zero internal/devserver and the core/prometheus
 * agent), made of czero itself.
 *
 * It is a second cz_server_t with one worker and every middleware off, so scraping and health
 * checks neither show up in the service's own metrics nor queue behind its requests: GET
 * MetricsPath answers the text exposition of the service's registry followed by the process
 * registry (breakers, limiters); GET HealthPath answers "OK" (go-zero's default
 * HealthResponse). A dev listener that cannot listen fails the service's start-up, as its main
 * listener does (a port another process holds is refused: listen.c); it never shares its port
 * with another process, ReusePort or not. It is not a pprof server. The Prometheus link
 * starts it while the service's chain is built, so it runs its server through the API server.c
 * registered on the service (cz__server_api_t), not by calling up into server.c.
 */
#include <stdlib.h>
#include <string.h>
#include "mw/metrics_int.h"
#include "czero/log.h"

struct cz__devserver {
    const cz__server_api_t *api; /* the server API, as server.c registered it */
    cz_rest_conf_t conf;
    cz_server_t *srv;
    cz_metrics_t *reg;
};

static int metrics_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req;
    cz__devserver_t *d = ud;
    cz_metrics_t *regs[] = {d->reg, cz_metrics_default()};
    cz_res_header(res, "Content-Type", CZ_METRICS_CONTENT_TYPE);
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        char *text = NULL;
        size_t len = 0;
        if (!regs[i])
            continue;
        if (cz_metrics_write(regs[i], &text, &len) != 0) {
            cz_res_error(res, 500, "out of memory");
            return CZ_DONE;
        }
        cz_res_write(res, text, len);
        free(text);
    }
    return CZ_DONE;
}

static int health_handler(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)req, (void)ud;
    cz_res_header(res, "Content-Type", "text/plain; charset=utf-8");
    cz_res_write(res, "OK", 2);
    return CZ_DONE;
}

static int set_str(char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
    return *field ? 0 : CZ_ENOMEM;
}

int cz__devserver_start(const cz__server_api_t *api, const char *host, int port,
                        const char *metrics_path, const char *health_path, cz_metrics_t *reg,
                        cz__devserver_t **out)
{
    cz__devserver_t *d = calloc(1, sizeof *d);
    if (!d)
        return CZ_ENOMEM;
    d->api = api;
    d->reg = reg;
    cz_diag_t diag = {0};
    int rc = cz_conf_defaults(cz_rest_conf_fields, &d->conf, &diag);
    if (rc == 0)
        rc = set_str(&d->conf.name, "devserver");
    if (rc == 0)
        rc = set_str(&d->conf.host, host && *host ? host : "0.0.0.0");
    if (rc) {
        cz__devserver_free(d);
        return rc;
    }
    d->conf.port = port;
    d->conf.workers = 1;
    memset(&d->conf.middlewares, 0, sizeof d->conf.middlewares);
    d->srv = api->create(&d->conf, &diag);
    if (!d->srv) {
        cz__devserver_free(d);
        return CZ_EARG;
    }
    cz_route_t routes[2];
    size_t n = 0;
    if (metrics_path && *metrics_path)
        routes[n++] = (cz_route_t){"GET", metrics_path, metrics_handler, d, 0};
    if (health_path && *health_path)
        routes[n++] = (cz_route_t){"GET", health_path, health_handler, d, 0};
    rc = api->add_routes(d->srv, routes, n, NULL, &diag);
    if (rc)
        cz_log_error("dev server %s:%d: %s", d->conf.host, port, diag.msg);
    else /* logs why it failed: "listen on HOST:PORT: address already in use" */
        rc = api->start(d->srv);
    if (rc) {
        cz__devserver_free(d);
        return rc;
    }
    cz_log_info("Starting dev http server at %s:%d", d->conf.host, api->port(d->srv));
    *out = d;
    return 0;
}

void cz__devserver_stop(cz__devserver_t *d)
{
    if (d && d->srv)
        d->api->shutdown(d->srv);
}

void cz__devserver_free(cz__devserver_t *d)
{
    if (!d)
        return;
    if (d->srv) {
        d->api->shutdown(d->srv);
        d->api->wait(d->srv);
        d->api->destroy(d->srv);
    }
    cz_conf_free(cz_rest_conf_fields, &d->conf);
    free(d);
}

int cz__devserver_port(const cz__devserver_t *d)
{
    return d && d->srv ? d->api->port(d->srv) : 0;
}

int cz_server_dev_port(const cz_server_t *s) { return s ? cz__devserver_port(s->dev) : 0; }
