/* SPDX-License-Identifier: MIT
 *
 * log.c: the logging calls and the line encoders, after go-zero's core/logx.
 *
 * A line is formatted on the caller's thread, into that thread's scratch buffer, and handed to
 * cz__log_commit (log_writer.c), which queues it for the writer thread. Field names and level
 * names are logx's (core/logx/vars.go): "@timestamp", "content", "level", "duration", "trace",
 * "span", "truncated"; JSON lines look like
 *   {"@timestamp":"2026-11-25T08:00:00.000Z","content":"hi","level":"info"}
 * and plain lines like "2026-11-25T08:00:00.000Z\tinfo\thi\tkey=value" (logx writePlainText).
 * Timestamps are UTC; the formatted second is cached per thread so a line only formats its
 * milliseconds. This file does no I/O and takes no locks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "internal.h"
#include "core/log_int.h"

cz__log_settings_t cz__log_g = {
    .level = CZ_LOG_INFO, .encoding = CZ_LOG_ENC_PLAIN, .stat = 1, .max_content = 0,
};

static const struct {
    const char *name;
    size_t n;
    int dest;
} levels[] = {
    [CZ_LOG_DEBUG] = {"debug", 5, CZ__LOG_D_ACCESS},
    [CZ_LOG_INFO] = {"info", 4, CZ__LOG_D_ACCESS},
    [CZ_LOG_ERROR] = {"error", 5, CZ__LOG_D_ERROR},
    [CZ_LOG_SEVERE] = {"severe", 6, CZ__LOG_D_SEVERE},
};

/* Room kept at the end of a line for the fields and punctuation that follow the content. */
#define CONTENT_RESERVE 4096u
#define FIELD_RESERVE 64u

typedef struct {
    char *p;
    size_t n, cap;
} lb_t;

typedef struct { /* an internal field: k is a trusted literal, v is escaped */
    const char *k, *v;
    size_t kn, vn;
    bool plain;       /* v is digits and ASCII formatted here: nothing to escape in JSON */
} field_t;

/* Bounded append: callers keep enough reserve that clamping only ever cuts a value. The
 * clamp lives out of line so that put() with a constant length compiles to plain moves. */
static __attribute__((noinline)) void put_clamped(lb_t *b, const char *s, size_t n)
{
    n = cz__min(n, b->cap - b->n);
    if (n)
        memcpy(b->p + b->n, s, n);
    b->n += n;
}

static inline void put(lb_t *b, const char *s, size_t n)
{
    if (cz__likely(n <= b->cap - b->n)) {
        cz__copy(b->p + b->n, s, n);
        b->n += n;
    } else {
        put_clamped(b, s, n);
    }
}

/* A cz_str_t piece: p may be NULL when n is 0. */
static inline void put_str(lb_t *b, cz_str_t s)
{
    if (s.n)
        put(b, s.p, s.n);
}
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930"
                                     "31323334353637383940414243444546474849505152535455565758596061"
                                     "62636465666768697071727374757677787980818283848586878889909192"
                                     "93949596979899";

/* Decimal digits of v into out; returns their count. Every access line formats three numbers:
 * the digit count first, then two digits per division, written from the end. */
static size_t fmt_u64(char *out, uint64_t v)
{
    size_t n = 1;
    for (uint64_t p = 10; n < 20 && v >= p; p *= 10)
        n++;
    char *o = out + n;
    while (v >= 100) {
        o -= 2;
        memcpy(o, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10)
        memcpy(o - 2, digit_pairs + 2 * v, 2);
    else
        o[-1] = (char)('0' + v);
    return n;
}

/* 1 = needs attention in a JSON string: control chars, '"', '\\', and every non-ASCII byte
 * (validated as UTF-8 so jansson and other strict parsers accept every line). */
static const unsigned char json_special[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* Length of the valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Escape s into b as JSON string content, stopping before b->n passes limit (sets *cut).
 * Invalid UTF-8 becomes U+FFFD and U+2028/2029 are escaped, as Go's encoding/json does. */
static void put_json(lb_t *b, const char *s, size_t n, size_t limit, int *cut)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (b->n + 8 > limit) {
            *cut = 1;
            return;
        }
        size_t end = i + cz__min(n - i, limit - 8 - b->n), j = i;
        char *o = b->p + b->n - i; /* where s[j] goes: o + j */
#ifdef __SSE2__
        /* Sixteen bytes at a time, copied while scanned (the store may run past a byte that needs
         * escaping; what follows overwrites it): a signed compare below 0x20 also catches every
         * byte >= 0x80, then '"' and '\\'. o + end stays below limit - 8, inside the line. */
        while (j + 16 <= end) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
            _mm_storeu_si128((__m128i *)(void *)(o + j), v);
            __m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                     _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                                  _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
            unsigned hit = (unsigned)_mm_movemask_epi8(m);
            if (hit) {
                j += (size_t)__builtin_ctz(hit);
                goto scanned;
            }
            j += 16;
        }
#endif
        /* Eight bytes at a time while none needs escaping (the common case); a word with a
         * false positive from a borrow just falls through to the byte loop. */
        while (j + 8 <= end) {
            uint64_t x;
            memcpy(&x, s + j, 8);
            const uint64_t ones = 0x0101010101010101ull;
            uint64_t hit = x | (x - 0x20 * ones) | ((x ^ ('"' * ones)) - ones) |
                           ((x ^ ('\\' * ones)) - ones);
            if (hit & 0x80 * ones)
                break;
            memcpy(o + j, &x, 8);
            j += 8;
        }
        while (j < end && !json_special[u[j]]) {
            o[j] = s[j];
            j++;
        }
#ifdef __SSE2__
    scanned:
#endif
        b->n += j - i;
        i = j;
        if (i >= n || !json_special[u[i]])
            continue;
        o = b->p + b->n;
        unsigned c = u[i];
        if (c < 0x80) {
            o[0] = '\\';
            b->n += 2;
            i++;
            switch (c) {
            case '"': o[1] = '"'; break;
            case '\\': o[1] = '\\'; break;
            case '\n': o[1] = 'n'; break;
            case '\r': o[1] = 'r'; break;
            case '\t': o[1] = 't'; break;
            default:
                memcpy(o + 1, "u00", 3);
                o[4] = hex[c >> 4];
                o[5] = hex[c & 15];
                b->n += 4;
            }
            continue;
        }
        size_t len = utf8_len(u + i, n - i);
        if (len == 0) {
            memcpy(o, "\\ufffd", 6);
            b->n += 6;
            i++;
        } else if (len == 3 && c == 0xe2 && u[i + 1] == 0x80 && (u[i + 2] & 0xfe) == 0xa8) {
            memcpy(o, u[i + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            b->n += 6;
            i += 3;
        } else {
            memcpy(o, s + i, len);
            b->n += len;
            i += len;
        }
    }
}

/* Raw copy for plain lines (logx writes plain content unescaped), bounded by limit. */
static void put_raw(lb_t *b, const char *s, size_t n, size_t limit, int *cut)
{
    size_t room = limit > b->n ? limit - b->n : 0;
    if (n > room) {
        n = room;
        *cut = 1;
    }
    put(b, s, n);
}

/* Longest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t i = n, k = 0;
    while (i > 0 && k < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
        i--;
        k++;
    }
    if (i == 0)
        return n;
    unsigned c = (unsigned char)s[i - 1];
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k + 1 ? i - 1 : n;
}

static void two(char *o, int v)
{
    o[0] = (char)('0' + v / 10);
    o[1] = (char)('0' + v % 10);
}

/* The logger's wall clock: the test hook when set, else CLOCK_REALTIME (timestamps and the
 * writer's rotation read the same one). */
uint64_t cz__log_wall_ns(void)
{
    uint64_t (*fn)(void) = __atomic_load_n(&cz__log_g.now_ns, __ATOMIC_RELAXED);
    if (fn)
        return fn();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What a custom TimeFormat is (CZ__TS_*): a '%' makes it strftime's, else it is a Go layout as
 * logx takes, which shows fractions of a second when two instants of one second differ. */
static int ts_kind(const char *fmt)
{
    if (!fmt[0])
        return 0;
    if (strchr(fmt, '%'))
        return CZ__TS_STRFTIME;
    char a[64], b[64];
    size_t an = cz__log_go_time(a, sizeof a, fmt, 0);
    size_t bn = cz__log_go_time(b, sizeof b, fmt, 999999999u);
    return an == bn && memcmp(a, b, an) == 0 ? CZ__TS_GO : CZ__TS_GO_FRAC;
}

/* Append the timestamp; the per-second part comes from the thread's cache. */
static void put_time(cz__log_thread_t *t, lb_t *b)
{
    uint64_t now = cz__log_wall_ns();
    int64_t sec = (int64_t)(now / 1000000000u);
    unsigned gen = __atomic_load_n(&cz__log_g.tf_gen, __ATOMIC_ACQUIRE);
    if (cz__unlikely(gen != t->ts_gen)) {
        cz__log_time_format(t->ts_fmt, sizeof t->ts_fmt);
        t->ts_custom = ts_kind(t->ts_fmt);
        t->ts_sec = -1;
        t->ts_gen = gen;
    }
    if (cz__unlikely(t->ts_custom == CZ__TS_GO_FRAC)) {
        t->ts_len = cz__log_go_time(t->ts, sizeof t->ts, t->ts_fmt, now);
    } else if (cz__unlikely(sec != t->ts_sec)) {
        time_t tt = (time_t)sec;
        struct tm tm;
        gmtime_r(&tt, &tm);
        if (t->ts_custom == CZ__TS_STRFTIME) {
            t->ts_len = strftime(t->ts, sizeof t->ts, t->ts_fmt, &tm);
        } else if (t->ts_custom == CZ__TS_GO) {
            t->ts_len = cz__log_go_time(t->ts, sizeof t->ts, t->ts_fmt, now);
        } else { /* logx's default "2006-01-02T15:04:05.000Z07:00", in UTC */
            char *o = t->ts;
            int y = tm.tm_year + 1900;
            two(o, (y / 100) % 100);
            two(o + 2, y % 100);
            o[4] = '-';
            two(o + 5, tm.tm_mon + 1);
            o[7] = '-';
            two(o + 8, tm.tm_mday);
            o[10] = 'T';
            two(o + 11, tm.tm_hour);
            o[13] = ':';
            two(o + 14, tm.tm_min);
            o[16] = ':';
            two(o + 17, tm.tm_sec);
            t->ts_len = 19;
        }
        t->ts_sec = sec;
    }
    put(b, t->ts, t->ts_len);
    if (!t->ts_custom) {
        unsigned ms = (unsigned)(now / 1000000u % 1000u);
        char o[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10),
                     (char)('0' + ms % 10), 'Z'};
        put(b, o, 5);
    }
}

/* Encode one line and commit it. content may be cut by MaxContentLength (or by the line size,
 * or by the caller: pre_cut), which adds logx's "truncated":true field. */
static void emit(cz__log_thread_t *t, int dest, const char *lv, size_t lvn, const char *content,
                 size_t cn, int pre_cut, const field_t *f, size_t nf, const char *const *kv)
{
    uint32_t max = __atomic_load_n(&cz__log_g.max_content, __ATOMIC_RELAXED);
    int cut = pre_cut;
    if (max && cn > max) {
        cn = utf8_cut(content, max); /* on a character boundary, not mid-sequence */
        cut = 1;
    }
    lb_t b = {t->line, 0, sizeof t->line};
    const size_t climit = b.cap - CONTENT_RESERVE, flimit = b.cap - FIELD_RESERVE;
    int fcut = 0;
    if (__atomic_load_n(&cz__log_g.encoding, __ATOMIC_RELAXED) == CZ_LOG_ENC_PLAIN) {
        put_time(t, &b);
        put(&b, "\t", 1);
        put(&b, lv, lvn);
        put(&b, "\t", 1);
        put_raw(&b, content, cn, climit, &cut);
        for (size_t i = 0; i < nf && !fcut; i++) {
            put(&b, "\t", 1);
            put_raw(&b, f[i].k, f[i].kn, flimit, &fcut);
            put(&b, "=", 1);
            put_raw(&b, f[i].v, f[i].vn, flimit, &fcut);
        }
        for (; kv && kv[0] && kv[1] && !fcut; kv += 2) {
            put(&b, "\t", 1);
            put_raw(&b, kv[0], strlen(kv[0]), flimit, &fcut);
            put(&b, "=", 1);
            put_raw(&b, kv[1], strlen(kv[1]), flimit, &fcut);
        }
        if (cut || fcut)
            PUT_LIT(&b, "\ttruncated=true");
        put(&b, "\n", 1);
    } else {
        PUT_LIT(&b, "{\"@timestamp\":\"");
        put_time(t, &b);
        PUT_LIT(&b, "\",\"content\":\"");
        put_json(&b, content, cn, climit, &cut);
        PUT_LIT(&b, "\",\"level\":\"");
        put(&b, lv, lvn);
        put(&b, "\"", 1);
        for (size_t i = 0; i < nf && !fcut; i++) {
            PUT_LIT(&b, ",\"");
            put(&b, f[i].k, f[i].kn); /* czero's own keys: nothing to escape */
            PUT_LIT(&b, "\":\"");
            if (f[i].plain && b.n + f[i].vn + 8 <= flimit) /* put_json would copy it whole */
                put(&b, f[i].v, f[i].vn);
            else
                put_json(&b, f[i].v, f[i].vn, flimit, &fcut);
            put(&b, "\"", 1);
        }
        for (; kv && kv[0] && kv[1] && !fcut; kv += 2) {
            PUT_LIT(&b, ",\"");
            put_json(&b, kv[0], strlen(kv[0]), flimit, &fcut);
            PUT_LIT(&b, "\":\"");
            put_json(&b, kv[1], strlen(kv[1]), flimit, &fcut);
            put(&b, "\"", 1);
        }
        if (cut || fcut)
            PUT_LIT(&b, ",\"truncated\":true");
        PUT_LIT(&b, "}\n");
    }
    cz__log_commit(t, dest, b.p, b.n);
}

static int valid_level(cz_log_level_t lv) { return lv >= CZ_LOG_DEBUG && lv <= CZ_LOG_SEVERE; }

int cz_log_enabled(cz_log_level_t lv)
{
    return valid_level(lv) && (int)lv >= __atomic_load_n(&cz__log_g.level, __ATOMIC_RELAXED);
}

void cz_log_set_level(cz_log_level_t lv)
{
    if (valid_level(lv))
        __atomic_store_n(&cz__log_g.level, (int)lv, __ATOMIC_RELAXED);
}

/* Format into the thread's content buffer; returns its length, *cut if it did not fit. */
static size_t vformat(cz__log_thread_t *t, const char *fmt, va_list ap, int *cut)
{
    int r = vsnprintf(t->content, CZ__LOG_CONTENT_MAX + 1, fmt, ap);
    if (r < 0)
        return 0;
    if ((size_t)r > CZ__LOG_CONTENT_MAX) {
        *cut = 1;
        return utf8_cut(t->content, CZ__LOG_CONTENT_MAX);
    }
    return (size_t)r;
}

static void vlog_as(int dest, const char *lv, size_t lvn, const char *fmt, va_list ap)
{
    cz__log_thread_t *t = cz__log_thread();
    if (!t) {
        cz__log_drop();
        return;
    }
    int cut = 0;
    size_t n = vformat(t, fmt, ap, &cut);
    emit(t, dest, lv, lvn, t->content, n, cut, NULL, 0, NULL);
}

void cz_logv(cz_log_level_t lv, const char *fmt, va_list ap)
{
    if (!cz_log_enabled(lv) || !fmt)
        return;
    vlog_as(levels[lv].dest, levels[lv].name, levels[lv].n, fmt, ap);
}

void cz_logv_trace(cz_log_level_t lv, cz_str_t trace_id, cz_str_t span_id, const char *fmt,
                   va_list ap)
{
    if (!cz_log_enabled(lv) || !fmt)
        return;
    cz__log_thread_t *t = cz__log_thread();
    if (!t) {
        cz__log_drop();
        return;
    }
    int cut = 0;
    size_t n = vformat(t, fmt, ap, &cut);
    /* the access line's order: span, then trace */
    field_t f[2];
    size_t nf = 0;
    if (span_id.n)
        f[nf++] = (field_t){"span", span_id.p, 4, span_id.n};
    if (trace_id.n)
        f[nf++] = (field_t){"trace", trace_id.p, 5, trace_id.n};
    emit(t, levels[lv].dest, levels[lv].name, levels[lv].n, t->content, n, cut, f, nf, NULL);
}

void cz_logf(cz_log_level_t lv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cz_logv(lv, fmt, ap);
    va_end(ap);
}

void cz_logkv(cz_log_level_t lv, const char *msg, const char *const *kv)
{
    if (!cz_log_enabled(lv))
        return;
    cz__log_thread_t *t = cz__log_thread();
    if (!t) {
        cz__log_drop();
        return;
    }
    if (!msg)
        msg = "";
    emit(t, levels[lv].dest, levels[lv].name, levels[lv].n, msg, strlen(msg), 0, NULL, 0, kv);
}

void cz_log_slowf(const char *fmt, ...)
{
    /* logx.Slowf logs when ErrorLevel is enabled */
    if (!cz_log_enabled(CZ_LOG_ERROR) || !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog_as(CZ__LOG_D_SLOW, "slow", 4, fmt, ap);
    va_end(ap);
}

void cz_log_statf(const char *fmt, ...)
{
    /* logx.Statf: shallLogStat() && shallLog(InfoLevel) */
    if (!__atomic_load_n(&cz__log_g.stat, __ATOMIC_RELAXED) || !cz_log_enabled(CZ_LOG_INFO) ||
        !fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog_as(CZ__LOG_D_STAT, "stat", 4, fmt, ap);
    va_end(ap);
}

void cz_log_access(const cz_access_rec_t *r)
{
    /* rest/handler/loghandler.go logBrief: 5xx responses are logged with Error, others Info. */
    if (!r)
        return;
    cz_log_level_t lv = r->status >= 500 ? CZ_LOG_ERROR : CZ_LOG_INFO;
    if (!cz_log_enabled(lv))
        return;
    cz__log_thread_t *t = cz__log_thread();
    if (!t) {
        cz__log_drop();
        return;
    }
    /* pieces come from the network and may be long: put() clamps at CONTENT_MAX */
    lb_t c = {t->content, 0, CZ__LOG_CONTENT_MAX};
    char num[24];
    PUT_LIT(&c, "[HTTP] ");
    if (r->status < 0)
        put(&c, "-", 1);
    else
        put(&c, num, fmt_u64(num, (uint64_t)r->status));
    PUT_LIT(&c, " - ");
    put_str(&c, r->method);
    put(&c, " ", 1);
    put_str(&c, r->path);
    PUT_LIT(&c, " - ");
    put_str(&c, r->remote);
    PUT_LIT(&c, " - ");
    put_str(&c, r->user_agent);

    /* logx WithDuration -> timex.ReprOfDuration: "%.1fms" (rounded half up here). */
    char dur[32];
    uint64_t tenths = (r->duration_us + 50) / 100;
    size_t dn = fmt_u64(dur, tenths / 10);
    dur[dn++] = '.';
    dur[dn++] = (char)('0' + tenths % 10);
    memcpy(dur + dn, "ms", 2);
    dn += 2;

    /* czero adds the response body size, which go-zero's brief line lacks */
    char bytes[24];
    size_t bn = fmt_u64(bytes, r->bytes);
    field_t f[4] = {{"bytes", bytes, 5, bn, true}, {"duration", dur, 8, dn, true}};
    size_t nf = 2;
    if (r->span_id.n)
        f[nf++] = (field_t){"span", r->span_id.p, 4, r->span_id.n};
    if (r->trace_id.n)
        f[nf++] = (field_t){"trace", r->trace_id.p, 5, r->trace_id.n};
    int cut = c.n == c.cap;
    emit(t, levels[lv].dest, levels[lv].name, levels[lv].n, c.p, cut ? utf8_cut(c.p, c.n) : c.n,
         cut, f, nf, NULL);
}
