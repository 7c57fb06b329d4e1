/* SPDX-License-Identifier: MIT
 *
 * gw_reload.c: the gateway process's main loop: SIGHUP swaps the configuration, SIGTERM/SIGINT
 * stop gracefully.
 *
 * A reload loads and checks the file again; a bad file is logged (file:line:col: key: message)
 * and the running instance keeps serving. A good one is started as a second server on the same
 * port (every listener has SO_REUSEPORT, so both accept for a moment), then the old instance is
 * shut down: it stops accepting, finishes its in-flight requests and is freed on a libuv work
 * thread, since waiting for its workers blocks. Log settings are read once at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "gw_reload.h"

typedef struct proc {
    uv_loop_t *loop;
    const char *file;
    gw_instance_t *cur;
    uv_signal_t hup, term, intr;
    bool stopping;
    unsigned reloads;
} proc_t;

typedef struct retire {
    uv_work_t work;
    gw_instance_t *g;
} retire_t;

static void retire_work(uv_work_t *w) { gw_instance_free(((retire_t *)w->data)->g); }

static void retire_done(uv_work_t *w, int status)
{
    (void)status;
    free(w->data);
}

/* Shut g down now and free it off the loop once its in-flight requests are done. */
static void retire(proc_t *p, gw_instance_t *g)
{
    gw_instance_shutdown(g);
    retire_t *r = malloc(sizeof *r);
    if (!r) { /* no memory for the work item: wait here rather than leak a running server */
        gw_instance_free(g);
        return;
    }
    r->g = g;
    r->work.data = r;
    uv_queue_work(p->loop, &r->work, retire_work, retire_done);
}

static void on_hup(uv_signal_t *s, int sig)
{
    proc_t *p = s->data;
    (void)sig;
    if (p->stopping)
        return;
    gw_conf_t c;
    cz_diag_t d;
    char msg[768];
    if (gw_conf_load(p->file, &c, &d) != 0) {
        cz_log_error("reload refused, the old configuration keeps serving: %s",
                     cz_diag_format(&d, msg, sizeof msg));
        return;
    }
    gw_instance_t *g = gw_instance_start(&c, p->file, &d);
    if (!g) {
        cz_log_error("reload refused, the old configuration keeps serving: %s",
                     cz_diag_format(&d, msg, sizeof msg));
        return;
    }
    gw_instance_t *old = p->cur;
    p->cur = g;
    p->reloads++;
    retire(p, old);
    cz_log_info("reloaded %s (reload %u): serving on port %d", p->file, p->reloads,
                gw_instance_port(g));
}

static void on_stop(uv_signal_t *s, int sig)
{
    proc_t *p = s->data;
    if (p->stopping)
        return;
    p->stopping = true;
    cz_log_info("signal %d: shutting down", sig);
    retire(p, p->cur);
    p->cur = NULL;
    uv_close((uv_handle_t *)&p->hup, NULL);
    uv_close((uv_handle_t *)&p->term, NULL);
    uv_close((uv_handle_t *)&p->intr, NULL);
}

int gw_run(const char *file, gw_instance_t *first)
{
    proc_t p = {.loop = uv_default_loop(), .file = file, .cur = first};
    uv_signal_init(p.loop, &p.hup);
    uv_signal_init(p.loop, &p.term);
    uv_signal_init(p.loop, &p.intr);
    p.hup.data = p.term.data = p.intr.data = &p;
    uv_signal_start(&p.hup, on_hup, SIGHUP);
    uv_signal_start(&p.term, on_stop, SIGTERM);
    uv_signal_start(&p.intr, on_stop, SIGINT);
    int rc = uv_run(p.loop, UV_RUN_DEFAULT);
    uv_loop_close(p.loop);
    return rc < 0 ? rc : 0;
}
