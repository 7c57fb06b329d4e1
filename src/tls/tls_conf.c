/* SPDX-License-Identifier: MIT
 *
 * tls_conf.c: the configuration tables of TLS (the server's `Tls:` section, the upstream
 * client's keys) and their checks.
 *
 * go-zero's RestConf has CertFile and KeyFile at its top level; cz_rest_conf_fields binds them
 * into cz_rest_conf_t.tls and points its `Tls` entry at cz_tls_conf_fields for the rest. The
 * checks catch at load time, with file:line:col, what would otherwise only fail when the
 * context is built: a KeyFile without CertFile, ClientAuth without CAFile, an ALPN name that
 * cannot be encoded, a cipher or curve list OpenSSL does not accept. Files are not opened here:
 * a missing certificate fails context creation, naming the path.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "internal.h"
#include "tls/tls_int.h"

static const char *const client_auths[] = {"off", "optional", "required", NULL};
static const char *const versions[] = {"1.2", "1.3", NULL};

static const cz_conf_field_t cert_fields[] = {
    {.key = "CertFile", .type = CZ_CONF_STRING, .offset = offsetof(cz_tls_cert_conf_t, cert_file),
     .flags = CZ_CONF_REQUIRED},
    {.key = "KeyFile", .type = CZ_CONF_STRING, .offset = offsetof(cz_tls_cert_conf_t, key_file),
     .flags = CZ_CONF_REQUIRED},
    {0},
};

#define F(k, t, s, m, d) {.key = k, .type = t, .offset = offsetof(s, m), .def = d}

const cz_conf_field_t cz_tls_conf_fields[] = {
    {.key = "Certificates", .type = CZ_CONF_ARRAY, .offset = offsetof(cz_tls_conf_t, certificates),
     .sub = cert_fields, .elem_size = sizeof(cz_tls_cert_conf_t)},
    F("CAFile", CZ_CONF_STRING, cz_tls_conf_t, ca_file, NULL),
    {.key = "ClientAuth", .type = CZ_CONF_ENUM, .offset = offsetof(cz_tls_conf_t, client_auth),
     .def = "off", .enums = client_auths},
    {.key = "MinVersion", .type = CZ_CONF_ENUM, .offset = offsetof(cz_tls_conf_t, min_version),
     .def = "1.2", .enums = versions},
    F("Ciphers", CZ_CONF_STRING, cz_tls_conf_t, ciphers, CZ_TLS_DEFAULT_CIPHERS),
    F("CipherSuites", CZ_CONF_STRING, cz_tls_conf_t, cipher_suites, CZ_TLS_DEFAULT_CIPHER_SUITES),
    F("Curves", CZ_CONF_STRING, cz_tls_conf_t, curves, CZ_TLS_DEFAULT_CURVES),
    F("SessionTickets", CZ_CONF_BOOL, cz_tls_conf_t, session_tickets, "true"),
    {.key = "TicketKeyRotation", .type = CZ_CONF_DURATION,
     .offset = offsetof(cz_tls_conf_t, ticket_key_rotation_ms), .def = "12h",
     .flags = CZ_CONF_HAS_MIN | CZ_CONF_HAS_MAX, .min = 1000, .max = 7 * 24 * 3600 * 1000LL},
    F("Alpn", CZ_CONF_STRINGS, cz_tls_conf_t, alpn, "http/1.1"),
    {.key = "WatchInterval", .type = CZ_CONF_DURATION,
     .offset = offsetof(cz_tls_conf_t, watch_interval_ms), .def = "2s",
     .flags = CZ_CONF_HAS_MIN, .min = 0},
    {0},
};

/* go-zero's names for a client's TLS files are discov.EtcdConf's: CertFile, CertKeyFile,
 * CACertFile, InsecureSkipVerify (czero's etcd client can take this table as it is). */
const cz_conf_field_t cz_tls_client_conf_fields[] = {
    F("CACertFile", CZ_CONF_STRING, cz_tls_client_conf_t, ca_file, NULL),
    F("CertFile", CZ_CONF_STRING, cz_tls_client_conf_t, cert_file, NULL),
    F("CertKeyFile", CZ_CONF_STRING, cz_tls_client_conf_t, key_file, NULL),
    F("InsecureSkipVerify", CZ_CONF_BOOL, cz_tls_client_conf_t, insecure_skip_verify, "false"),
    {.key = "MinVersion", .type = CZ_CONF_ENUM,
     .offset = offsetof(cz_tls_client_conf_t, min_version), .def = "1.2", .enums = versions},
    /* absent = NULL = the same defaults (cz_tls_client_ctx_new): a section built with
     * cz_conf_defaults owns no strings nobody asked for */
    F("Ciphers", CZ_CONF_STRING, cz_tls_client_conf_t, ciphers, NULL),
    F("Curves", CZ_CONF_STRING, cz_tls_client_conf_t, curves, NULL),
    F("Alpn", CZ_CONF_STRINGS, cz_tls_client_conf_t, alpn, NULL),
    {0},
};

bool cz_tls_conf_enabled(const cz_tls_conf_t *conf)
{
    return conf && (conf->cert_file || conf->certificates.n > 0);
}

/* RestConf's KeyFile: it and CertFile come together. */
int cz__tls_conf_check_keyfile(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    const cz_tls_conf_t *c = cz__container_of(member, cz_tls_conf_t, key_file);
    if (c->cert_file && !c->key_file)
        return snprintf(d->msg, sizeof d->msg, "required with CertFile"), 1;
    if (c->key_file && !c->cert_file)
        return snprintf(d->msg, sizeof d->msg, "needs CertFile"), 1;
    return 0;
}

/* The lists OpenSSL parses, tried on a scratch context so a typo is a config error. */
static int check_lists(const cz_tls_conf_t *c, cz_diag_t *d)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_method());
    if (!ssl)
        return snprintf(d->msg, sizeof d->msg, "OpenSSL: out of memory"), 1;
    int rc = 0;
    ERR_clear_error();
    if (c->ciphers && SSL_CTX_set_cipher_list(ssl, c->ciphers) != 1) {
        snprintf(d->key, sizeof d->key, "Ciphers");
        rc = 1;
    } else if (c->cipher_suites && SSL_CTX_set_ciphersuites(ssl, c->cipher_suites) != 1) {
        snprintf(d->key, sizeof d->key, "CipherSuites");
        rc = 1;
    } else if (c->curves && SSL_CTX_set1_groups_list(ssl, c->curves) != 1) {
        snprintf(d->key, sizeof d->key, "Curves");
        rc = 1;
    }
    if (rc) {
        char why[200] = "";
        cz__tls_errors(why, sizeof why);
        snprintf(d->msg, sizeof d->msg, "OpenSSL does not accept it%s%s", why[0] ? ": " : "",
                 why);
    }
    SSL_CTX_free(ssl);
    return rc;
}

/* The `Tls` section, once the top-level CertFile/KeyFile are bound too. */
int cz__tls_conf_check(void *member, const cz_conf_at_t *at, cz_diag_t *d)
{
    const cz_tls_conf_t *c = member;
    if (c->client_auth != CZ_TLS_CLIENT_AUTH_OFF && !c->ca_file) {
        snprintf(d->key, sizeof d->key, "ClientAuth");
        return snprintf(d->msg, sizeof d->msg, "needs CAFile (the CAs of client certificates)"), 1;
    }
    if (!cz_tls_conf_enabled(c) && (c->ca_file || c->client_auth != CZ_TLS_CLIENT_AUTH_OFF))
        return snprintf(d->msg, sizeof d->msg,
                        "needs a certificate: CertFile and KeyFile, or Tls.Certificates"),
               1;
    for (size_t i = 0; i < c->alpn.n; i++) {
        size_t n = strlen(c->alpn.items[i]);
        if (n == 0 || n > 255) {
            snprintf(d->key, sizeof d->key, "Alpn[%zu]", i);
            return snprintf(d->msg, sizeof d->msg, "a protocol name is 1..255 bytes"), 1;
        }
    }
    return cz_tls_conf_enabled(c) ? check_lists(c, d) : 0;
}
