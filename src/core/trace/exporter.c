/* SPDX-License-Identifier: MIT
 *
 * exporter.c: batches finished spans off the request path and posts them to a collector as
 * OTLP/HTTP JSON (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) or Zipkin v2
 * JSON (https://zipkin.io/zipkin-api/#/default/post_spans).
 *
 * This is the C shape of the OpenTelemetry BatchSpanProcessor that go-zero installs
 * (core/trace/agent.go: sdktrace.WithBatcher(exp)): a bounded queue that drops and counts rather
 * than blocks, one thread that posts a batch when batch_size spans wait or delay_ms passed, and a
 * final flush on stop. The queue is Vyukov's bounded MPMC array (one CAS per push, a sequence
 * number per cell), so a worker thread pushing a span takes no lock and makes no syscall; the
 * only wake-up is a condition signal once per batch_size spans, and even that can be missed
 * (the thread also wakes every delay_ms).
 *
 * The POST is a plain blocking HTTP/1.1 request on a fresh connection with one deadline for
 * connect, send and the status line; only the status code is read. Not supported: https,
 * OTLP protobuf or gRPC, retries (a failed batch is counted and dropped, as the Go SDK does
 * after its exporter gives up).
 */
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "czero/trace.h"

/* OpenTelemetry SDK BatchSpanProcessor defaults (go.opentelemetry.io/otel/sdk/trace/
 * batch_span_processor.go: DefaultMaxQueueSize 2048, DefaultScheduleDelay 5000 ms,
 * DefaultMaxExportBatchSize 512) and the OTLP exporter's 10 s timeout
 * (otlptracehttp: defaultTimeout = 10 * time.Second). */
#define DEF_QUEUE 2048
#define DEF_BATCH 512
#define DEF_DELAY_MS 5000
#define DEF_TIMEOUT_MS 10000

typedef struct cell {
    _Atomic size_t seq;
    cz_span_t span;
} cell_t;

struct cz_exporter {
    cell_t *cells;
    size_t mask;
    _Atomic size_t enq;
    char pad[64]; /* keep the producers' counter off the consumer's line */
    size_t deq;   /* consumer only */
    _Atomic uint64_t dropped, exported, failed, posts;
    _Atomic bool closed; /* pushes are refused */
    size_t batch;
    uint64_t delay_ms, timeout_ms;
    cz_export_format_t format;
    char *host, *port, *path, *service, *hosthdr;
    pthread_t thread;
    bool started, joined;
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    bool stopping, exited;
    uint64_t flush_req, flush_done;
    cz_span_t *scratch; /* one batch, consumer only */
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t env_size(const char *name, size_t given, size_t def)
{
    if (given)
        return given;
    const char *v = getenv(name);
    if (v && *v) {
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        if (*end == '\0' && x > 0 && x < (1ull << 24))
            return (size_t)x;
    }
    return def;
}

/* "http://host:port/path", "host:port", "[::1]:port" -> parts. */
static int parse_endpoint(cz_exporter_t *e, const char *ep, const char *path)
{
    if (!ep || !*ep)
        return CZ_EARG;
    const char *p = ep;
    const char *scheme = strstr(p, "://");
    if (scheme) {
        if ((size_t)(scheme - p) != 4 || strncasecmp(p, "http", 4) != 0)
            return CZ_EARG; /* https and others: not supported */
        p = scheme + 3;
    }
    const char *slash = strchr(p, '/');
    size_t hp_len = slash ? (size_t)(slash - p) : strlen(p);
    if (!hp_len)
        return CZ_EARG;
    const char *hs = p, *he, *port = NULL;
    size_t port_len = 0;
    if (*p == '[') { /* IPv6 literal */
        const char *rb = memchr(p, ']', hp_len);
        if (!rb)
            return CZ_EARG;
        hs = p + 1;
        he = rb;
        if (rb + 1 < p + hp_len) {
            if (rb[1] != ':')
                return CZ_EARG;
            port = rb + 2;
            port_len = (size_t)(p + hp_len - port);
        }
    } else {
        const char *colon = memchr(p, ':', hp_len);
        he = colon ? colon : p + hp_len;
        if (colon) {
            port = colon + 1;
            port_len = (size_t)(p + hp_len - port);
        }
    }
    if (he == hs || (port && (port_len == 0 || port_len > 5)))
        return CZ_EARG;
    for (size_t i = 0; i < port_len; i++)
        if (port[i] < '0' || port[i] > '9')
            return CZ_EARG;
    e->host = strndup(hs, (size_t)(he - hs));
    e->port = port ? strndup(port, port_len) : strdup("80");
    e->hosthdr = strndup(p, hp_len);
    const char *def = e->format == CZ_EXPORT_ZIPKIN ? "/api/v2/spans" : "/v1/traces";
    e->path = strdup(slash ? slash : (path && *path ? path : def));
    if (!e->host || !e->port || !e->hosthdr || !e->path)
        return CZ_ENOMEM;
    return 0;
}

int cz_exporter_push(cz_exporter_t *e, const cz_span_t *span)
{
    if (atomic_load_explicit(&e->closed, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
        return CZ_EFULL;
    }
    size_t pos = atomic_load_explicit(&e->enq, memory_order_relaxed);
    cell_t *c;
    for (;;) {
        c = &e->cells[pos & e->mask];
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&e->enq, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            atomic_fetch_add_explicit(&e->dropped, 1, memory_order_relaxed);
            return CZ_EFULL;
        } else {
            pos = atomic_load_explicit(&e->enq, memory_order_relaxed);
        }
    }
    c->span = *span;
    atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
    if ((pos + 1) % e->batch == 0) /* a full batch waits: wake the thread (no waiter: no syscall) */
        pthread_cond_signal(&e->cv);
    return 0;
}

static bool pop(cz_exporter_t *e, cz_span_t *out)
{
    cell_t *c = &e->cells[e->deq & e->mask];
    if (atomic_load_explicit(&c->seq, memory_order_acquire) != e->deq + 1)
        return false;
    *out = c->span;
    atomic_store_explicit(&c->seq, e->deq + e->mask + 1, memory_order_release);
    e->deq++;
    return true;
}

/* ---- encoding ---- */

static json_t *hexstr(const uint8_t *b, size_t n)
{
    char buf[33];
    cz_trace_hex(b, n, buf);
    return json_stringn(buf, 2 * n);
}

static json_t *u64str(uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return json_stringn(buf, (size_t)n);
}

static json_t *otlp_attr(const char *key, json_t *value)
{
    return json_pack("{s:s, s:o}", "key", key, "value", value);
}

static json_t *otlp_span(const cz_span_t *s)
{
    json_t *attrs = json_array();
    json_array_append_new(attrs, otlp_attr("http.method", json_pack("{s:s}", "stringValue",
                                                                     s->method)));
    json_array_append_new(attrs, otlp_attr("http.route", json_pack("{s:s}", "stringValue",
                                                                    s->name ? s->name : "")));
    json_array_append_new(attrs, otlp_attr("http.target", json_pack("{s:s}", "stringValue",
                                                                     s->target)));
    json_array_append_new(attrs, otlp_attr("http.status_code",
                                           json_pack("{s:o}", "intValue",
                                                     u64str((uint64_t)s->status_code))));
    json_t *sp = json_object();
    json_object_set_new(sp, "traceId", hexstr(s->trace_id, 16));
    json_object_set_new(sp, "spanId", hexstr(s->span_id, 8));
    if (s->has_parent)
        json_object_set_new(sp, "parentSpanId", hexstr(s->parent_id, 8));
    json_object_set_new(sp, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(sp, "kind", json_integer(s->kind));
    json_object_set_new(sp, "startTimeUnixNano", u64str(s->start_unix_ns));
    json_object_set_new(sp, "endTimeUnixNano", u64str(s->end_unix_ns));
    json_object_set_new(sp, "attributes", attrs);
    /* semconv SpanStatusFromHTTPStatusCodeAndSpanKind: a server span errs on 5xx only;
     * OTLP STATUS_CODE_ERROR = 2, UNSET = 0 */
    json_object_set_new(sp, "status", s->status_code >= 500 ? json_pack("{s:i}", "code", 2)
                                                            : json_object());
    return sp;
}

static json_t *zipkin_span(const cz_span_t *s, const char *service)
{
    json_t *tags = json_object();
    char st[16];
    snprintf(st, sizeof st, "%d", s->status_code);
    json_object_set_new(tags, "http.method", json_string(s->method));
    json_object_set_new(tags, "http.route", json_string(s->name ? s->name : ""));
    json_object_set_new(tags, "http.target", json_string(s->target));
    json_object_set_new(tags, "http.status_code", json_string(st));
    if (s->status_code >= 500) { /* as the Go SDK's zipkin exporter marks an Error status */
        json_object_set_new(tags, "otel.status_code", json_string("ERROR"));
        json_object_set_new(tags, "error", json_string(""));
    }
    uint64_t start_us = s->start_unix_ns / 1000;
    uint64_t end_us = s->end_unix_ns / 1000;
    json_t *sp = json_object();
    json_object_set_new(sp, "traceId", hexstr(s->trace_id, 16));
    json_object_set_new(sp, "id", hexstr(s->span_id, 8));
    if (s->has_parent)
        json_object_set_new(sp, "parentId", hexstr(s->parent_id, 8));
    json_object_set_new(sp, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(sp, "kind", json_string("SERVER"));
    json_object_set_new(sp, "timestamp", json_integer((json_int_t)start_us));
    json_object_set_new(sp, "duration",
                        json_integer((json_int_t)(end_us > start_us ? end_us - start_us : 1)));
    json_object_set_new(sp, "localEndpoint", json_pack("{s:s}", "serviceName", service));
    json_object_set_new(sp, "tags", tags);
    return sp;
}

char *cz_exporter_encode(const cz_exporter_t *e, const cz_span_t *spans, size_t n)
{
    json_t *root;
    if (e->format == CZ_EXPORT_ZIPKIN) {
        root = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(root, zipkin_span(&spans[i], e->service));
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, otlp_span(&spans[i]));
        /* scope name: go-zero's trace.TraceName is "go-zero"; ours names this library */
        root = json_pack(
            "{s:[{s:{s:[{s:s, s:{s:s}}]}, s:[{s:{s:s}, s:o}]}]}", "resourceSpans", "resource",
            "attributes", "key", "service.name", "value", "stringValue", e->service, "scopeSpans",
            "scope", "name", "czero", "spans", arr);
    }
    if (!root)
        return NULL;
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

/* ---- posting ---- */

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline)
            return CZ_ETIMEOUT;
        struct pollfd p = {.fd = fd, .events = ev};
        int rc = poll(&p, 1, (int)(deadline - now));
        if (rc > 0)
            return 0;
        if (rc == 0)
            return CZ_ETIMEOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static int dial(const cz_exporter_t *e, uint64_t deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(e->host, e->port, &hints, &res) != 0)
        return CZ_ENOTFOUND;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            freeaddrinfo(res);
            return fd;
        }
        if (errno == EINPROGRESS && (rc = wait_fd(fd, POLLOUT, deadline)) == 0) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (!err) {
                freeaddrinfo(res);
                return fd;
            }
            rc = -err;
        } else if (errno != EINPROGRESS) {
            rc = -errno;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = wait_fd(fd, POLLOUT, deadline);
            if (rc)
                return rc;
        } else {
            return w < 0 ? -errno : CZ_ECLOSED;
        }
    }
    return 0;
}

/* POST body; returns the HTTP status or a negative error. */
static int post(cz_exporter_t *e, const char *body, size_t len)
{
    uint64_t deadline = mono_ms() + e->timeout_ms;
    int fd = dial(e, deadline);
    if (fd < 0)
        return fd;
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: czero\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      e->path, e->hosthdr, len);
    int rc = hn > 0 && (size_t)hn < sizeof head ? send_all(fd, head, (size_t)hn, deadline)
                                                 : CZ_EARG;
    if (!rc)
        rc = send_all(fd, body, len, deadline);
    /* the status line is all we need: "HTTP/1.1 200 ..." */
    char buf[64];
    size_t got = 0;
    while (!rc && got < 12) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0)
            rc = CZ_ECLOSED;
        else if (errno == EAGAIN || errno == EINTR)
            rc = wait_fd(fd, POLLIN, deadline);
        else
            rc = -errno;
    }
    close(fd);
    if (rc)
        return rc;
    buf[got] = '\0';
    int status;
    if (strncmp(buf, "HTTP/1.", 7) != 0 || sscanf(buf + 8, " %3d", &status) != 1)
        return CZ_EPARSE;
    return status;
}

static bool export_batch(cz_exporter_t *e, size_t n)
{
    atomic_fetch_add_explicit(&e->posts, 1, memory_order_relaxed);
    char *body = cz_exporter_encode(e, e->scratch, n);
    int st = body ? post(e, body, strlen(body)) : CZ_ENOMEM;
    free(body);
    bool ok = st >= 200 && st < 300;
    atomic_fetch_add_explicit(ok ? &e->exported : &e->failed, n, memory_order_relaxed);
    return ok;
}

/* Post everything queued now, batch by batch. On stop, the first failure drops the rest. */
static void drain(cz_exporter_t *e, bool stopping)
{
    for (;;) {
        size_t n = 0;
        while (n < e->batch && pop(e, &e->scratch[n]))
            n++;
        if (!n)
            return;
        if (!export_batch(e, n) && stopping) {
            uint64_t lost = 0;
            while (pop(e, &e->scratch[0]))
                lost++;
            atomic_fetch_add_explicit(&e->dropped, lost, memory_order_relaxed);
            return;
        }
    }
}

static size_t pending(cz_exporter_t *e)
{
    return atomic_load_explicit(&e->enq, memory_order_acquire) - e->deq;
}

static void *run(void *arg)
{
    cz_exporter_t *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        uint64_t deadline = mono_ms() + e->delay_ms;
        while (!e->stopping && e->flush_req == e->flush_done && pending(e) < e->batch) {
            uint64_t now = mono_ms();
            if (now >= deadline)
                break;
            uint64_t ms = deadline - now;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(ms / 1000);
            ts.tv_nsec += (long)(ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        }
        bool stopping = e->stopping;
        uint64_t ticket = e->flush_req;
        pthread_mutex_unlock(&e->mu);
        drain(e, stopping);
        pthread_mutex_lock(&e->mu);
        e->flush_done = ticket;
        if (stopping)
            e->exited = true;
        pthread_cond_broadcast(&e->done_cv);
        pthread_mutex_unlock(&e->mu);
        if (stopping)
            return NULL;
    }
}

int cz_exporter_new(cz_exporter_t **out, const cz_exporter_opts_t *o)
{
    *out = NULL;
    if (!o || (o->format != CZ_EXPORT_OTLP_HTTP && o->format != CZ_EXPORT_ZIPKIN))
        return CZ_EARG;
    cz_exporter_t *e = calloc(1, sizeof *e);
    if (!e)
        return CZ_ENOMEM;
    e->format = o->format;
    int rc = parse_endpoint(e, o->endpoint, o->path);
    size_t q = env_size("OTEL_BSP_MAX_QUEUE_SIZE", o->queue_size, DEF_QUEUE);
    size_t cap = 2;
    while (cap < q)
        cap <<= 1;
    e->mask = cap - 1;
    e->batch = env_size("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", o->batch_size, DEF_BATCH);
    if (e->batch > cap) /* the Go SDK also caps the batch at the queue size */
        e->batch = cap;
    e->delay_ms = env_size("OTEL_BSP_SCHEDULE_DELAY", o->delay_ms, DEF_DELAY_MS);
    e->timeout_ms = env_size("OTEL_EXPORTER_OTLP_TIMEOUT", o->timeout_ms, DEF_TIMEOUT_MS);
    e->service = strdup(o->service_name && *o->service_name ? o->service_name : "czero");
    e->cells = calloc(cap, sizeof *e->cells);
    e->scratch = calloc(e->batch, sizeof *e->scratch);
    if (!rc && (!e->service || !e->cells || !e->scratch))
        rc = CZ_ENOMEM;
    if (rc) {
        cz_exporter_free(e);
        return rc;
    }
    for (size_t i = 0; i < cap; i++)
        atomic_init(&e->cells[i].seq, i);
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_cond_init(&e->done_cv, NULL);
    pthread_condattr_destroy(&ca);
    e->started = true;
    rc = pthread_create(&e->thread, NULL, run, e);
    if (rc) {
        e->started = false;
        e->joined = true;
        cz_exporter_free(e);
        return -rc;
    }
    *out = e;
    return 0;
}

void cz_exporter_flush(cz_exporter_t *e)
{
    pthread_mutex_lock(&e->mu);
    uint64_t ticket = ++e->flush_req;
    pthread_cond_signal(&e->cv);
    while (e->flush_done < ticket && !e->exited)
        pthread_cond_wait(&e->done_cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

void cz_exporter_stop(cz_exporter_t *e)
{
    if (!e || !e->started || e->joined)
        return;
    atomic_store(&e->closed, true);
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    e->joined = true;
    /* a push that raced with `closed` may have landed after the last drain: count it */
    uint64_t late = 0;
    while (pop(e, &e->scratch[0]))
        late++;
    atomic_fetch_add_explicit(&e->dropped, late, memory_order_relaxed);
}

void cz_exporter_free(cz_exporter_t *e)
{
    if (!e)
        return;
    cz_exporter_stop(e);
    if (e->started) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        pthread_cond_destroy(&e->done_cv);
    }
    free(e->cells);
    free(e->scratch);
    free(e->host);
    free(e->port);
    free(e->path);
    free(e->hosthdr);
    free(e->service);
    free(e);
}

void cz_exporter_stats(const cz_exporter_t *e, cz_exporter_stats_t *out)
{
    cz_exporter_t *m = (cz_exporter_t *)e;
    out->queued = atomic_load(&m->enq);
    out->dropped = atomic_load(&m->dropped);
    out->exported = atomic_load(&m->exported);
    out->failed = atomic_load(&m->failed);
    out->posts = atomic_load(&m->posts);
}
