/* SPDX-License-Identifier: MIT
 *
 * Tests for src/conf/rest_conf.c: the defaults, bounds and options of cz_rest_conf_fields and
 * cz_log_conf_fields match go-zero's struct tags (and czero's header), and a go-zero style YAML
 * file with the log-rotation keys czero ignores loads unchanged.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "czero/config.h"
#include "czero/log.h"

static cz_rest_conf_t c;
static cz_diag_t d;

static int load(const char *yaml)
{
    return cz_conf_load_string("rest.yaml", yaml, strlen(yaml), cz_rest_conf_fields, &c, &d);
}

Test(rest_conf, defaults)
{
    cr_assert_eq(load("Name: hello\nPort: 8888\n"), 0, "%s", d.msg);
    cr_assert_str_eq(c.name, "hello");
    cr_assert_str_eq(c.mode, "pro");
    cr_assert_null(c.log.service_name);
    cr_assert_eq(c.log.mode, CZ_LOG_MODE_CONSOLE);
    cr_assert_eq(c.log.encoding, CZ_LOG_ENC_JSON);
    cr_assert_null(c.log.time_format);
    cr_assert_str_eq(c.log.path, "logs");
    cr_assert_eq(c.log.level, CZ_LOG_INFO);
    cr_assert(c.log.stat);
    cr_assert_eq(c.log.max_content_length, 0);
    cr_assert_not(c.dev_server.enabled);
    cr_assert_str_eq(c.dev_server.host, "0.0.0.0");
    cr_assert_eq(c.dev_server.port, 6060);
    cr_assert_str_eq(c.dev_server.metrics_path, "/metrics");
    cr_assert_str_eq(c.dev_server.health_path, "/healthz");
    cr_assert(c.dev_server.enable_metrics);
    cr_assert_str_eq(c.host, "0.0.0.0");
    cr_assert_eq(c.port, 8888);
    cr_assert_not(c.verbose);
    cr_assert_eq(c.max_conns, 10000);
    cr_assert_eq(c.max_bytes, 1048576);
    cr_assert_eq(c.timeout_ms, 3000);
    cr_assert_eq(c.cpu_threshold, 900);
    const cz_middlewares_conf_t *m = &c.middlewares;
    cr_assert(m->trace && m->log && m->prometheus && m->max_conns && m->breaker && m->shedding &&
              m->timeout && m->recover && m->metrics && m->max_bytes && m->gunzip);
    cr_assert_eq(c.workers, 0);
    cr_assert_eq(c.max_header_bytes, 8192);
    cr_assert_eq(c.max_request_line, 8192);
    cr_assert_eq(c.header_timeout_ms, 10000);
    cr_assert_eq(c.idle_timeout_ms, 60000);
    cr_assert_eq(c.read_timeout_ms, 30000);
    cr_assert_eq(c.write_timeout_ms, 30000);
    cr_assert_eq(c.shutdown_timeout_ms, 5500);
    cr_assert_eq(c.blocking_threads, 16);
    cr_assert_eq(c.blocking_queue, 1024);
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(rest_conf, go_zero_style_file_loads)
{
    const char *y = "Name: user-api\n"
                    "Host: 127.0.0.1\n"
                    "Port: 8888\n"
                    "Mode: dev\n"
                    "Timeout: 5000\n"
                    "MaxBytes: 8m\n"
                    "CpuThreshold: 1000\n"
                    "Verbose: true\n"
                    "Log:\n"
                    "  ServiceName: user\n"
                    "  Mode: file\n"
                    "  Encoding: plain\n"
                    "  TimeFormat: '%H:%M:%S'\n"
                    "  Path: /var/log/user\n"
                    "  Level: severe\n"
                    "  Stat: false\n"
                    "  MaxContentLength: 4k\n"
                    "  Compress: true\n"
                    "  KeepDays: 7\n"
                    "  StackCooldownMillis: 100\n"
                    "  MaxBackups: 3\n"
                    "  MaxSize: 100\n"
                    "  Rotation: size\n"
                    "DevServer:\n"
                    "  Enabled: true\n"
                    "  Port: 6470\n"
                    "Middlewares:\n"
                    "  Prometheus: false\n"
                    "  Gunzip: off\n"
                    "Workers: 2\n"
                    "IdleTimeout: 2m\n"
                    "ShutdownTimeout: 1s\n";
    cr_assert_eq(load(y), 0, "%d:%d %s: %s", d.line, d.col, d.key, d.msg);
    cr_assert_str_eq(c.mode, "dev");
    cr_assert_eq(c.timeout_ms, 5000);
    cr_assert_eq(c.max_bytes, 8 << 20);
    cr_assert_eq(c.cpu_threshold, 1000);
    cr_assert(c.verbose);
    cr_assert_str_eq(c.log.service_name, "user");
    cr_assert_eq(c.log.mode, CZ_LOG_MODE_FILE);
    cr_assert_eq(c.log.encoding, CZ_LOG_ENC_PLAIN);
    cr_assert_str_eq(c.log.time_format, "%H:%M:%S");
    cr_assert_str_eq(c.log.path, "/var/log/user");
    cr_assert_eq(c.log.level, CZ_LOG_SEVERE);
    cr_assert_not(c.log.stat);
    cr_assert_eq(c.log.max_content_length, 4096);
    cr_assert(c.dev_server.enabled);
    cr_assert_eq(c.dev_server.port, 6470);
    cr_assert_not(c.middlewares.prometheus);
    cr_assert_not(c.middlewares.gunzip);
    cr_assert(c.middlewares.breaker);
    cr_assert_eq(c.workers, 2);
    cr_assert_eq(c.idle_timeout_ms, 120000);
    cr_assert_eq(c.shutdown_timeout_ms, 1000);
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(rest_conf, bounds_and_options)
{
    static const struct { const char *extra, *key, *msg; } cases[] = {
        {"CpuThreshold: 1001", "CpuThreshold", "must be 0..1000, got 1001"},
        {"Workers: 257", "Workers", "must be 0..256, got 257"},
        {"Mode: prod", "Mode", "unknown value \"prod\" (allowed: dev, test, rt, pre, pro)"},
        {"Log: {Level: warn}", "Log.Level",
         "unknown value \"warn\" (allowed: debug, info, error, severe)"},
        {"Log: {Mode: syslog}", "Log.Mode",
         "unknown value \"syslog\" (allowed: console, file, volume)"},
        {"Log: {Encoding: xml}", "Log.Encoding", "unknown value \"xml\" (allowed: json, plain)"},
        {"DevServer: {Port: 0}", "DevServer.Port", "must be 1..65535, got 0"},
        {"HeaderTimeout: 0", "HeaderTimeout", "must be 1ms..24h, got 0ms"},
        {"Telemetry: {Sampler: x}", "Telemetry.Sampler", "expected a number, got \"x\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char y[256];
        snprintf(y, sizeof y, "Name: a\nPort: 1\n%s\n", cases[i].extra);
        cr_assert_eq(load(y), CZ_EINVAL_CONF, "%s", cases[i].extra);
        cr_expect_eq(d.line, 3, "%s", cases[i].extra);
        cr_expect_str_eq(d.key, cases[i].key);
        cr_expect_str_eq(d.msg, cases[i].msg);
        cr_assert_null(c.name);
    }
    cr_assert_eq(load("Port: 1\n"), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Name");
    cr_assert_eq(load("Name: a\n"), CZ_EINVAL_CONF);
    cr_assert_str_eq(d.key, "Port");
    cr_assert_str_eq(d.msg, "missing required key");
}

Test(rest_conf, log_table_alone)
{
    cz_log_conf_t lc;
    cr_assert_eq(cz_conf_defaults(cz_log_conf_fields, &lc, &d), 0);
    cr_assert_str_eq(lc.path, "logs");
    cr_assert_eq(lc.level, CZ_LOG_INFO);
    cr_assert(lc.stat);
    cz_conf_free(cz_log_conf_fields, &lc);
    const char *y = "Level: debug\nEncoding: plain\n";
    cr_assert_eq(cz_conf_load_string("log.yaml", y, strlen(y), cz_log_conf_fields, &lc, &d), 0);
    cr_assert_eq(lc.level, CZ_LOG_DEBUG);
    cz_conf_free(cz_log_conf_fields, &lc);
    cr_assert_null(lc.path);
}
