/* SPDX-License-Identifier: MIT
 *
 * metrics.c: the metrics registry and the Prometheus text exposition (format 0.0.4).
 *
 * Deliberately simple: families in an array, series in an array per family found by a linear
 * compare of their label values, one mutex for all of it. That is fine because nothing on a
 * request path calls in here: the HTTP links count per worker thread and a collector copies the
 * sums in when a scrape starts. A second mutex serialises scrapes so collectors never overlap.
 * No HTTP here (core/).
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "czero/metrics.h"

typedef struct series {
    char **values;
    double value;       /* counter, gauge */
    uint64_t *counts;   /* histogram: nbounds + 1 per-bucket counts */
    double sum;
    double (*fn)(void *ud); /* gauge function, or NULL */
    void *ud;
} series_t;

struct cz_metric {
    cz_metrics_t *m;
    char *name, *help;
    cz_metric_type_t type;
    char **labels;
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    series_t *series;
    size_t nseries, cap;
};

typedef struct collector {
    cz_metrics_collect_fn fn;
    void *ud;
} collector_t;

struct cz_metrics {
    pthread_mutex_t mu;        /* families and values */
    pthread_mutex_t scrape_mu; /* one scrape (and its collectors) at a time */
    cz_metric_t **fams;
    size_t nfams, cap;
    collector_t *cols;
    size_t ncols, ccap;
};

/* ---- names ---- */

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

static void free_strv(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char **dup_strv(const char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = strdup(v[i] ? v[i] : ""))) {
            free_strv(out, i);
            return NULL;
        }
    }
    return out;
}

static void family_free(cz_metric_t *f)
{
    for (size_t i = 0; i < f->nseries; i++) {
        free_strv(f->series[i].values, f->nlabels);
        free(f->series[i].counts);
    }
    free(f->series);
    free_strv(f->labels, f->nlabels);
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

int cz_metrics_new(cz_metrics_t **out)
{
    if (!out)
        return CZ_EARG;
    cz_metrics_t *m = calloc(1, sizeof *m);
    if (!m)
        return CZ_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->scrape_mu, NULL);
    *out = m;
    return 0;
}

void cz_metrics_free(cz_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    free(m->cols);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->scrape_mu);
    free(m);
}

static cz_metrics_t *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static void default_make(void) { cz_metrics_new(&default_registry); }

cz_metrics_t *cz_metrics_default(void)
{
    pthread_once(&default_once, default_make);
    return default_registry;
}

/* ---- families ---- */

static cz_metric_t *find_family(cz_metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->nfams; i++)
        if (strcmp(m->fams[i]->name, name) == 0)
            return m->fams[i];
    return NULL;
}

static bool same_shape(const cz_metric_t *f, cz_metric_type_t type, const char *const *labels,
                       size_t nlabels, const double *bounds, size_t nbounds)
{
    if (f->type != type || f->nlabels != nlabels || f->nbounds != nbounds)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labels[i], labels[i]) != 0)
            return false;
    for (size_t i = 0; i < nbounds; i++)
        if (f->bounds[i] != bounds[i])
            return false;
    return true;
}

static int check_shape(const char *name, cz_metric_type_t type, const char *const *labels,
                       size_t nlabels, const double *bounds, size_t nbounds)
{
    if (!valid_name(name, true) || (nlabels && !labels))
        return CZ_EARG;
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_name(labels[i], false) || strncmp(labels[i], "__", 2) == 0)
            return CZ_EARG;
        if (type == CZ_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)
            return CZ_EARG;
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[i], labels[j]) == 0)
                return CZ_EARG;
    }
    if (type == CZ_METRIC_HISTOGRAM) {
        if (nbounds && !bounds)
            return CZ_EARG;
        for (size_t i = 0; i < nbounds; i++)
            if (isnan(bounds[i]) || isinf(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                return CZ_EARG;
    } else if (nbounds) {
        return CZ_EARG;
    }
    return 0;
}

/* With m->mu held. */
static int family_get(cz_metrics_t *m, const char *name, const char *help, cz_metric_type_t type,
                      const char *const *labels, size_t nlabels, const double *bounds,
                      size_t nbounds, cz_metric_t **out)
{
    int rc = check_shape(name, type, labels, nlabels, bounds, nbounds);
    if (rc)
        return rc;
    cz_metric_t *f = find_family(m, name);
    if (f) {
        if (!same_shape(f, type, labels, nlabels, bounds, nbounds))
            return CZ_EDUPLICATE;
        *out = f;
        return 0;
    }
    if (m->nfams == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        cz_metric_t **nf = realloc(m->fams, cap * sizeof *nf);
        if (!nf)
            return CZ_ENOMEM;
        m->fams = nf;
        m->cap = cap;
    }
    f = calloc(1, sizeof *f);
    if (!f)
        return CZ_ENOMEM;
    f->m = m;
    f->type = type;
    f->nlabels = nlabels;
    f->nbounds = nbounds;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->labels = dup_strv(labels, nlabels);
    if (nbounds && (f->bounds = malloc(nbounds * sizeof *bounds)))
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    if (!f->name || !f->help || !f->labels || (nbounds && !f->bounds)) {
        family_free(f);
        return CZ_ENOMEM;
    }
    m->fams[m->nfams++] = f;
    *out = f;
    return 0;
}

static int register_family(cz_metrics_t *m, const char *name, const char *help,
                           cz_metric_type_t type, const char *const *labels, size_t nlabels,
                           const double *bounds, size_t nbounds, cz_metric_t **out)
{
    if (!m)
        return CZ_EARG;
    cz_metric_t *f = NULL;
    pthread_mutex_lock(&m->mu);
    int rc = family_get(m, name, help, type, labels, nlabels, bounds, nbounds, &f);
    pthread_mutex_unlock(&m->mu);
    if (out)
        *out = rc ? NULL : f;
    return rc;
}

int cz_metrics_counter(cz_metrics_t *m, const char *name, const char *help,
                       const char *const *labels, size_t nlabels, cz_metric_t **out)
{
    return register_family(m, name, help, CZ_METRIC_COUNTER, labels, nlabels, NULL, 0, out);
}

int cz_metrics_gauge(cz_metrics_t *m, const char *name, const char *help,
                     const char *const *labels, size_t nlabels, cz_metric_t **out)
{
    return register_family(m, name, help, CZ_METRIC_GAUGE, labels, nlabels, NULL, 0, out);
}

int cz_metrics_histogram(cz_metrics_t *m, const char *name, const char *help,
                         const char *const *labels, size_t nlabels, const double *bounds,
                         size_t nbounds, cz_metric_t **out)
{
    return register_family(m, name, help, CZ_METRIC_HISTOGRAM, labels, nlabels, bounds, nbounds,
                           out);
}

int cz_metrics_remove(cz_metrics_t *m, const char *name)
{
    if (!m || !name)
        return CZ_EARG;
    int rc = CZ_ENOTFOUND;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nfams; i++) {
        if (strcmp(m->fams[i]->name, name) == 0) {
            family_free(m->fams[i]);
            memmove(&m->fams[i], &m->fams[i + 1], (m->nfams - i - 1) * sizeof *m->fams);
            m->nfams--;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- series ---- */

/* With the registry locked: the series with these values, made on first use. */
static series_t *series_get(cz_metric_t *f, const char *const *values, bool create)
{
    for (size_t i = 0; i < f->nseries; i++) {
        series_t *s = &f->series[i];
        size_t j = 0;
        while (j < f->nlabels && strcmp(s->values[j], values[j] ? values[j] : "") == 0)
            j++;
        if (j == f->nlabels)
            return s;
    }
    if (!create)
        return NULL;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        series_t *ns = realloc(f->series, cap * sizeof *ns);
        if (!ns)
            return NULL;
        f->series = ns;
        f->cap = cap;
    }
    series_t *s = &f->series[f->nseries];
    memset(s, 0, sizeof *s);
    if (!(s->values = dup_strv(values, f->nlabels)))
        return NULL;
    if (f->type == CZ_METRIC_HISTOGRAM &&
        !(s->counts = calloc(f->nbounds + 1, sizeof *s->counts))) {
        free_strv(s->values, f->nlabels);
        return NULL;
    }
    f->nseries++;
    return s;
}

typedef enum { OP_ADD, OP_SET, OP_OBSERVE } op_t;

static int series_op(cz_metric_t *f, const char *const *values, op_t op, double v)
{
    if (!f || (f->nlabels && !values))
        return CZ_EARG;
    bool hist = f->type == CZ_METRIC_HISTOGRAM;
    if ((op == OP_OBSERVE) != hist || (op == OP_ADD && f->type == CZ_METRIC_COUNTER && !(v >= 0)))
        return CZ_EARG;
    pthread_mutex_lock(&f->m->mu);
    series_t *s = series_get(f, values, true);
    int rc = s ? 0 : CZ_ENOMEM;
    if (s && s->fn) {
        rc = CZ_EARG; /* a gauge function's value is not set by hand */
    } else if (s && op == OP_ADD) {
        s->value += v;
    } else if (s && op == OP_SET) {
        s->value = v;
    } else if (s) {
        size_t b = 0;
        while (b < f->nbounds && v > f->bounds[b]) /* le: upper bounds are inclusive */
            b++;
        s->counts[b]++;
        s->sum += v;
    }
    pthread_mutex_unlock(&f->m->mu);
    return rc;
}

int cz_metric_add(cz_metric_t *f, const char *const *values, double v)
{
    return series_op(f, values, OP_ADD, v);
}

int cz_metric_set(cz_metric_t *f, const char *const *values, double v)
{
    return series_op(f, values, OP_SET, v);
}

int cz_metric_observe(cz_metric_t *f, const char *const *values, double v)
{
    return series_op(f, values, OP_OBSERVE, v);
}

int cz_metric_histogram_set(cz_metric_t *f, const char *const *values, const uint64_t *counts,
                            double sum)
{
    if (!f || !counts || f->type != CZ_METRIC_HISTOGRAM || (f->nlabels && !values))
        return CZ_EARG;
    pthread_mutex_lock(&f->m->mu);
    series_t *s = series_get(f, values, true);
    if (s) {
        memcpy(s->counts, counts, (f->nbounds + 1) * sizeof *counts);
        s->sum = sum;
    }
    pthread_mutex_unlock(&f->m->mu);
    return s ? 0 : CZ_ENOMEM;
}

int cz_metrics_gauge_func(cz_metrics_t *m, const char *name, const char *help,
                          const char *const *labels, const char *const *values, size_t nlabels,
                          double (*fn)(void *ud), void *ud)
{
    if (!m || !fn || (nlabels && !values))
        return CZ_EARG;
    pthread_mutex_lock(&m->mu);
    cz_metric_t *f = NULL;
    int rc = family_get(m, name, help, CZ_METRIC_GAUGE, labels, nlabels, NULL, 0, &f);
    if (rc == 0 && series_get(f, values, false))
        rc = CZ_EDUPLICATE;
    if (rc == 0) {
        series_t *s = series_get(f, values, true);
        if (s) {
            s->fn = fn;
            s->ud = ud;
        } else {
            rc = CZ_ENOMEM;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int cz_metrics_limiter_gauge(const char *limiter, const char *what, const char *help,
                             double (*fn)(void *ud), void *ud)
{
    char name[256];
    if (!limiter || !what)
        return CZ_EARG;
    if (snprintf(name, sizeof name, "czero_limiter_%s", what) >= (int)sizeof name)
        return CZ_EARG;
    static const char *const labels[] = {"limiter"};
    const char *values[] = {limiter};
    return cz_metrics_gauge_func(cz_metrics_default(), name, help, labels, values, 1, fn, ud);
}

size_t cz_metrics_remove_func(cz_metrics_t *m, double (*fn)(void *ud), void *ud)
{
    if (!m)
        return 0;
    size_t removed = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nfams; i++) {
        cz_metric_t *f = m->fams[i];
        for (size_t j = 0; j < f->nseries;) {
            series_t *s = &f->series[j];
            if (s->fn == fn && s->ud == ud) {
                free_strv(s->values, f->nlabels);
                free(s->counts);
                memmove(s, s + 1, (f->nseries - j - 1) * sizeof *s);
                f->nseries--;
                removed++;
            } else {
                j++;
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return removed;
}

int cz_metrics_collector_add(cz_metrics_t *m, cz_metrics_collect_fn fn, void *ud)
{
    if (!m || !fn)
        return CZ_EARG;
    int rc = 0;
    pthread_mutex_lock(&m->scrape_mu);
    if (m->ncols == m->ccap) {
        size_t cap = m->ccap ? m->ccap * 2 : 4;
        collector_t *nc = realloc(m->cols, cap * sizeof *nc);
        if (nc) {
            m->cols = nc;
            m->ccap = cap;
        } else {
            rc = CZ_ENOMEM;
        }
    }
    if (rc == 0)
        m->cols[m->ncols++] = (collector_t){fn, ud};
    pthread_mutex_unlock(&m->scrape_mu);
    return rc;
}

int cz_metrics_collector_remove(cz_metrics_t *m, cz_metrics_collect_fn fn, void *ud)
{
    if (!m)
        return CZ_EARG;
    int rc = CZ_ENOTFOUND;
    pthread_mutex_lock(&m->scrape_mu);
    for (size_t i = 0; i < m->ncols; i++) {
        if (m->cols[i].fn == fn && m->cols[i].ud == ud) {
            memmove(&m->cols[i], &m->cols[i + 1], (m->ncols - i - 1) * sizeof *m->cols);
            m->ncols--;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->scrape_mu);
    return rc;
}

/* ---- exposition ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

/* HELP text escapes \ and newline; label values also escape the double quote. */
static void put_escaped(buf_t *b, const char *s, bool quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                        : (quote && *s == '"') ? "\\\"" : NULL;
        if (!rep)
            continue;
        put(b, run, (size_t)(s - run));
        puts_(b, rep);
        run = s + 1;
    }
    put(b, run, (size_t)(s - run));
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) spirit: integers in full, others in the shortest
 * form that reads back exactly; Prometheus spells the specials +Inf, -Inf, NaN. */
static void put_num(buf_t *b, double v)
{
    char s[40];
    if (isnan(v)) {
        puts_(b, "NaN");
        return;
    }
    if (isinf(v)) {
        puts_(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(s, sizeof s, "%.0f", v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(s, sizeof s, "%.*g", prec, v);
            if (strtod(s, NULL) == v)
                break;
        }
    }
    puts_(b, s);
}

static void put_u64(buf_t *b, uint64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    puts_(b, s);
}

static void put_labels(buf_t *b, const cz_metric_t *f, const series_t *s, const char *le)
{
    if (!f->nlabels && !le)
        return;
    puts_(b, "{");
    for (size_t i = 0; i < f->nlabels; i++) {
        if (i)
            puts_(b, ",");
        puts_(b, f->labels[i]);
        puts_(b, "=\"");
        put_escaped(b, s->values[i], true);
        puts_(b, "\"");
    }
    if (le) {
        puts_(b, f->nlabels ? ",le=\"" : "le=\"");
        puts_(b, le);
        puts_(b, "\"");
    }
    puts_(b, "}");
}

static void put_family(buf_t *b, const cz_metric_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    puts_(b, "# HELP ");
    puts_(b, f->name);
    puts_(b, " ");
    put_escaped(b, f->help, false);
    puts_(b, "\n# TYPE ");
    puts_(b, f->name);
    puts_(b, " ");
    puts_(b, types[f->type]);
    puts_(b, "\n");
    for (size_t i = 0; i < f->nseries; i++) {
        const series_t *s = &f->series[i];
        if (f->type != CZ_METRIC_HISTOGRAM) {
            puts_(b, f->name);
            put_labels(b, f, s, NULL);
            puts_(b, " ");
            put_num(b, s->fn ? s->fn(s->ud) : s->value);
            puts_(b, "\n");
            continue;
        }
        uint64_t cum = 0;
        for (size_t j = 0; j <= f->nbounds; j++) {
            char le[40];
            buf_t lb = {0};
            if (j < f->nbounds)
                put_num(&lb, f->bounds[j]);
            snprintf(le, sizeof le, "%s", j < f->nbounds ? (lb.p ? lb.p : "") : "+Inf");
            free(lb.p);
            cum += s->counts[j];
            puts_(b, f->name);
            puts_(b, "_bucket");
            put_labels(b, f, s, le);
            puts_(b, " ");
            put_u64(b, cum);
            puts_(b, "\n");
        }
        puts_(b, f->name);
        puts_(b, "_sum");
        put_labels(b, f, s, NULL);
        puts_(b, " ");
        put_num(b, s->sum);
        puts_(b, "\n");
        puts_(b, f->name);
        puts_(b, "_count");
        put_labels(b, f, s, NULL);
        puts_(b, " ");
        put_u64(b, cum);
        puts_(b, "\n");
    }
}

int cz_metrics_write(cz_metrics_t *m, char **out, size_t *len)
{
    if (!m || !out)
        return CZ_EARG;
    pthread_mutex_lock(&m->scrape_mu);
    for (size_t i = 0; i < m->ncols; i++)
        m->cols[i].fn(m, m->cols[i].ud);
    buf_t b = {0};
    pthread_mutex_lock(&m->mu);
    puts_(&b, "");
    for (size_t i = 0; i < m->nfams; i++)
        if (m->fams[i]->nseries) /* an empty family is noise (client_golang skips it too) */
            put_family(&b, m->fams[i]);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_unlock(&m->scrape_mu);
    if (b.oom || !b.p) {
        free(b.p);
        return CZ_ENOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.n;
    return 0;
}
