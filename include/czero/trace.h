/* SPDX-License-Identifier: MIT
 *
 * trace.h: distributed tracing (go-zero core/trace + rest/handler/tracehandler.go).
 *
 * Three layers. Span contexts: W3C Trace Context ids, `traceparent` parse/format, fast ids from a
 * per-thread PRNG, and the OpenTelemetry ParentBased(TraceIDRatioBased(Sampler)) decision that
 * go-zero configures. The exporter: finished spans go into a bounded lock-free queue that drops
 * (and counts) when full, and one thread posts them in batches as OTLP/HTTP JSON or Zipkin v2
 * JSON. The request accessors: the trace link of the middleware chain (src/http/mw/trace.c) gives
 * each traced request a server span; these read its ids, e.g. for the access log or for the
 * `traceparent` of a call the handler makes downstream.
 */
#ifndef CZERO_TRACE_H
#define CZERO_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "str.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_req cz_req_t;
typedef struct cz_server cz_server_t;

/* ---- span contexts (src/core/trace/span.c) ---- */

#define CZ_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define CZ_TRACE_FLAG_SAMPLED 0x01

typedef struct cz_span_ctx {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t flags; /* CZ_TRACE_FLAG_SAMPLED */
} cz_span_ctx_t;

/** Parse a W3C `traceparent` header value. Version 00 must be exactly 55 characters; a higher
 *  version may carry more after a '-' (ignored); version ff, upper-case or non-hex digits and
 *  all-zero trace or span ids are invalid. Only the sampled bit of the flags is kept.
 *  Returns 0 or CZ_EPARSE (out untouched). Thread-safe. */
CZ_EXTERN int cz_traceparent_parse(cz_str_t s, cz_span_ctx_t *out);
/** Format c as a version-00 traceparent: writes 55 characters plus a NUL into buf, returns 55. */
CZ_EXTERN size_t cz_traceparent_format(const cz_span_ctx_t *c, char buf[CZ_TRACEPARENT_LEN + 1]);
/** Lower-case hex of n bytes into out (2n characters, no NUL). */
CZ_EXTERN void cz_trace_hex(const uint8_t *bytes, size_t n, char *out);
/** A new random, non-zero trace id / span id. No syscall, lock or allocation: a per-thread
 *  xoshiro256** generator seeded once from getrandom(2). Thread-safe. */
CZ_EXTERN void cz_trace_new_trace_id(uint8_t id[16]);
CZ_EXTERN void cz_trace_new_span_id(uint8_t id[8]);

/* OpenTelemetry's TraceIDRatioBased sampler: samples a new trace when the trace id's last 8
 * bytes, big-endian, shifted right once, are below fraction * 2^63; fraction >= 1 always
 * samples and <= 0 never does (go.opentelemetry.io/otel/sdk/trace/sampling.go). */
typedef struct cz_sampler {
    uint64_t bound;
    bool always, never;
} cz_sampler_t;

/** Set up a sampler for `fraction` (go-zero Telemetry.Sampler, default 1.0). */
CZ_EXTERN void cz_sampler_init(cz_sampler_t *s, double fraction);
/** The decision for a new root trace with this id (a deterministic function of the id). */
CZ_EXTERN bool cz_sampler_sample(const cz_sampler_t *s, const uint8_t trace_id[16]);

/* ---- finished spans and the exporter (src/core/trace/exporter.c) ---- */

#define CZ_SPAN_KIND_SERVER 2 /* OTLP SpanKind SPAN_KIND_SERVER */
#define CZ_SPAN_METHOD_MAX 16
#define CZ_SPAN_TARGET_MAX 200 /* longer request targets are cut */

typedef struct cz_span {
    uint8_t trace_id[16], span_id[8], parent_id[8];
    bool has_parent;
    uint8_t kind;           /* CZ_SPAN_KIND_SERVER */
    const char *name;       /* the route pattern; must outlive the exporter (routes do) */
    uint64_t start_unix_ns; /* wall clock, ns since the Unix epoch */
    uint64_t end_unix_ns;
    int status_code;        /* HTTP status; >= 500 marks the span as an error */
    char method[CZ_SPAN_METHOD_MAX]; /* NUL-terminated, cut */
    char target[CZ_SPAN_TARGET_MAX]; /* NUL-terminated, cut */
} cz_span_t;

typedef enum { CZ_EXPORT_OTLP_HTTP = 0, CZ_EXPORT_ZIPKIN = 1 } cz_export_format_t;

typedef struct cz_exporter_opts {
    /* Collector: "host:port", "http://host:port" or "http://host:port/path" (no https). */
    const char *endpoint;
    /* Path when the endpoint has none: OTLP default "/v1/traces" (go-zero OtlpHttpPath),
     * Zipkin "/api/v2/spans". May be NULL. */
    const char *path;
    cz_export_format_t format;
    const char *service_name; /* resource service.name / Zipkin localEndpoint.serviceName */
    /* 0 = the OpenTelemetry BatchSpanProcessor defaults, which go-zero uses; like the Go SDK,
     * the OTEL_BSP_* / OTEL_EXPORTER_OTLP_TIMEOUT environment variables override them. */
    size_t queue_size;     /* OTEL_BSP_MAX_QUEUE_SIZE, 2048 (rounded up to a power of 2) */
    size_t batch_size;     /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512 */
    uint64_t delay_ms;     /* OTEL_BSP_SCHEDULE_DELAY, 5000: longest a span waits in the queue */
    uint64_t timeout_ms;   /* OTEL_EXPORTER_OTLP_TIMEOUT, 10000: connect + send + status line */
} cz_exporter_opts_t;

typedef struct cz_exporter_stats {
    uint64_t queued;   /* spans accepted by cz_exporter_push */
    uint64_t dropped;  /* spans refused by a full queue, or lost with a failed stop-time post */
    uint64_t exported; /* spans in posts the collector answered 2xx */
    uint64_t failed;   /* spans in posts that failed (connect, timeout, non-2xx) */
    uint64_t posts;    /* POST requests attempted */
} cz_exporter_stats_t;

typedef struct cz_exporter cz_exporter_t;

/** Start an exporter and its thread. Returns 0, CZ_EARG (bad endpoint, https, bad format),
 *  CZ_ENOMEM or -errno from pthread_create. The endpoint's host is resolved at each post. */
CZ_EXTERN int cz_exporter_new(cz_exporter_t **out, const cz_exporter_opts_t *opts);
/** Queue a copy of a finished span. Lock-free, no syscall, no allocation; safe from any number of
 *  threads. Returns 0, or CZ_EFULL when the queue is full (the span is dropped and counted). */
CZ_EXTERN int cz_exporter_push(cz_exporter_t *e, const cz_span_t *span);
/** Block until every span pushed before this call has been posted (or has failed). Not from the
 *  exporter thread. */
CZ_EXTERN void cz_exporter_flush(cz_exporter_t *e);
/** Post what is queued (giving up at the first failed post, counting the rest as dropped) and
 *  stop the thread. Later pushes are dropped. Idempotent. */
CZ_EXTERN void cz_exporter_stop(cz_exporter_t *e);
/** Stop (if not yet) and free. NULL is ignored. */
CZ_EXTERN void cz_exporter_free(cz_exporter_t *e);
/** Counters so far (each read atomically). */
CZ_EXTERN void cz_exporter_stats(const cz_exporter_t *e, cz_exporter_stats_t *out);
/** The JSON body one batch would be posted as, for tests and debugging: malloc'd, NUL-terminated,
 *  caller frees; NULL on allocation failure. */
CZ_EXTERN char *cz_exporter_encode(const cz_exporter_t *e, const cz_span_t *spans, size_t n);

/* ---- the current request's server span (src/http/mw/trace.c) ---- */

/** The request's trace id as 32 hex characters, or an empty view when the request is not traced
 *  (trace link off, a TraceIgnorePaths route, or no route). Valid until the request ends. */
CZ_EXTERN cz_str_t cz_req_trace_id(const cz_req_t *r);
/** The request's server span id as 16 hex characters, or empty (as above). */
CZ_EXTERN cz_str_t cz_req_span_id(const cz_req_t *r);
/** The `traceparent` for a call made on behalf of this request: this trace, this server span as
 *  the parent, this request's sampled flag. Writes 55 characters + NUL and returns 55, or returns
 *  0 (buf[0] = NUL) when the request is not traced. */
CZ_EXTERN size_t cz_req_traceparent(const cz_req_t *r, char buf[CZ_TRACEPARENT_LEN + 1]);
/** The incoming `tracestate` to pass on unchanged, or empty. */
CZ_EXTERN cz_str_t cz_req_tracestate(const cz_req_t *r);
/** The request's span context; 0 or CZ_ENOTFOUND when not traced. */
CZ_EXTERN int cz_req_span_ctx(const cz_req_t *r, cz_span_ctx_t *out);
/** The server's exporter counters; CZ_ENOTFOUND when it exports nothing (no Telemetry.Endpoint
 *  or the trace link is off). Any thread. */
CZ_EXTERN int cz_server_trace_stats(const cz_server_t *s, cz_exporter_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
