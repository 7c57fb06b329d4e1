/* SPDX-License-Identifier: MIT
 *
 * rest_conf.c: field tables for cz_log_conf_t and cz_rest_conf_t (go-zero's logx.LogConf and
 * rest.RestConf with service.ServiceConf embedded).
 *
 * Keys, defaults and options follow go-zero's struct tags: core/logx/config.go,
 * core/service/serviceconf.go, rest/config.go and internal/devserver/config.go. Where czero's
 * header documents a different default (DevServer.Enabled is false here, true in go-zero) the
 * header wins, because the dev server opens a second port and czero does not do that uninvited.
 * go-zero keys czero does not implement are errors, except a few logx keys (CompressType,
 * StackCooldownMillis), which are accepted and ignored so that existing go-zero YAML files load
 * unchanged.
 */
#include "conf_int.h"
#include "tls/tls_int.h"

#define F(k, t, s, m, d) {.key = k, .type = t, .offset = offsetof(s, m), .def = d}
#define RANGE(k, t, s, m, d, lo, hi)                                                       \
    {.key = k, .type = t, .offset = offsetof(s, m), .def = d,                              \
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = lo, .max = hi}
#define IGNORED(k) {.key = k, .type = CZ_CONF_IGNORE}

static const char *const log_modes[] = {"console", "file", "volume", NULL};
static const char *const log_encodings[] = {"json", "plain", NULL};
/* Same order as CZ_LOG_ROTATE_*. */
static const char *const log_rotations[] = {"daily", "size", NULL};
/* Same order as cz_log_level_t, so the index is the level. */
static const char *const log_levels[] = {"debug", "info", "error", "severe", NULL};
/* service.ServiceConf.Mode: options=dev|test|rt|pre|pro, default=pro */
static const char *const service_modes[] = {"dev", "test", "rt", "pre", "pro", NULL};

const cz_conf_field_t cz_log_conf_fields[] = {
    F("ServiceName", CZ_CONF_STRING, cz_log_conf_t, service_name, NULL),
    {.key = "Mode", .type = CZ_CONF_ENUM, .offset = offsetof(cz_log_conf_t, mode),
     .def = "console", .enums = log_modes},
    {.key = "Encoding", .type = CZ_CONF_ENUM, .offset = offsetof(cz_log_conf_t, encoding),
     .def = "json", .enums = log_encodings},
    /* NULL means the logger's own ISO-8601-with-milliseconds format (go-zero: optional). */
    F("TimeFormat", CZ_CONF_STRING, cz_log_conf_t, time_format, NULL),
    F("Path", CZ_CONF_STRING, cz_log_conf_t, path, "logs"),
    {.key = "Level", .type = CZ_CONF_ENUM, .offset = offsetof(cz_log_conf_t, level),
     .def = "info", .enums = log_levels},
    F("Stat", CZ_CONF_BOOL, cz_log_conf_t, stat, "true"),
    /* go-zero: MaxContentLength uint32, optional */
    RANGE("MaxContentLength", CZ_CONF_SIZE, cz_log_conf_t, max_content_length, "0", 0,
          UINT32_MAX),
    /* Rotation (core/logx/config.go); the upper bounds only keep the arithmetic in range. */
    F("Compress", CZ_CONF_BOOL, cz_log_conf_t, compress, "false"),
    IGNORED("CompressType"), /* gzip is the only format logx writes (gzipExt ".gz") */
    RANGE("KeepDays", CZ_CONF_INT, cz_log_conf_t, keep_days, "0", 0, 36500),
    IGNORED("StackCooldownMillis"),
    RANGE("MaxBackups", CZ_CONF_INT, cz_log_conf_t, max_backups, "0", 0, 1000000),
    RANGE("MaxSize", CZ_CONF_INT, cz_log_conf_t, max_size, "0", 0, 1 << 20),
    {.key = "Rotation", .type = CZ_CONF_ENUM, .offset = offsetof(cz_log_conf_t, rotation),
     .def = "daily", .enums = log_rotations},
    F("FileTimeFormat", CZ_CONF_STRING, cz_log_conf_t, file_time_format, NULL),
    {0},
};

static const cz_conf_field_t dev_server_fields[] = {
    F("Enabled", CZ_CONF_BOOL, cz_dev_server_conf_t, enabled, "false"),
    F("Host", CZ_CONF_STRING, cz_dev_server_conf_t, host, "0.0.0.0"),
    RANGE("Port", CZ_CONF_INT, cz_dev_server_conf_t, port, "6060", 1, 65535),
    F("MetricsPath", CZ_CONF_STRING, cz_dev_server_conf_t, metrics_path, "/metrics"),
    F("HealthPath", CZ_CONF_STRING, cz_dev_server_conf_t, health_path, "/healthz"),
    F("EnableMetrics", CZ_CONF_BOOL, cz_dev_server_conf_t, enable_metrics, "true"),
    {0},
};

/* rest.MiddlewaresConf: every link default=true. */
static const cz_conf_field_t middlewares_fields[] = {
    F("Trace", CZ_CONF_BOOL, cz_middlewares_conf_t, trace, "true"),
    F("Log", CZ_CONF_BOOL, cz_middlewares_conf_t, log, "true"),
    F("Prometheus", CZ_CONF_BOOL, cz_middlewares_conf_t, prometheus, "true"),
    F("MaxConns", CZ_CONF_BOOL, cz_middlewares_conf_t, max_conns, "true"),
    F("Breaker", CZ_CONF_BOOL, cz_middlewares_conf_t, breaker, "true"),
    F("Shedding", CZ_CONF_BOOL, cz_middlewares_conf_t, shedding, "true"),
    F("Timeout", CZ_CONF_BOOL, cz_middlewares_conf_t, timeout, "true"),
    F("Recover", CZ_CONF_BOOL, cz_middlewares_conf_t, recover, "true"),
    F("Metrics", CZ_CONF_BOOL, cz_middlewares_conf_t, metrics, "true"),
    F("MaxBytes", CZ_CONF_BOOL, cz_middlewares_conf_t, max_bytes, "true"),
    F("Gunzip", CZ_CONF_BOOL, cz_middlewares_conf_t, gunzip, "true"),
    {0},
};

static const cz_conf_field_t telemetry_fields[] = {
    F("Name", CZ_CONF_STRING, cz_telemetry_conf_t, name, NULL),
    F("Endpoint", CZ_CONF_STRING, cz_telemetry_conf_t, endpoint, NULL),
    /* go-zero trace.Config: Sampler float64 default=1.0 */
    F("Sampler", CZ_CONF_DOUBLE, cz_telemetry_conf_t, sampler, "1.0"),
    F("Batcher", CZ_CONF_STRING, cz_telemetry_conf_t, batcher, "otlphttp"),
    F("OtlpHttpPath", CZ_CONF_STRING, cz_telemetry_conf_t, otlp_http_path, "/v1/traces"),
    IGNORED("OtlpHeaders"),
    IGNORED("Disabled"),
    {0},
};

static const cz_conf_field_t prometheus_fields[] = {
    F("Host", CZ_CONF_STRING, cz_prometheus_conf_t, host, NULL),
    RANGE("Port", CZ_CONF_INT, cz_prometheus_conf_t, port, "9101", 1, 65535),
    F("Path", CZ_CONF_STRING, cz_prometheus_conf_t, path, "/metrics"),
    {0},
};

static const cz_conf_field_t signature_key_fields[] = {
    {.key = "Fingerprint", .type = CZ_CONF_STRING, .offset = offsetof(cz_signature_key_t, fingerprint),
     .flags = CZ_CONF_REQUIRED},
    {.key = "KeyFile", .type = CZ_CONF_STRING, .offset = offsetof(cz_signature_key_t, key_file),
     .flags = CZ_CONF_REQUIRED},
    {0},
};

static const cz_conf_field_t signature_fields[] = {
    F("Strict", CZ_CONF_BOOL, cz_signature_conf_t, strict, "false"),
    /* go-zero SignatureConf: Expiry time.Duration default=1h */
    RANGE("Expiry", CZ_CONF_DURATION, cz_signature_conf_t, expiry_ms, "1h", 1, 24 * 3600 * 1000),
    {.key = "PrivateKeys", .type = CZ_CONF_ARRAY, .offset = offsetof(cz_signature_conf_t, private_keys),
     .sub = signature_key_fields, .elem_size = sizeof(cz_signature_key_t)},
    {0},
};

/* go-zero discov.EtcdConf. Hosts and Key are not marked required because an absent Etcd block
 * (no registration) still gets this table's defaults; cz_etcd_conf_check() validates a present
 * one. The TLS keys are go-zero's, at this level (cz_tls_client_conf_t inside). */
const cz_conf_field_t cz_etcd_conf_fields[] = {
    F("Hosts", CZ_CONF_STRINGS, cz_etcd_conf_t, hosts, NULL),
    F("Key", CZ_CONF_STRING, cz_etcd_conf_t, key, NULL),
    RANGE("ID", CZ_CONF_INT, cz_etcd_conf_t, id, "0", 0, INT64_MAX),
    RANGE("TTL", CZ_CONF_INT, cz_etcd_conf_t, ttl_s, "10", 1, 3600),
    F("CertFile", CZ_CONF_STRING, cz_etcd_conf_t, tls.cert_file, NULL),
    F("CertKeyFile", CZ_CONF_STRING, cz_etcd_conf_t, tls.key_file, NULL),
    F("CACertFile", CZ_CONF_STRING, cz_etcd_conf_t, tls.ca_file, NULL),
    F("InsecureSkipVerify", CZ_CONF_BOOL, cz_etcd_conf_t, tls.insecure_skip_verify, "false"),
    F("User", CZ_CONF_STRING, cz_etcd_conf_t, user, NULL),
    F("Pass", CZ_CONF_STRING, cz_etcd_conf_t, pass, NULL),
    {0},
};

#define DUR(k, m, d) RANGE(k, CZ_CONF_DURATION, cz_rest_conf_t, m, d, 1, 24 * 3600 * 1000)

const cz_conf_field_t cz_rest_conf_fields[] = {
    /* service.ServiceConf */
    {.key = "Name", .type = CZ_CONF_STRING, .offset = offsetof(cz_rest_conf_t, name),
     .flags = CZ_CONF_REQUIRED},
    {.key = "Mode", .type = CZ_CONF_STRING, .offset = offsetof(cz_rest_conf_t, mode),
     .def = "pro", .enums = service_modes},
    {.key = "Log", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, log),
     .sub = cz_log_conf_fields},
    {.key = "DevServer", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, dev_server),
     .sub = dev_server_fields},
    /* rest.RestConf */
    F("Host", CZ_CONF_STRING, cz_rest_conf_t, host, "0.0.0.0"),
    {.key = "Port", .type = CZ_CONF_INT, .offset = offsetof(cz_rest_conf_t, port),
     .flags = CZ_CONF_REQUIRED | CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 1, .max = 65535},
    /* go-zero: CertFile, KeyFile optional; bound into .tls, whose other keys are under Tls */
    F("CertFile", CZ_CONF_STRING, cz_rest_conf_t, tls.cert_file, NULL),
    {.key = "KeyFile", .type = CZ_CONF_STRING, .offset = offsetof(cz_rest_conf_t, tls.key_file),
     .check = cz__tls_conf_check_keyfile},
    F("Verbose", CZ_CONF_BOOL, cz_rest_conf_t, verbose, "false"),
    RANGE("MaxConns", CZ_CONF_INT, cz_rest_conf_t, max_conns, "10000", 0, INT32_MAX),
    RANGE("MaxBytes", CZ_CONF_SIZE, cz_rest_conf_t, max_bytes, "1048576", 0, INT64_MAX),
    /* go-zero: Timeout int64 milliseconds, default=3000; 0 disables the timeout middleware */
    RANGE("Timeout", CZ_CONF_DURATION, cz_rest_conf_t, timeout_ms, "3000", 0, 24 * 3600 * 1000),
    /* go-zero says range=[0:1000); czero's header documents 0..1000 inclusive */
    RANGE("CpuThreshold", CZ_CONF_INT, cz_rest_conf_t, cpu_threshold, "900", 0, 1000),
    {.key = "Middlewares", .type = CZ_CONF_OBJECT,
     .offset = offsetof(cz_rest_conf_t, middlewares), .sub = middlewares_fields},
    {.key = "Telemetry", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, telemetry),
     .sub = telemetry_fields},
    {.key = "Prometheus", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, prometheus),
     .sub = prometheus_fields},
    {.key = "Signature", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, signature),
     .sub = signature_fields},
    F("TraceIgnorePaths", CZ_CONF_STRINGS, cz_rest_conf_t, trace_ignore_paths, NULL),
    DUR("SlowThreshold", slow_threshold_ms, "500ms"),
    /* czero engine knobs */
    RANGE("Workers", CZ_CONF_INT, cz_rest_conf_t, workers, "0", 0, 256),
    /* nginx listen ... reuseport: off by default, so a port another process holds fails start-up */
    F("ReusePort", CZ_CONF_BOOL, cz_rest_conf_t, reuse_port, "false"),
    RANGE("MaxHeaderBytes", CZ_CONF_SIZE, cz_rest_conf_t, max_header_bytes, "8192", 256,
          64 << 20),
    RANGE("MaxRequestLine", CZ_CONF_SIZE, cz_rest_conf_t, max_request_line, "8192", 64,
          64 << 20),
    DUR("HeaderTimeout", header_timeout_ms, "10s"),
    DUR("IdleTimeout", idle_timeout_ms, "60s"),
    DUR("ReadTimeout", read_timeout_ms, "30s"),
    DUR("WriteTimeout", write_timeout_ms, "30s"),
    /* go-zero core/proc/shutdown.go: delayTimeBeforeForceQuit = waitTime = 5500ms */
    RANGE("ShutdownTimeout", CZ_CONF_DURATION, cz_rest_conf_t, shutdown_timeout_ms, "5.5s", 0,
          24 * 3600 * 1000),
    /* nginx lingering_timeout 5s */
    DUR("LingerTimeout", linger_timeout_ms, "5s"),
    RANGE("BlockingThreads", CZ_CONF_INT, cz_rest_conf_t, blocking_threads, "16", 1, 1024),
    RANGE("BlockingQueue", CZ_CONF_INT, cz_rest_conf_t, blocking_queue, "1024", 0, 1 << 20),
    /* nginx worker_connections: open connections; 0 = the open-files limit less a reserve */
    RANGE("MaxConnections", CZ_CONF_INT, cz_rest_conf_t, max_connections, "0", 0, INT32_MAX),
    {.key = "Etcd", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, etcd),
     .sub = cz_etcd_conf_fields},
    /* czero: SNI certificates, client certificates, versions, ciphers, tickets, ALPN */
    {.key = "Tls", .type = CZ_CONF_OBJECT, .offset = offsetof(cz_rest_conf_t, tls),
     .sub = cz_tls_conf_fields, .check = cz__tls_conf_check},
    {0},
};
