/* SPDX-License-Identifier: MIT
 *
 * Tests for src/conf/scalar.c: every scalar converter on good and bad text, the messages a user
 * sees, bound formatting, and ${ENV} expansion.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include "conf/conf_int.h"

static char msg[256];

Test(conf_scalar, integers)
{
    int64_t v;
    cr_assert_eq(cz__conv_int("8080", &v, msg, sizeof msg), 0);
    cr_assert_eq(v, 8080);
    cr_assert_eq(cz__conv_int("-12", &v, msg, sizeof msg), 0);
    cr_assert_eq(v, -12);
    cr_assert_eq(cz__conv_int("+7", &v, msg, sizeof msg), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(cz__conv_int("0x1F", &v, msg, sizeof msg), 0);
    cr_assert_eq(v, 31);
    cr_assert_eq(cz__conv_int("9223372036854775807", &v, msg, sizeof msg), 0);
    cr_assert_eq(v, INT64_MAX);
    const char *bad[] = {"abc", "", " 1", "1 ", "1.5", "1e3", "0x", "12ab", "-", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(cz__conv_int(bad[i], &v, msg, sizeof msg), CZ_EPARSE, "%s", bad[i]);
    cz__conv_int("abc", &v, msg, sizeof msg);
    cr_assert_str_eq(msg, "expected an integer, got \"abc\"");
    cr_assert_eq(cz__conv_int("99999999999999999999", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_str_eq(msg, "integer \"99999999999999999999\" is out of range");
}

Test(conf_scalar, doubles)
{
    double v;
    cr_assert_eq(cz__conv_double("0.25", &v, msg, sizeof msg), 0);
    cr_assert_float_eq(v, 0.25, 1e-12);
    cr_assert_eq(cz__conv_double("-3", &v, msg, sizeof msg), 0);
    cr_assert_float_eq(v, -3.0, 1e-12);
    cr_assert_eq(cz__conv_double("1e3", &v, msg, sizeof msg), 0);
    cr_assert_float_eq(v, 1000.0, 1e-9);
    cr_assert_eq(cz__conv_double("nan", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_eq(cz__conv_double("inf", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_eq(cz__conv_double("1e999", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_eq(cz__conv_double("", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_eq(cz__conv_double("0.5x", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_str_eq(msg, "expected a number, got \"0.5x\"");
}

Test(conf_scalar, booleans_yaml11_words)
{
    const char *t[] = {"true", "True", "TRUE", "yes", "Yes", "on", "ON"};
    const char *f[] = {"false", "False", "no", "NO", "off", "Off"};
    bool v;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        v = false;
        cr_assert_eq(cz__conv_bool(t[i], &v, msg, sizeof msg), 0, "%s", t[i]);
        cr_assert(v, "%s", t[i]);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        v = true;
        cr_assert_eq(cz__conv_bool(f[i], &v, msg, sizeof msg), 0, "%s", f[i]);
        cr_assert_not(v, "%s", f[i]);
    }
    cr_assert_eq(cz__conv_bool("1", &v, msg, sizeof msg), CZ_EPARSE);
    cr_assert_str_eq(msg, "expected a boolean (true/false), got \"1\"");
}

Test(conf_scalar, durations)
{
    static const struct { const char *in; int64_t ms; } ok[] = {
        {"250", 250}, {"0", 0}, {"500ms", 500}, {"1.5s", 1500}, {"2m", 120000},
        {"1h", 3600000}, {"1m30s", 90000}, {"1h0m0.5s", 3600500}, {"-2s", -2000},
        {".5s", 500}, {"10s", 10000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        cr_assert_eq(cz__conv_duration(ok[i].in, &v, msg, sizeof msg), 0, "%s: %s", ok[i].in, msg);
        cr_assert_eq(v, ok[i].ms, "%s -> %lld", ok[i].in, (long long)v);
    }
    const char *bad[] = {"", "s", "1x", "1.5", "10us", "1d", "ms", "1s2", "5 s", "1..2s",
                         "99999999999999h", "-", "1h-5m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        cr_assert_eq(cz__conv_duration(bad[i], &v, msg, sizeof msg), CZ_EPARSE, "%s", bad[i]);
    }
    int64_t v;
    cz__conv_duration("soon", &v, msg, sizeof msg);
    cr_assert_str_eq(msg, "expected a duration (milliseconds, or like 500ms, 1.5s, 2m, 1h), "
                          "got \"soon\"");
}

Test(conf_scalar, sizes)
{
    static const struct { const char *in; int64_t b; } ok[] = {
        {"1048576", 1048576}, {"64k", 65536}, {"64K", 65536}, {"64KiB", 65536}, {"64kb", 65536},
        {"1m", 1048576}, {"1MiB", 1048576}, {"1MB", 1048576}, {"1g", 1073741824},
        {"1GiB", 1073741824}, {"1.5k", 1536}, {"10b", 10}, {"0", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        cr_assert_eq(cz__conv_size(ok[i].in, &v, msg, sizeof msg), 0, "%s: %s", ok[i].in, msg);
        cr_assert_eq(v, ok[i].b, "%s -> %lld", ok[i].in, (long long)v);
    }
    const char *bad[] = {"", "k", "64x", "64 k", "-1k", "1kk", "99999999999g", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        cr_assert_eq(cz__conv_size(bad[i], &v, msg, sizeof msg), CZ_EPARSE, "%s", bad[i]);
    }
    int64_t v;
    cz__conv_size("big", &v, msg, sizeof msg);
    cr_assert_str_eq(msg, "expected a size (bytes, or like 64k, 64KiB, 1m, 1MiB, 1g), got \"big\"");
}

Test(conf_scalar, enums_are_case_sensitive_and_list_allowed)
{
    static const char *const e[] = {"debug", "info", "error", NULL};
    int idx = -1;
    cr_assert_eq(cz__conv_enum("error", e, &idx, msg, sizeof msg), 0);
    cr_assert_eq(idx, 2);
    cr_assert_eq(cz__conv_enum("Info", e, &idx, msg, sizeof msg), CZ_EPARSE);
    cr_assert_str_eq(msg, "unknown value \"Info\" (allowed: debug, info, error)");
}

Test(conf_scalar, got_text_is_truncated_and_sanitised)
{
    int64_t v;
    char in[100];
    memset(in, 'a', 99);
    in[99] = '\0';
    in[0] = '\t';
    cz__conv_int(in, &v, msg, sizeof msg);
    cr_assert_str_eq(msg,
                     "expected an integer, got \"?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"");
}

Test(conf_scalar, bound_formatting)
{
    char b[32];
    cr_assert_str_eq(cz__fmt_duration(3600000, b, sizeof b), "1h");
    cr_assert_str_eq(cz__fmt_duration(120000, b, sizeof b), "2m");
    cr_assert_str_eq(cz__fmt_duration(5000, b, sizeof b), "5s");
    cr_assert_str_eq(cz__fmt_duration(5500, b, sizeof b), "5500ms");
    cr_assert_str_eq(cz__fmt_duration(0, b, sizeof b), "0ms");
    cr_assert_str_eq(cz__fmt_size(1 << 30, b, sizeof b), "1GiB");
    cr_assert_str_eq(cz__fmt_size(3 << 20, b, sizeof b), "3MiB");
    cr_assert_str_eq(cz__fmt_size(8192, b, sizeof b), "8KiB");
    cr_assert_str_eq(cz__fmt_size(100, b, sizeof b), "100");
}

static char *expand(const char *s, int *rc)
{
    char *out = NULL;
    *rc = cz__env_expand(s, strlen(s), &out, msg, sizeof msg);
    return out;
}

Test(conf_scalar, env_expansion)
{
    setenv("CZ_T_HOST", "db.local", 1);
    setenv("CZ_T_EMPTY", "", 1);
    unsetenv("CZ_T_UNSET");
    int rc;
    char *s = expand("http://${CZ_T_HOST}:80/${CZ_T_UNSET:-x}", &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(s, "http://db.local:80/x");
    free(s);
    s = expand("${CZ_T_EMPTY:-fallback}|${CZ_T_EMPTY}|${CZ_T_UNSET:-}", &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(s, "fallback||");
    free(s);
    s = expand("cost $5, $${CZ_T_HOST}, $HOME, $", &rc);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(s, "cost $5, ${CZ_T_HOST}, $HOME, $");
    free(s);

    cr_assert_null(expand("${CZ_T_UNSET}", &rc));
    cr_assert_eq(rc, CZ_EPARSE);
    cr_assert_str_eq(msg, "environment variable CZ_T_UNSET is not set");
    cr_assert_null(expand("a${CZ_T_HOST", &rc));
    cr_assert_eq(rc, CZ_EPARSE);
    cr_assert_str_eq(msg, "unterminated \"${\" in an environment reference");
    cr_assert_null(expand("${1X}", &rc));
    cr_assert_eq(rc, CZ_EPARSE);
    cr_assert_str_eq(msg, "bad environment variable name in \"${1X}\"");
    cr_assert_null(expand("${A-B}", &rc));
    cr_assert_eq(rc, CZ_EPARSE);
}
