/* SPDX-License-Identifier: MIT
 *
 * Tests for src/conf/load.c through the public API: a service config that embeds
 * cz_rest_conf_t (INLINE) and adds an Auth object, an array of upstream objects with their own
 * defaults, a string list and one field of every scalar type. Each error kind is checked for
 * its exact file, line, column, key and message, from memory and from a real file.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "czero/config.h"
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h>
/* Criterion ignores what LeakSanitizer prints at exit, so leak tests ask for a check themselves. */
#define LEAKS() __lsan_do_recoverable_leak_check()
#else
#define LEAKS() 0
#endif

typedef struct {
    char *host;
    int64_t port;
    int64_t weight;
    cz_conf_strings_t tags;
} upstream_t;

typedef struct {
    char *access_secret;
    int64_t access_expire;
} auth_t;

typedef struct {
    cz_rest_conf_t rest;
    auth_t auth;
    cz_conf_array_t upstreams;
    cz_conf_strings_t hosts;
    double ratio;
    int64_t buf;
    int64_t ttl;
    int color;
    bool fast;
    char *note;
} svc_t;

static const cz_conf_field_t upstream_fields[] = {
    {.key = "Host", .type = CZ_CONF_STRING, .offset = offsetof(upstream_t, host),
     .flags = CZ_CONF_REQUIRED},
    {.key = "Port", .type = CZ_CONF_INT, .offset = offsetof(upstream_t, port), .def = "80",
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 1, .max = 65535},
    {.key = "Weight", .type = CZ_CONF_INT, .offset = offsetof(upstream_t, weight), .def = "1",
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 1, .max = 100},
    {.key = "Tags", .type = CZ_CONF_STRINGS, .offset = offsetof(upstream_t, tags)},
    {0},
};

static const cz_conf_field_t auth_fields[] = {
    {.key = "AccessSecret", .type = CZ_CONF_STRING, .offset = offsetof(auth_t, access_secret),
     .flags = CZ_CONF_REQUIRED},
    {.key = "AccessExpire", .type = CZ_CONF_INT, .offset = offsetof(auth_t, access_expire),
     .def = "86400"},
    {0},
};

static const char *const colors[] = {"red", "green", "blue", NULL};

static const cz_conf_field_t svc_fields[] = {
    {.key = "RestConf", .type = CZ_CONF_INLINE, .offset = offsetof(svc_t, rest),
     .sub = cz_rest_conf_fields},
    {.key = "Auth", .type = CZ_CONF_OBJECT, .offset = offsetof(svc_t, auth), .sub = auth_fields},
    {.key = "Upstreams", .type = CZ_CONF_ARRAY, .offset = offsetof(svc_t, upstreams),
     .sub = upstream_fields, .elem_size = sizeof(upstream_t)},
    {.key = "Hosts", .type = CZ_CONF_STRINGS, .offset = offsetof(svc_t, hosts), .def = "localhost"},
    {.key = "Ratio", .type = CZ_CONF_DOUBLE, .offset = offsetof(svc_t, ratio), .def = "0.5",
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 0, .max = 1},
    {.key = "Buf", .type = CZ_CONF_SIZE, .offset = offsetof(svc_t, buf), .def = "64k",
     .flags = CZ_CONF_HAS_MAX, .max = 1 << 20},
    {.key = "Ttl", .type = CZ_CONF_DURATION, .offset = offsetof(svc_t, ttl), .def = "1.5s",
     .flags = CZ_CONF_HAS_MIN, .min = 100},
    {.key = "Color", .type = CZ_CONF_ENUM, .offset = offsetof(svc_t, color), .def = "green",
     .enums = colors},
    {.key = "Fast", .type = CZ_CONF_BOOL, .offset = offsetof(svc_t, fast), .def = "yes"},
    {.key = "Note", .type = CZ_CONF_STRING, .offset = offsetof(svc_t, note)},
    {0},
};

#define BASE "Name: svc\nPort: 8080\nAuth: {AccessSecret: s3cret}\n"

static svc_t c;
static cz_diag_t d;

static int load(const char *yaml)
{
    memset(&c, 0x5a, sizeof c); /* proves the loader zeroes first */
    return cz_conf_load_string("t.yaml", yaml, strlen(yaml), svc_fields, &c, &d);
}

static bool all_zero(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((const unsigned char *)p)[i])
            return false;
    return true;
}

/* Asserts the whole diagnostic, and that a failed load left nothing allocated behind. */
#define ASSERT_DIAG(yaml, line_, col_, key_, msg_)                                        \
    do {                                                                                  \
        cr_assert_eq(load(yaml), CZ_EINVAL_CONF);                                         \
        cr_expect_str_eq(d.file, "t.yaml");                                               \
        cr_expect_eq(d.line, line_, "line %d", d.line);                                   \
        cr_expect_eq(d.col, col_, "col %d", d.col);                                       \
        cr_expect_str_eq(d.key, key_);                                                    \
        cr_expect_str_eq(d.msg, msg_);                                                    \
        cr_assert(all_zero(&c, offsetof(svc_t, note) + sizeof(char *)));                  \
    } while (0)

Test(conf_load, defaults_when_keys_absent)
{
    cr_assert_eq(load(BASE), 0, "%s", d.msg);
    cr_assert_str_eq(c.rest.name, "svc");
    cr_assert_eq(c.rest.port, 8080);
    cr_assert_str_eq(c.rest.host, "0.0.0.0");
    cr_assert_str_eq(c.auth.access_secret, "s3cret");
    cr_assert_eq(c.auth.access_expire, 86400);
    cr_assert_eq(c.upstreams.n, 0);
    cr_assert_null(c.upstreams.items);
    cr_assert_eq(c.hosts.n, 1);
    cr_assert_str_eq(c.hosts.items[0], "localhost");
    cr_assert_float_eq(c.ratio, 0.5, 1e-12);
    cr_assert_eq(c.buf, 65536);
    cr_assert_eq(c.ttl, 1500);
    cr_assert_eq(c.color, 1);
    cr_assert(c.fast);
    cr_assert_null(c.note);
    cz_conf_free(svc_fields, &c);
}

Test(conf_load, every_type_converts)
{
    cr_assert_eq(load(BASE "Ratio: 0.25\nBuf: 1MiB\nTtl: 2m\nColor: blue\nFast: off\n"
                           "Note: \"hello: world\"\nHosts: [a.example, b.example]\n"),
                 0, "%s", d.msg);
    cr_assert_float_eq(c.ratio, 0.25, 1e-12);
    cr_assert_eq(c.buf, 1 << 20);
    cr_assert_eq(c.ttl, 120000);
    cr_assert_eq(c.color, 2);
    cr_assert_not(c.fast);
    cr_assert_str_eq(c.note, "hello: world");
    cr_assert_eq(c.hosts.n, 2);
    cr_assert_str_eq(c.hosts.items[1], "b.example");
    cz_conf_free(svc_fields, &c);

    /* integer durations are milliseconds (go-zero), integer sizes are bytes */
    cr_assert_eq(load(BASE "Ttl: 250\nBuf: 4096\nHosts: single\n"), 0, "%s", d.msg);
    cr_assert_eq(c.ttl, 250);
    cr_assert_eq(c.buf, 4096);
    cr_assert_eq(c.hosts.n, 1);
    cr_assert_str_eq(c.hosts.items[0], "single");
    cz_conf_free(svc_fields, &c);
}

Test(conf_load, inline_embedding_and_nested_objects)
{
    cr_assert_eq(load("Name: api\nPort: 9\nMode: dev\nLog:\n  Level: error\n  Encoding: plain\n"
                      "Middlewares:\n  Breaker: false\nAuth:\n  AccessSecret: k\n"
                      "  AccessExpire: 60\n"),
                 0, "%s", d.msg);
    cr_assert_str_eq(c.rest.mode, "dev");
    cr_assert_eq(c.rest.log.level, 2);
    cr_assert_eq(c.rest.log.encoding, CZ_LOG_ENC_PLAIN);
    cr_assert_str_eq(c.rest.log.path, "logs"); /* sibling default inside a given object */
    cr_assert_not(c.rest.middlewares.breaker);
    cr_assert(c.rest.middlewares.shedding);
    cr_assert_eq(c.auth.access_expire, 60);
    cz_conf_free(svc_fields, &c);
}

Test(conf_load, array_of_objects_with_per_element_defaults)
{
    cr_assert_eq(load(BASE "Upstreams:\n"
                           "  - Host: a\n"
                           "  - {Host: b, Port: 8081, Weight: 5, Tags: [x, y]}\n"
                           "  - Host: c\n    Tags: z\n"),
                 0, "%s", d.msg);
    cr_assert_eq(c.upstreams.n, 3);
    upstream_t *u = c.upstreams.items;
    cr_assert_str_eq(u[0].host, "a");
    cr_assert_eq(u[0].port, 80);
    cr_assert_eq(u[0].weight, 1);
    cr_assert_eq(u[0].tags.n, 0);
    cr_assert_str_eq(u[1].host, "b");
    cr_assert_eq(u[1].port, 8081);
    cr_assert_eq(u[1].weight, 5);
    cr_assert_eq(u[1].tags.n, 2);
    cr_assert_str_eq(u[1].tags.items[1], "y");
    cr_assert_eq(u[2].tags.n, 1);
    cr_assert_str_eq(u[2].tags.items[0], "z");
    cz_conf_free(svc_fields, &c);
    cr_assert(all_zero(&c, offsetof(svc_t, note) + sizeof(char *)));
}

Test(conf_load, aliases_resolve_to_the_anchored_value)
{
    cr_assert_eq(load(BASE "Upstreams:\n  - &u {Host: a, Weight: 7}\n  - *u\n"), 0, "%s", d.msg);
    cr_assert_eq(c.upstreams.n, 2);
    upstream_t *u = c.upstreams.items;
    cr_assert_str_eq(u[1].host, "a");
    cr_assert_eq(u[1].weight, 7);
    cr_assert_neq(u[0].host, u[1].host); /* each element owns its strings */
    cz_conf_free(svc_fields, &c);
    /* a self-referencing alias ends in a type error, not a loop */
    ASSERT_DIAG(BASE "Upstreams: &a [*a]\n", 4, 12, "Upstreams[0]",
                "expected a mapping, got a sequence");
}

Test(conf_load, null_value_means_absent)
{
    cr_assert_eq(load(BASE "Host: ~\nNote:\nRatio: null\nUpstreams:\nLog:\n"), 0, "%s", d.msg);
    cr_assert_str_eq(c.rest.host, "0.0.0.0");
    cr_assert_null(c.note);
    cr_assert_float_eq(c.ratio, 0.5, 1e-12);
    cr_assert_eq(c.rest.log.stat, true);
    cz_conf_free(svc_fields, &c);
    /* but a quoted empty string is a value */
    cr_assert_eq(load(BASE "Host: ''\n"), 0);
    cr_assert_str_eq(c.rest.host, "");
    cz_conf_free(svc_fields, &c);
}

Test(conf_load, env_substitution)
{
    setenv("CZ_T_PORT", "9090", 1);
    setenv("CZ_T_SECRET", "from-env", 1);
    unsetenv("CZ_T_NOPE");
    cr_assert_eq(load("Name: svc-${CZ_T_NOPE:-x}\nPort: ${CZ_T_PORT}\n"
                      "Auth: {AccessSecret: \"${CZ_T_SECRET}\"}\nNote: $${CZ_T_PORT}\n"
                      "Ttl: ${CZ_T_NOPE:-3s}\n"),
                 0, "%s", d.msg);
    cr_assert_str_eq(c.rest.name, "svc-x");
    cr_assert_eq(c.rest.port, 9090);
    cr_assert_str_eq(c.auth.access_secret, "from-env");
    cr_assert_str_eq(c.note, "${CZ_T_PORT}");
    cr_assert_eq(c.ttl, 3000);
    cz_conf_free(svc_fields, &c);

    ASSERT_DIAG("Name: svc\nPort: ${CZ_T_NOPE}\n", 2, 7, "Port",
                "environment variable CZ_T_NOPE is not set");
    setenv("CZ_T_PORT", "eighty", 1);
    ASSERT_DIAG("Name: svc\nPort: ${CZ_T_PORT}\n", 2, 7, "Port",
                "expected an integer, got \"eighty\"");
}

Test(conf_load, unknown_keys)
{
    ASSERT_DIAG(BASE "Prot: 1\n", 4, 1, "Prot", "unknown key; did you mean \"Port\"?");
    ASSERT_DIAG(BASE "port: 1\n", 4, 1, "port",
                "unknown key; did you mean \"Port\"? (keys are case-sensitive)");
    ASSERT_DIAG(BASE "Log:\n  Levl: info\n", 5, 3, "Log.Levl",
                "unknown key; did you mean \"Level\"?");
    ASSERT_DIAG("Name: svc\nPort: 1\nAuth:\n  AccessSecret: x\n  Zone: eu\n", 5, 3, "Auth.Zone",
                "unknown key (valid keys: AccessSecret, AccessExpire)");
    ASSERT_DIAG(BASE "Zzzzzzzz: 1\n", 4, 1, "Zzzzzzzz", "unknown key");
    ASSERT_DIAG(BASE "Upstreams:\n  - Host: a\n  - Host: b\n    Wieght: 2\n", 7, 5,
                "Upstreams[1].Wieght", "unknown key; did you mean \"Weight\"?");
    ASSERT_DIAG(BASE "[a]: 1\n", 4, 1, "", "keys must be plain names, got a sequence");
}

Test(conf_load, wrong_types)
{
    ASSERT_DIAG("Name: svc\nPort: abc\n", 2, 7, "Port", "expected an integer, got \"abc\"");
    ASSERT_DIAG(BASE "Ratio: half\n", 4, 8, "Ratio", "expected a number, got \"half\"");
    ASSERT_DIAG(BASE "Fast: maybe\n", 4, 7, "Fast",
                "expected a boolean (true/false), got \"maybe\"");
    ASSERT_DIAG(BASE "Ttl: soon\n", 4, 6, "Ttl",
                "expected a duration (milliseconds, or like 500ms, 1.5s, 2m, 1h), got \"soon\"");
    ASSERT_DIAG(BASE "Buf: lots\n", 4, 6, "Buf",
                "expected a size (bytes, or like 64k, 64KiB, 1m, 1MiB, 1g), got \"lots\"");
    ASSERT_DIAG(BASE "Log: verbose\n", 4, 6, "Log", "expected a mapping, got \"verbose\"");
    ASSERT_DIAG(BASE "Note: [a]\n", 4, 7, "Note", "expected a string, got a sequence");
    ASSERT_DIAG(BASE "Hosts: {a: 1}\n", 4, 8, "Hosts",
                "expected a string or a sequence of strings, got a mapping");
    ASSERT_DIAG(BASE "Hosts: [a, [b]]\n", 4, 12, "Hosts[1]", "expected a string, got a sequence");
    ASSERT_DIAG(BASE "Upstreams: {Host: a}\n", 4, 12, "Upstreams",
                "expected a sequence of mappings, got a mapping");
    ASSERT_DIAG(BASE "Upstreams: [a]\n", 4, 13, "Upstreams[0]", "expected a mapping, got \"a\"");
    ASSERT_DIAG(BASE "Note: \"a\\0b\"\n", 4, 7, "Note", "value contains a NUL byte");
}

Test(conf_load, bounds_and_enums)
{
    ASSERT_DIAG("Name: svc\nPort: 70000\n", 2, 7, "Port", "must be 1..65535, got 70000");
    ASSERT_DIAG(BASE "Ratio: 1.5\n", 4, 8, "Ratio", "must be 0..1, got 1.5");
    ASSERT_DIAG(BASE "Buf: 2m\n", 4, 6, "Buf", "must be <= 1MiB, got 2MiB");
    ASSERT_DIAG(BASE "Ttl: 50ms\n", 4, 6, "Ttl", "must be >= 100ms, got 50ms");
    ASSERT_DIAG(BASE "Color: Red\n", 4, 8, "Color",
                "unknown value \"Red\" (allowed: red, green, blue)");
    ASSERT_DIAG(BASE "Mode: staging\n", 4, 7, "Mode",
                "unknown value \"staging\" (allowed: dev, test, rt, pre, pro)");
    ASSERT_DIAG(BASE "Upstreams:\n  - Host: a\n  - Host: b\n    Port: 0\n", 7, 11,
                "Upstreams[1].Port", "must be 1..65535, got 0");
}

Test(conf_load, missing_required_keys_point_at_the_mapping)
{
    ASSERT_DIAG("Port: 1\nAuth: {AccessSecret: s}\n", 1, 1, "Name", "missing required key");
    ASSERT_DIAG("Name: svc\nPort: 1\nAuth:\n  AccessExpire: 5\n", 4, 3, "Auth.AccessSecret",
                "missing required key");
    /* an absent object still has its required keys checked, at the parent mapping */
    ASSERT_DIAG("  Name: svc\n  Port: 1\n", 1, 3, "Auth.AccessSecret", "missing required key");
    ASSERT_DIAG(BASE "Upstreams:\n  - Host: a\n  - Port: 1\n", 6, 5, "Upstreams[1].Host",
                "missing required key");
    ASSERT_DIAG("Name:\nPort: 1\n", 1, 6, "Name", "required key has no value");
    ASSERT_DIAG("", 1, 1, "Name", "missing required key");
}

Test(conf_load, duplicate_keys)
{
    ASSERT_DIAG(BASE "Name: again\n", 4, 1, "Name", "duplicate key (first at line 1, column 1)");
    ASSERT_DIAG(BASE "Log: {Level: info, Level: debug}\n", 4, 20, "Log.Level",
                "duplicate key (first at line 4, column 7)");
}

Test(conf_load, yaml_errors_and_bad_documents)
{
    ASSERT_DIAG("Name: svc\nPort: [1,\n", 3, 1, "",
                "YAML: did not find expected node content (while parsing a flow node at 3:1)");
    ASSERT_DIAG("- a\n- b\n", 1, 1, "", "the document must be a mapping of keys, got a sequence");
    ASSERT_DIAG("just text\n", 1, 1, "",
                "the document must be a mapping of keys, got \"just text\"");
}

Test(conf_load, first_error_wins)
{
    ASSERT_DIAG("Port: abc\nBogus: 1\n", 1, 7, "Port", "expected an integer, got \"abc\"");
}

static char tmpl[64];

static const char *write_tmp(const char *text)
{
    strcpy(tmpl, "/tmp/cz_conf_XXXXXX.yaml");
    int fd = mkstemps(tmpl, 5);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return tmpl;
}

Test(conf_load, real_file_success_and_error_positions)
{
    const char *path = write_tmp(BASE "Upstreams:\n  - Host: a\n    Weight: 3\n");
    cr_assert_eq(cz_conf_load(path, svc_fields, &c, &d), 0, "%s", d.msg);
    cr_assert_eq(((upstream_t *)c.upstreams.items)[0].weight, 3);
    cz_conf_free(svc_fields, &c);
    unlink(path);

    path = write_tmp(BASE "Upstreams:\n  - Host: a\n    Weight: 300\n");
    cr_assert_eq(cz_conf_load(path, svc_fields, &c, &d), CZ_EINVAL_CONF);
    char want[512], got[700];
    snprintf(want, sizeof want, "%s:6:13: Upstreams[0].Weight: must be 1..100, got 300", path);
    cr_assert_str_eq(cz_diag_format(&d, got, sizeof got), want);
    cr_assert(all_zero(&c, offsetof(svc_t, note) + sizeof(char *)));
    unlink(path);
}

Test(conf_load, file_not_found)
{
    cr_assert_eq(cz_conf_load("/nonexistent/czero.yaml", svc_fields, &c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.file, "/nonexistent/czero.yaml");
    cr_assert_eq(d.line, 0);
    cr_assert_str_eq(d.msg, "cannot open: No such file or directory");
    char got[700];
    cr_assert_str_eq(cz_diag_format(&d, got, sizeof got),
                     "/nonexistent/czero.yaml: cannot open: No such file or directory");
    cr_assert_eq(cz_conf_load("/tmp", svc_fields, &c, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.msg, "cannot read: Is a directory");
}

Test(conf_load, free_zeroes_and_allows_reload)
{
    for (int round = 0; round < 2; round++) {
        cr_assert_eq(load(BASE "Note: n\nHosts: [a, b, c]\nUpstreams:\n  - {Host: a, Tags: [t]}\n"),
                     0, "%s", d.msg);
        cz_conf_free(svc_fields, &c);
        cr_assert(all_zero(&c, offsetof(svc_t, note) + sizeof(char *)));
    }
    cz_conf_free(svc_fields, &c); /* twice is harmless */
    /* failed loads after partial allocation (strings, array elements) leave nothing either */
    cr_assert_eq(load(BASE "Note: n\nHosts: [a, b]\nUpstreams:\n  - {Host: a, Tags: [t]}\n"
                           "  - {Host: b, Tags: [u, [v]]}\n"),
                 CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Upstreams[1].Tags[1]");
    cr_assert_eq(LEAKS(), 0, "LeakSanitizer found leaks (see stderr)");
}

Test(conf_load, defaults_only)
{
    cr_assert_eq(cz_conf_defaults(svc_fields, &c, &d), 0, "%s", d.msg);
    cr_assert_null(c.rest.name); /* required keys are not checked here */
    cr_assert_eq(c.rest.port, 0);
    cr_assert_eq(c.ttl, 1500);
    cr_assert_str_eq(c.hosts.items[0], "localhost");
    cr_assert_eq(c.auth.access_expire, 86400);
    cz_conf_free(svc_fields, &c);
}

Test(conf_load, bad_default_in_a_table_is_reported)
{
    static const cz_conf_field_t inner[] = {
        {.key = "N", .type = CZ_CONF_INT, .offset = 0, .def = "ten"},
        {0},
    };
    const cz_conf_field_t bad[] = {
        {.key = "Obj", .type = CZ_CONF_OBJECT, .offset = 0, .sub = inner},
        {0},
    };
    int64_t v;
    cr_assert_eq(cz_conf_defaults(bad, &v, &d), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Obj.N");
    cr_assert_str_eq(d.msg, "bad default: expected an integer, got \"ten\"");
}

Test(conf_load, must_load_prints_and_exits)
{
    const char *path = write_tmp("Name: svc\nPort: nope\n");
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        cz_conf_must_load(path, svc_fields, &c);
        _exit(0);
    }
    close(pipefd[1]);
    char out[1024] = {0};
    ssize_t n = 0, r;
    while ((r = read(pipefd[0], out + n, sizeof out - 1 - (size_t)n)) > 0)
        n += r;
    int status;
    waitpid(pid, &status, 0);
    unlink(path);
    cr_assert(WIFEXITED(status));
    cr_assert_eq(WEXITSTATUS(status), 1);
    char want[512];
    snprintf(want, sizeof want, "config error: %s:2:7: Port: expected an integer, got \"nope\"\n",
             path);
    /* only the first line: a sanitizer may add its own notes when the forked child exits */
    char *nl = strchr(out, '\n');
    cr_assert_not_null(nl);
    nl[1] = '\0';
    cr_assert_str_eq(out, want);
}
