/* SPDX-License-Identifier: MIT
 *
 * gw_reload.c: the gateway process's main loop: SIGHUP swaps the configuration, SIGTERM/SIGINT
 * stop gracefully.
 *
 * A reload loads and checks the file again; a bad file is logged (file:line:col: key: message)
 * and the running instance keeps serving. A good one is started as a second server on the
 * old one's listening sockets (duplicated, as nginx's new workers inherit them), then the old
 * one stops accepting, which closes only its descriptors: a connection queued in a socket's
 * accept queue at that instant is accepted by the new server, where closing the socket would
 * have reset it. The old one drains: its answers close their connections (gw_drain.c) until it
 * holds none, or DRAIN_MAX_MS passed. Only then is it shut down (it finishes in-flight
 * requests, closes what is idle) and freed on a libuv work thread, since waiting for its
 * workers blocks. Closing idle keep-alive connections straight away would reset clients whose
 * next request is on the wire. With fewer Workers than before, the sockets beyond the new count
 * are closed with the old server (their queue at that instant is reset); a new Host or Port
 * binds new sockets.
 * The Log section is applied on reload too (cz_log_setup reconfigures in place, reopening the
 * files, so SIGHUP after an external logrotate also moves the logs to new files); a new
 * instance that cannot start puts the old Log settings back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "gw_reload.h"

#define DRAIN_POLL_MS 10
#define DRAIN_MAX_MS 2000

typedef struct drain {
    uv_timer_t timer;
    struct proc *p;
    gw_instance_t *g;
    uint64_t deadline;
    struct drain *next;
} drain_t;

typedef struct proc {
    uv_loop_t *loop;
    const char *file;
    gw_instance_t *cur;
    uv_signal_t hup, term, intr;
    bool stopping;
    unsigned reloads;
    drain_t *draining;
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

static void drain_closed(uv_handle_t *h) { free(h->data); }

static void drain_end(drain_t *dr)
{
    for (drain_t **pp = &dr->p->draining; *pp; pp = &(*pp)->next)
        if (*pp == dr) {
            *pp = dr->next;
            break;
        }
    retire(dr->p, dr->g);
    uv_close((uv_handle_t *)&dr->timer, drain_closed);
}

static void drain_tick(uv_timer_t *t)
{
    drain_t *dr = t->data;
    if (gw_instance_connections(dr->g) == 0 || uv_now(t->loop) >= dr->deadline)
        drain_end(dr);
}

/* Let g's clients move to the new instance, then retire it (see the file comment). */
static void drain(proc_t *p, gw_instance_t *g)
{
    drain_t *dr = calloc(1, sizeof *dr);
    if (!dr) {
        retire(p, g);
        return;
    }
    gw_instance_drain(g);
    dr->p = p;
    dr->g = g;
    dr->deadline = uv_now(p->loop) + DRAIN_MAX_MS;
    dr->timer.data = dr;
    dr->next = p->draining;
    p->draining = dr;
    uv_timer_init(p->loop, &dr->timer);
    uv_timer_start(&dr->timer, drain_tick, DRAIN_POLL_MS, DRAIN_POLL_MS);
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
    if (cz_log_setup(&c.rest.log, &d) != 0) {
        gw_conf_free(&c);
        cz_log_error("reload refused, the old configuration keeps serving: %s: %s", p->file,
                     cz_diag_format(&d, msg, sizeof msg));
        return;
    }
    gw_instance_t *g = gw_instance_start(&c, p->file, p->cur, &d);
    if (!g) {
        (void)cz_log_setup(&gw_instance_conf(p->cur)->rest.log, NULL);
        cz_log_error("reload refused, the old configuration keeps serving: %s",
                     cz_diag_format(&d, msg, sizeof msg));
        return;
    }
    gw_instance_t *old = p->cur;
    p->cur = g;
    p->reloads++;
    drain(p, old);
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
    while (p->draining) /* stopping: no new instance to move to */
        drain_end(p->draining);
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
