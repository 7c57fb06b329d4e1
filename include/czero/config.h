/* SPDX-License-Identifier: MIT
 *
 * config.h: YAML configuration, loaded through field tables.
 *
 * A component describes its configuration struct with a table of cz_conf_field_t (nginx's
 * ngx_command_t / Redis' standardConfig idea): key, type, offset, default, bounds. The generic
 * loader walks the YAML document, applies defaults, checks types and bounds, substitutes ${ENV}
 * in scalars, and reports the first problem as "file:line:col: Key.Path: message" in a cz_diag_t.
 * Unknown keys, wrong types and missing required keys are errors. Keys keep go-zero's names.
 *
 * A service extends the server's configuration the go-zero way: its own struct embeds
 * cz_rest_conf_t and its table has a CZ_CONF_INLINE entry pointing at cz_rest_conf_fields.
 *
 * A YAML null (`Key:`, `Key: ~`) counts as absent: the default applies, or a required key is
 * reported. For STRINGS a default is one item; OBJECT and ARRAY ignore `def` (an absent object
 * still gets its sub-table's defaults, an absent array is empty). An ENUM without a default is 0.
 * Anchors and aliases work; merge keys ("<<") do not (they are unknown keys). Only the first
 * document of a stream is read.
 */
#ifndef CZERO_CONFIG_H
#define CZERO_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CZ_CONF_STRING,   /* char * (malloc'd, freed by cz_conf_free); NULL when absent without default */
    CZ_CONF_INT,      /* int64_t */
    CZ_CONF_DOUBLE,   /* double */
    CZ_CONF_BOOL,     /* bool: true/false (YAML 1.1 yes/no/on/off also accepted) */
    CZ_CONF_DURATION, /* int64_t milliseconds: a plain integer means ms (go-zero), or "1.5s", "300ms", "2m", "1h" */
    CZ_CONF_SIZE,     /* int64_t bytes: integer, or "64k"/"64KiB"/"1m"/"1MiB"/"1g" */
    CZ_CONF_ENUM,     /* int: index into .enums (string match, case-sensitive) */
    CZ_CONF_OBJECT,   /* nested struct at offset, described by .sub */
    CZ_CONF_INLINE,   /* .sub's keys appear at this level (Go struct embedding); struct at offset */
    CZ_CONF_STRINGS,  /* cz_conf_strings_t: YAML sequence of scalars (a single scalar = 1 item) */
    CZ_CONF_ARRAY,    /* cz_conf_array_t: YAML sequence of mappings, each described by .sub, elem_size bytes */
    CZ_CONF_IGNORE,   /* accepted and ignored: a go-zero key czero does not implement; no storage */
} cz_conf_type_t;
/* A CZ_CONF_STRING field with .enums set only accepts those values (go-zero's options=a|b|c on a
 * string field, e.g. ServiceConf.Mode); the value is still stored as the string. */

#define CZ_CONF_REQUIRED 0x1u /* a missing key is an error (default must be NULL) */
#define CZ_CONF_HAS_MIN 0x2u
#define CZ_CONF_HAS_MAX 0x4u

/** Where a field's value sits in the document, as a field's check (cz_conf_check_fn) sees it. */
typedef struct cz_conf_at {
    const char *file; /* the name the load was given */
    int line, col;    /* the value node; the enclosing mapping when the key is absent; 0 = none */
    const void *_doc, *_node; /* private: the libyaml document and node */
} cz_conf_at_t;

/** A field's own check, for what bounds and types cannot say (a key that needs another, names
 *  unique across an array). It runs once the member is bound with its defaults, whether the key
 *  was present or not, after every key of the same mapping is bound (checks in table order), so
 *  it may read sibling members; it may set derived members (nothing cz_conf_free would not
 *  free). It returns 0, or non-zero with d->key set to the key path relative to the member ("" for
 *  the member itself, "Nodes[0].Addr", or "[1].Name" inside an array) and d->msg; the load fails
 *  with "file:line:col: Full.Key.Path: msg" placed at the deepest node of that path the document
 *  has. d arrives zeroed. Runs on the loading thread. */
typedef int (*cz_conf_check_fn)(void *member, const cz_conf_at_t *at, cz_diag_t *d);

/** The 1-based line and column of path (relative to at's node, as a check's d->key is) in the
 *  document: of its deepest node present, else at's own position. Only inside a check. */
CZ_EXTERN void cz_conf_at_locate(const cz_conf_at_t *at, const char *path, int *line, int *col);

typedef struct cz_conf_field {
    const char *key;                  /* YAML key, go-zero spelling ("MaxBytes"); NULL ends a table */
    cz_conf_type_t type;
    size_t offset;                    /* offsetof(struct, member) */
    const char *def;                  /* default as YAML scalar text, or NULL */
    unsigned flags;
    int64_t min, max;                 /* bounds for INT/DURATION/SIZE (and DOUBLE, truncated) */
    const struct cz_conf_field *sub;  /* OBJECT/INLINE/ARRAY element fields */
    size_t elem_size;                 /* ARRAY: sizeof one element */
    const char *const *enums;         /* ENUM: NULL-terminated names */
    cz_conf_check_fn check;           /* optional, after the member is bound (not INLINE/IGNORE) */
} cz_conf_field_t;

typedef struct cz_conf_strings {
    char **items;
    size_t n;
} cz_conf_strings_t;

typedef struct cz_conf_array {
    void *items; /* n * elem_size bytes, each element filled from its mapping with defaults */
    size_t n;
} cz_conf_array_t;

/** Load file into out (zeroed first, then defaults, then the YAML). 0 or CZ_EINVAL_CONF with d set.
 *  On error out holds nothing that needs freeing. "Zeroed" covers the bytes from offset 0 to the
 *  end of the last member the table describes. ${VAR} and ${VAR:-default} in scalar values are taken
 *  from the environment (go-zero's conf.UseEnv); "$${" stands for a literal "${". Not thread-safe
 *  against concurrent setenv(); otherwise reentrant. */
CZ_EXTERN int cz_conf_load(const char *file, const cz_conf_field_t *fields, void *out, cz_diag_t *d);
/** Same from memory; name is used as the file name in diagnostics. */
CZ_EXTERN int cz_conf_load_string(const char *name, const char *yaml, size_t len,
                                  const cz_conf_field_t *fields, void *out, cz_diag_t *d);
/** Apply only the defaults (no YAML): zero, then defaults. Required keys are not checked.
 *  0, or CZ_EINVAL_CONF when a table default does not convert (a bug in the table). */
CZ_EXTERN int cz_conf_defaults(const cz_conf_field_t *fields, void *out, cz_diag_t *d);
/** Free what a load allocated (strings, arrays, recursively) and zero the described bytes.
 *  Safe on a zeroed struct. out may then be reloaded. */
CZ_EXTERN void cz_conf_free(const cz_conf_field_t *fields, void *out);
/** Load or print "config error: file:line:col: Key: message" to stderr and exit(1): go-zero's
 *  conf.MustLoad. */
CZ_EXTERN void cz_conf_must_load(const char *file, const cz_conf_field_t *fields, void *out);

/* ---- go-zero's logx.LogConf ---- */
enum { CZ_LOG_MODE_CONSOLE, CZ_LOG_MODE_FILE, CZ_LOG_MODE_VOLUME };
enum { CZ_LOG_ENC_JSON, CZ_LOG_ENC_PLAIN };

typedef struct cz_log_conf {
    char *service_name;  /* ServiceName */
    int mode;            /* Mode: console|file|volume, default console */
    int encoding;        /* Encoding: json|plain, default json */
    char *time_format;   /* TimeFormat: Go layout as logx ("2006-01-02 15:04:05.000"), or a
                            strftime format when it has a '%'; default ISO-8601 UTC with ms */
    char *path;          /* Path: directory for file mode, default "logs" */
    int level;           /* Level: debug|info|error|severe (cz_log_level_t), default info */
    bool stat;           /* Stat: periodic stat lines, default true */
    int64_t max_content_length; /* MaxContentLength: truncate a message beyond this (0 = no limit) */
    /* File rotation (file and volume modes), logx's rotatelogger.go: see log.h. */
    int rotation;        /* Rotation: daily|size (CZ_LOG_ROTATE_*), default daily */
    int64_t keep_days;   /* KeepDays: delete backups older than this many days (0 = keep all) */
    int64_t max_backups; /* MaxBackups: size rotation keeps at most this many (0 = all) */
    int64_t max_size;    /* MaxSize: size rotation above this many MB (0 = never) */
    bool compress;       /* Compress: gzip rotated files */
    char *file_time_format; /* FileTimeFormat: Go layout for size backups, default RFC 3339 */
} cz_log_conf_t;
enum { CZ_LOG_ROTATE_DAILY, CZ_LOG_ROTATE_SIZE };

/* ---- go-zero's rest.RestConf (service.ServiceConf + rest fields), plus czero's engine knobs ---- */
typedef struct cz_middlewares_conf { /* go-zero RestConf.Middlewares; every link on by default */
    bool trace, log, prometheus, max_conns, breaker, shedding, timeout, recover, metrics,
        max_bytes, gunzip;
} cz_middlewares_conf_t;

/* The dev listener serves plain HTTP always: the RestConf's CertFile/KeyFile/Tls apply to the
 * main port only (bind it to loopback or a private network). */
typedef struct cz_dev_server_conf { /* go-zero devserver.Config */
    bool enabled;        /* Enabled, default false */
    char *host;          /* Host, default 0.0.0.0 */
    int64_t port;        /* Port, default 6060 */
    char *metrics_path;  /* MetricsPath, default /metrics */
    char *health_path;   /* HealthPath, default /healthz */
    bool enable_metrics; /* EnableMetrics, default true */
} cz_dev_server_conf_t;

typedef struct cz_telemetry_conf { /* go-zero core/trace.Config */
    char *name;          /* Name: service name on spans (default: the service Name) */
    char *endpoint;      /* Endpoint: collector URL host:port; empty = spans are not exported */
    double sampler;      /* Sampler: fraction of new traces sampled, default 1.0 */
    char *batcher;       /* Batcher: otlphttp (default) | zipkin */
    char *otlp_http_path; /* OtlpHttpPath: default /v1/traces */
} cz_telemetry_conf_t;

typedef struct cz_prometheus_conf { /* go-zero core/prometheus.Config */
    char *host;          /* Host: empty = metrics on the DevServer only */
    int64_t port;        /* Port, default 9101 */
    char *path;          /* Path, default /metrics */
} cz_prometheus_conf_t;

typedef struct cz_signature_key { /* go-zero rest.PrivateKeyConf */
    char *fingerprint;   /* Fingerprint */
    char *key_file;      /* KeyFile: PEM RSA private key */
} cz_signature_key_t;

typedef struct cz_signature_conf { /* go-zero rest.SignatureConf */
    bool strict;         /* Strict, default false */
    int64_t expiry_ms;   /* Expiry, default 1h */
    cz_conf_array_t private_keys; /* PrivateKeys: cz_signature_key_t */
} cz_signature_conf_t;

/* ---- TLS (src/tls/, include/czero/tls.h) ---- */
/* Server side: go-zero's RestConf.CertFile/KeyFile at the top level, the rest in a `Tls:`
 * section (czero's own). TLS is on when cert_file or certificates is set. */
enum { CZ_TLS_CLIENT_AUTH_OFF, CZ_TLS_CLIENT_AUTH_OPTIONAL, CZ_TLS_CLIENT_AUTH_REQUIRED };
enum { CZ_TLS_VERSION_1_2, CZ_TLS_VERSION_1_3 }; /* MinVersion: "1.2" | "1.3" */

typedef struct cz_tls_cert_conf { /* one certificate of Tls.Certificates */
    char *cert_file;     /* CertFile: PEM chain, leaf first */
    char *key_file;      /* KeyFile: PEM private key */
} cz_tls_cert_conf_t;

typedef struct cz_tls_conf {
    char *cert_file;     /* CertFile (RestConf, go-zero): the default certificate, PEM chain */
    char *key_file;      /* KeyFile (RestConf, go-zero): its private key, PEM */
    cz_conf_array_t certificates; /* Tls.Certificates: cz_tls_cert_conf_t, chosen by SNI */
    char *ca_file;       /* Tls.CAFile: CAs that sign client certificates */
    int client_auth;     /* Tls.ClientAuth: off|optional|required, default off */
    int min_version;     /* Tls.MinVersion: 1.2|1.3, default 1.2 */
    char *ciphers;       /* Tls.Ciphers: TLS 1.2 list, default Mozilla intermediate */
    char *cipher_suites; /* Tls.CipherSuites: TLS 1.3 list, default Mozilla intermediate */
    char *curves;        /* Tls.Curves: key-exchange groups, default X25519:prime256v1:secp384r1 */
    bool session_tickets; /* Tls.SessionTickets, default true */
    int64_t ticket_key_rotation_ms; /* Tls.TicketKeyRotation: new ticket key this often, 12h;
                                       a ticket stays valid for two periods */
    cz_conf_strings_t alpn; /* Tls.Alpn: protocols in server preference, default [http/1.1]
                               (the loader's default; an empty list in code = no ALPN) */
    int64_t watch_interval_ms; /* Tls.WatchInterval: how often a server checks whether its
                                  certificate, key and CA files changed and reloads them, default
                                  2s; 0 = never (cz_server_tls_reload only; the gateway reloads
                                  on SIGHUP instead) */
} cz_tls_conf_t;

/* Client side (upstreams): go-zero's names for a client's TLS files, from discov.EtcdConf
 * (CertFile, CertKeyFile, CACertFile, InsecureSkipVerify). */
typedef struct cz_tls_client_conf {
    char *ca_file;       /* CACertFile: verify against these CAs; absent = the system's */
    char *cert_file;     /* CertFile: client certificate for mTLS (with CertKeyFile) */
    char *key_file;      /* CertKeyFile: its key */
    bool insecure_skip_verify; /* InsecureSkipVerify: no verification at all, default false */
    int min_version;     /* MinVersion: 1.2|1.3, default 1.2 */
    char *ciphers;       /* Ciphers: TLS 1.2 list, default Mozilla intermediate */
    char *curves;        /* Curves, default X25519:prime256v1:secp384r1 */
    cz_conf_strings_t alpn; /* Alpn: offered protocols, default none */
} cz_tls_client_conf_t;

/* ---- go-zero's discov.EtcdConf (the etcd client config; used by discovery.h) ---- */
typedef struct cz_etcd_conf {
    cz_conf_strings_t hosts; /* Hosts: ["127.0.0.1:2379", ...]; empty = no etcd;
                                "https://host:2379" = TLS */
    char *key;           /* Key: the service's key prefix; nodes live under "Key/<id>" */
    int64_t id;          /* ID: when > 0 the publisher uses "Key/<ID>" instead of the lease id */
    int64_t ttl_s;       /* TTL: lease time to live in seconds, default 10 (go-zero TimeToLive) */
    /* go-zero's TLS keys at this level: CertFile, CertKeyFile (client certificate), CACertFile,
     * InsecureSkipVerify. TLS is on when Hosts say https:// or any of them is set (go-zero turns
     * it on with all three files); verification against CACertFile, else the system's CAs. */
    cz_tls_client_conf_t tls;
    char *user, *pass;   /* User, Pass: etcd auth (both or neither), through etcd's v3 JSON
                            gateway (/v3/auth/authenticate, then the token on each request) */
} cz_etcd_conf_t;

typedef struct cz_rest_conf {
    char *name;                /* Name (required) */
    char *mode;                /* Mode: dev|test|rt|pre|pro, default pro */
    cz_log_conf_t log;         /* Log */
    cz_dev_server_conf_t dev_server; /* DevServer */
    char *host;                /* Host, default 0.0.0.0 */
    int64_t port;              /* Port (required), 1..65535 */
    bool verbose;              /* Verbose */
    int64_t max_conns;         /* MaxConns, default 10000 */
    int64_t max_bytes;         /* MaxBytes (request body), default 1048576 */
    int64_t timeout_ms;        /* Timeout (handler), default 3000 */
    int64_t cpu_threshold;     /* CpuThreshold 0..1000 (worker-loop busy permille), default 900 */
    cz_middlewares_conf_t middlewares; /* Middlewares */
    cz_telemetry_conf_t telemetry;     /* Telemetry */
    cz_prometheus_conf_t prometheus;   /* Prometheus */
    cz_signature_conf_t signature;     /* Signature */
    cz_conf_strings_t trace_ignore_paths; /* TraceIgnorePaths */
    int64_t slow_threshold_ms; /* SlowThreshold: access-log slow warning, default 500ms (logx) */
    /* czero engine knobs (no go-zero equivalent: Go's net/http hides them) */
    int64_t workers;           /* Workers: event-loop threads, 0 = number of CPUs */
    bool reuse_port;           /* ReusePort: let other processes share Host:Port, default false */
    int64_t max_header_bytes;  /* MaxHeaderBytes, default 8192 (request line + headers) -> 431 */
    int64_t max_request_line;  /* MaxRequestLine, default 8192 -> 414 */
    int64_t header_timeout_ms; /* HeaderTimeout, default 10s: whole header block must arrive */
    int64_t idle_timeout_ms;   /* IdleTimeout, default 60s: keep-alive idle */
    int64_t read_timeout_ms;   /* ReadTimeout, default 30s: body progress */
    int64_t write_timeout_ms;  /* WriteTimeout, default 30s: response progress */
    int64_t shutdown_timeout_ms; /* ShutdownTimeout, default 5.5s (go-zero proc's delay) */
    int64_t linger_timeout_ms; /* LingerTimeout, default 5s: after an error answer, how long to
                                  read and discard what the client still sends (nginx) */
    int64_t blocking_threads;  /* BlockingThreads: pool for blocking handlers, default 16 */
    int64_t blocking_queue;    /* BlockingQueue: queued blocking requests before 503, default 1024 */
    int64_t max_connections;   /* MaxConnections: open client connections (nginx's
                                  worker_connections, server-wide, each worker a share);
                                  0 = from RLIMIT_NOFILE. Not MaxConns (requests in flight) */
    cz_etcd_conf_t etcd;       /* Etcd: {Hosts, Key}: register Host:Port there (absent = don't) */
    cz_tls_conf_t tls;         /* CertFile, KeyFile (top level, go-zero) and Tls: {...} */
} cz_rest_conf_t;

CZ_EXTERN extern const cz_conf_field_t cz_log_conf_fields[];
CZ_EXTERN extern const cz_conf_field_t cz_rest_conf_fields[];
CZ_EXTERN extern const cz_conf_field_t cz_etcd_conf_fields[];
/* The `Tls:` section (without CertFile/KeyFile, which RestConf has at its top level) and the
 * client table (src/tls/tls_conf.c). */
CZ_EXTERN extern const cz_conf_field_t cz_tls_conf_fields[];
CZ_EXTERN extern const cz_conf_field_t cz_tls_client_conf_fields[];

#ifdef __cplusplus
}
#endif
#endif
