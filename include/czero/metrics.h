/* SPDX-License-Identifier: MIT
 *
 * metrics.h: a small Prometheus registry (go-zero core/metric + core/prometheus) and its text
 * exposition format 0.0.4.
 *
 * A registry holds metric families (counter, gauge, histogram) with a fixed list of label names;
 * each distinct tuple of label values is one series, created on first use. Hot paths are not
 * meant to call into the registry (it takes a mutex): the HTTP links keep their own per-thread
 * counters and copy the sums in from a collector, a callback the registry runs at the start of
 * every scrape (cz_metrics_write). Gauge functions are the simple case of that: a series whose
 * value is fn(ud), evaluated at scrape time (breakers, shedders, limiters).
 *
 * The output is the text format Prometheus scrapes and `promtool check metrics` accepts:
 * "# HELP" and "# TYPE" lines per family, label values escaped (\\, \", \n), histograms as
 * cumulative name_bucket{le="..."} series ending with le="+Inf", then name_sum and name_count.
 * Families come out in registration order, series in creation order.
 * All functions are thread-safe.
 */
#ifndef CZERO_METRICS_H
#define CZERO_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cz_metrics cz_metrics_t; /* a registry */
typedef struct cz_metric cz_metric_t;   /* one family, owned by its registry */

typedef enum { CZ_METRIC_COUNTER, CZ_METRIC_GAUGE, CZ_METRIC_HISTOGRAM } cz_metric_type_t;

/** go-zero's HTTP server histogram buckets in ms (rest/handler/prometheushandler.go). */
#define CZ_METRICS_HTTP_BUCKETS {5, 10, 25, 50, 100, 250, 500, 750, 1000}

/** Create an empty registry into *out. 0, CZ_EARG or CZ_ENOMEM. */
CZ_EXTERN int cz_metrics_new(cz_metrics_t **out);
/** Free m and its families (NULL is ignored). No other thread may use m or its families. */
CZ_EXTERN void cz_metrics_free(cz_metrics_t *m);
/** The process-wide registry (go-zero's global prometheus registry): breakers register here, and
 *  so can limiters and any user code; every czero metrics listener exposes it. Never free it. */
CZ_EXTERN cz_metrics_t *cz_metrics_default(void);

/** Register a family, or return the existing one when name, type, label names (and buckets)
 *  match. name: [a-zA-Z_:][a-zA-Z0-9_:]*; labels: [a-zA-Z_][a-zA-Z0-9_]*, no leading "__", no
 *  "le" on a histogram. help and labels are copied. bounds (histograms only) are the upper
 *  bounds, strictly increasing, without +Inf (it is implicit). *out (may be NULL) receives the
 *  family, valid until the registry is freed or the family removed. 0, CZ_EARG (bad name, label
 *  or bounds), CZ_EDUPLICATE (the name exists with another shape) or CZ_ENOMEM. */
CZ_EXTERN int cz_metrics_counter(cz_metrics_t *m, const char *name, const char *help,
                                 const char *const *labels, size_t nlabels, cz_metric_t **out);
CZ_EXTERN int cz_metrics_gauge(cz_metrics_t *m, const char *name, const char *help,
                               const char *const *labels, size_t nlabels, cz_metric_t **out);
CZ_EXTERN int cz_metrics_histogram(cz_metrics_t *m, const char *name, const char *help,
                                   const char *const *labels, size_t nlabels,
                                   const double *bounds, size_t nbounds, cz_metric_t **out);
/** Remove the family named name with all its series and gauge functions. 0 or CZ_ENOTFOUND. */
CZ_EXTERN int cz_metrics_remove(cz_metrics_t *m, const char *name);

/** Add v to the series with these label values (nlabels strings, copied on first use):
 *  counters take v >= 0 (else CZ_EARG), gauges any v. 0, CZ_EARG or CZ_ENOMEM. */
CZ_EXTERN int cz_metric_add(cz_metric_t *f, const char *const *values, double v);
/** Set the series' value: gauges, and counters mirrored from elsewhere by a collector (the
 *  caller keeps it monotonic). CZ_EARG on a histogram. */
CZ_EXTERN int cz_metric_set(cz_metric_t *f, const char *const *values, double v);
/** Record one observation v in a histogram series. CZ_EARG on other types. */
CZ_EXTERN int cz_metric_observe(cz_metric_t *f, const char *const *values, double v);
/** Replace a histogram series' state: counts[0..nbounds] are per-bucket (not cumulative) counts,
 *  the last one for "> last bound"; sum is the sum of observations. For collectors. */
CZ_EXTERN int cz_metric_histogram_set(cz_metric_t *f, const char *const *values,
                                      const uint64_t *counts, double sum);

/** A gauge series whose value is fn(ud), called at every scrape with the registry locked (fn
 *  must not call into this registry). The family is made as by cz_metrics_gauge. 0, CZ_EARG,
 *  CZ_EDUPLICATE (the series exists) or CZ_ENOMEM. Remove with cz_metrics_remove_func. */
CZ_EXTERN int cz_metrics_gauge_func(cz_metrics_t *m, const char *name, const char *help,
                                    const char *const *labels, const char *const *values,
                                    size_t nlabels, double (*fn)(void *ud), void *ud);
/** Remove every gauge-function series registered with this fn and ud (families stay).
 *  Returns how many were removed. */
CZ_EXTERN size_t cz_metrics_remove_func(cz_metrics_t *m, double (*fn)(void *ud), void *ud);

/** For limiters (the gateway's, say): the gauge czero_limiter_<what>{limiter="<limiter>"} in
 *  cz_metrics_default(), read as fn(ud) at every scrape, e.g. what = "local_keys" with a fn
 *  returning cz_limiter_local_keys(), or "limited_total"-like values a caller counts itself.
 *  what follows the metric-name rules. Same returns as cz_metrics_gauge_func; unregister with
 *  cz_metrics_remove_func(cz_metrics_default(), fn, ud) before ud goes away. */
CZ_EXTERN int cz_metrics_limiter_gauge(const char *limiter, const char *what, const char *help,
                                       double (*fn)(void *ud), void *ud);

/** A collector: called at the start of every cz_metrics_write, without the registry's lock, so
 *  it may register families and set series. Scrapes are serialised, so it never runs twice at
 *  once. 0 or CZ_ENOMEM. */
typedef void (*cz_metrics_collect_fn)(cz_metrics_t *m, void *ud);
CZ_EXTERN int cz_metrics_collector_add(cz_metrics_t *m, cz_metrics_collect_fn fn, void *ud);
/** Remove the collector (fn, ud); waits for a scrape in progress. 0 or CZ_ENOTFOUND. */
CZ_EXTERN int cz_metrics_collector_remove(cz_metrics_t *m, cz_metrics_collect_fn fn, void *ud);

/** Run the collectors, then render every family as text format 0.0.4 into a malloc'd,
 *  NUL-terminated buffer *out (free() it) of *len bytes (len may be NULL). 0 or CZ_ENOMEM. */
CZ_EXTERN int cz_metrics_write(cz_metrics_t *m, char **out, size_t *len);
/** The Content-Type of that text. */
#define CZ_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#ifdef __cplusplus
}
#endif
#endif
