/* SPDX-License-Identifier: MIT
 *
 * scalar.c: scalar text -> typed value for the configuration loader, and ${ENV} expansion.
 *
 * The same converters read YAML values and the `def` texts of field tables, so a default can
 * never mean something a user could not write. Durations follow go-zero: a bare integer is
 * milliseconds (RestConf.Timeout is "// milliseconds" int64), and Go-style strings such as
 * "1.5s" or "1m30s" (time.ParseDuration) are accepted with units ms, s, m, h. Sizes are bytes or
 * a number with a binary suffix (k/kb/kib = 1024, as nginx reads "64k"). Env expansion is
 * go-zero's conf.UseEnv (os.ExpandEnv) restricted to the ${NAME} form, plus the shell's
 * ${NAME:-default}; it is applied to scalar values only, never to keys.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conf_int.h"
#include "internal.h"

/* Quote s into buf for "got ..." messages, short enough to leave room for the rest. */
static const char *quote(const char *s, char *buf, size_t size)
{
    size_t len = strlen(s), k = 0;
    char tmp[48];
    for (size_t i = 0; i < len && k < 40; i++)
        tmp[k++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    tmp[k] = '\0';
    snprintf(buf, size, "\"%s%s\"", tmp, len > 40 ? "..." : "");
    return buf;
}

static int fail(char *msg, size_t msgsize, const char *what, const char *s)
{
    char q[64];
    snprintf(msg, msgsize, "expected %s, got %s", what, quote(s, q, sizeof q));
    return CZ_EPARSE;
}

/* Strict integer: optional sign, decimal digits or 0x hex, nothing else (no spaces, no dots). */
static int parse_int(const char *s, int64_t *v, bool *range)
{
    *range = false;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        if (!isxdigit((unsigned char)p[2]))
            return -1;
    } else if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, base);
    if (*end)
        return -1;
    if (errno == ERANGE) {
        *range = true;
        return -1;
    }
    *v = x;
    return 0;
}

int cz__conv_int(const char *s, int64_t *v, char *msg, size_t msgsize)
{
    bool range;
    if (parse_int(s, v, &range) == 0)
        return 0;
    if (range) {
        char q[64];
        snprintf(msg, msgsize, "integer %s is out of range", quote(s, q, sizeof q));
        return CZ_EPARSE;
    }
    return fail(msg, msgsize, "an integer", s);
}

int cz__conv_double(const char *s, double *v, char *msg, size_t msgsize)
{
    if (!*s || isspace((unsigned char)*s))
        return fail(msg, msgsize, "a number", s);
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (*end || !isfinite(x) || errno == ERANGE)
        return fail(msg, msgsize, "a number", s);
    *v = x;
    return 0;
}

int cz__conv_bool(const char *s, bool *v, char *msg, size_t msgsize)
{
    /* YAML 1.1 booleans, which is what go-zero configs in the wild use. */
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) {
            *v = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *v = false;
            return 0;
        }
    }
    return fail(msg, msgsize, "a boolean (true/false)", s);
}

/* digits[.digits] at *p; advances *p. -1 when there is no digit. */
static int parse_decimal(const char **p, double *out)
{
    const char *q = *p;
    char buf[64];
    size_t k = 0;
    bool digits = false, dot = false;
    while (k < sizeof buf - 1 && (isdigit((unsigned char)*q) || (*q == '.' && !dot))) {
        if (*q == '.')
            dot = true;
        else
            digits = true;
        buf[k++] = *q++;
    }
    if (!digits || k == sizeof buf - 1)
        return -1;
    buf[k] = '\0';
    *out = strtod(buf, NULL);
    *p = q;
    return 0;
}

int cz__conv_duration(const char *s, int64_t *ms, char *msg, size_t msgsize)
{
    static const char what[] = "a duration (milliseconds, or like 500ms, 1.5s, 2m, 1h)";
    bool range;
    if (parse_int(s, ms, &range) == 0)
        return 0;
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!*p)
        return fail(msg, msgsize, what, s);
    double total = 0;
    while (*p) {
        double x, unit;
        if (parse_decimal(&p, &x) != 0)
            return fail(msg, msgsize, what, s);
        if (p[0] == 'm' && p[1] == 's') {
            unit = 1, p += 2;
        } else if (*p == 's') {
            unit = 1e3, p++;
        } else if (*p == 'm') {
            unit = 60e3, p++;
        } else if (*p == 'h') {
            unit = 3600e3, p++;
        } else {
            return fail(msg, msgsize, what, s);
        }
        total += x * unit;
        if (total > 9e15) /* stays exact in a double and far inside int64_t */
            return fail(msg, msgsize, what, s);
    }
    *ms = (int64_t)llround(neg ? -total : total);
    return 0;
}

int cz__conv_size(const char *s, int64_t *bytes, char *msg, size_t msgsize)
{
    static const char what[] = "a size (bytes, or like 64k, 64KiB, 1m, 1MiB, 1g)";
    bool range;
    if (parse_int(s, bytes, &range) == 0)
        return 0;
    const char *p = s;
    double x;
    if (parse_decimal(&p, &x) != 0)
        return fail(msg, msgsize, what, s);
    static const struct { const char *suffix; double mult; } units[] = {
        {"b", 1},          {"k", 1024.0},     {"kb", 1024.0},    {"kib", 1024.0},
        {"m", 1048576.0},  {"mb", 1048576.0}, {"mib", 1048576.0}, {"g", 1073741824.0},
        {"gb", 1073741824.0}, {"gib", 1073741824.0}, {"t", 1099511627776.0},
        {"tb", 1099511627776.0}, {"tib", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcasecmp(p, units[i].suffix)) {
            double v = x * units[i].mult;
            if (v >= 9.2e18)
                return fail(msg, msgsize, what, s);
            *bytes = (int64_t)v;
            return 0;
        }
    }
    return fail(msg, msgsize, what, s);
}

int cz__conv_enum(const char *s, const char *const *enums, int *idx, char *msg, size_t msgsize)
{
    for (int i = 0; enums[i]; i++) {
        if (!strcmp(s, enums[i])) {
            *idx = i;
            return 0;
        }
    }
    char q[64];
    int n = snprintf(msg, msgsize, "unknown value %s (allowed: ", quote(s, q, sizeof q));
    for (int i = 0; enums[i] && n > 0 && (size_t)n < msgsize; i++)
        n += snprintf(msg + n, msgsize - (size_t)n, "%s%s", i ? ", " : "", enums[i]);
    if (n > 0 && (size_t)n < msgsize)
        snprintf(msg + n, msgsize - (size_t)n, ")");
    return CZ_EPARSE;
}

const char *cz__fmt_duration(int64_t ms, char *buf, size_t size)
{
    long long v = (long long)ms;
    if (v != 0 && v % 3600000 == 0)
        snprintf(buf, size, "%lldh", v / 3600000);
    else if (v != 0 && v % 60000 == 0)
        snprintf(buf, size, "%lldm", v / 60000);
    else if (v != 0 && v % 1000 == 0)
        snprintf(buf, size, "%llds", v / 1000);
    else
        snprintf(buf, size, "%lldms", v);
    return buf;
}

const char *cz__fmt_size(int64_t bytes, char *buf, size_t size)
{
    long long v = (long long)bytes;
    if (v != 0 && v % (1LL << 30) == 0)
        snprintf(buf, size, "%lldGiB", v >> 30);
    else if (v != 0 && v % (1LL << 20) == 0)
        snprintf(buf, size, "%lldMiB", v >> 20);
    else if (v != 0 && v % 1024 == 0)
        snprintf(buf, size, "%lldKiB", v >> 10);
    else
        snprintf(buf, size, "%lld", v);
    return buf;
}

/* ---- ${ENV} expansion ---- */

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static int put(buf_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return CZ_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

int cz__env_expand(const char *s, size_t n, char **out, char *msg, size_t msgsize)
{
    buf_t b = {0};
    int rc = put(&b, "", 0);
    size_t i = 0;
    while (rc == 0 && i < n) {
        if (s[i] != '$' || i + 1 >= n) {
            rc = put(&b, s + i++, 1);
        } else if (s[i + 1] == '$' && i + 2 < n && s[i + 2] == '{') {
            rc = put(&b, "${", 2); /* "$${" escapes a literal "${" */
            i += 3;
        } else if (s[i + 1] != '{') {
            rc = put(&b, s + i++, 1);
        } else {
            size_t start = i + 2, j = start;
            while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
                j++;
            size_t name_len = j - start;
            const char *def = NULL;
            size_t def_len = 0;
            if (j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
                def = s + j + 2;
                for (j += 2; j < n && s[j] != '}'; j++)
                    ;
                def_len = (size_t)(s + j - def);
            }
            if (j >= n || s[j] != '}') {
                snprintf(msg, msgsize, "unterminated \"${\" in an environment reference");
                rc = CZ_EPARSE;
                break;
            }
            if (name_len == 0 || name_len > 255 || isdigit((unsigned char)s[start])) {
                snprintf(msg, msgsize, "bad environment variable name in \"%.*s\"",
                         (int)cz__min(j + 1 - i, (size_t)60), s + i);
                rc = CZ_EPARSE;
                break;
            }
            char name[256];
            memcpy(name, s + start, name_len);
            name[name_len] = '\0';
            const char *val = getenv(name);
            if (def && (!val || !*val)) { /* shell semantics: unset or empty takes the default */
                rc = put(&b, def, def_len);
            } else if (!val) {
                snprintf(msg, msgsize, "environment variable %s is not set", name);
                rc = CZ_EPARSE;
            } else {
                rc = put(&b, val, strlen(val));
            }
            i = j + 1;
        }
    }
    if (rc != 0) {
        if (rc == CZ_ENOMEM)
            snprintf(msg, msgsize, "out of memory");
        free(b.p);
        return rc;
    }
    *out = b.p;
    return 0;
}
