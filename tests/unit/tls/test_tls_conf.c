/* SPDX-License-Identifier: MIT
 *
 * Tests for the TLS keys of the configuration (src/tls/tls_conf.c, cz_rest_conf_fields): go-zero's
 * CertFile/KeyFile at the top level, czero's Tls section with its defaults, and the mistakes
 * reported with file:line:col before any file is opened.
 */
#include <criterion/criterion.h>
#include <string.h>
#include "czero/config.h"
#include "czero/tls.h"

static cz_rest_conf_t c;
static cz_diag_t d;
static char msg[600];

static int load(const char *yaml)
{
    int rc = cz_conf_load_string("rest.yaml", yaml, strlen(yaml), cz_rest_conf_fields, &c, &d);
    cz_diag_format(&d, msg, sizeof msg);
    return rc;
}

static void fails(const char *yaml, const char *want)
{
    cr_assert_eq(load(yaml), CZ_EINVAL_CONF, "loaded: %s", yaml);
    cr_assert_str_eq(msg, want);
}

Test(tls_conf, off_by_default)
{
    cr_assert_eq(load("Name: a\nPort: 1\n"), 0, "%s", msg);
    cr_assert_not(cz_tls_conf_enabled(&c.tls));
    cr_assert_null(c.tls.cert_file);
    /* the section's defaults are there for a service that turns TLS on in code */
    cr_assert_eq(c.tls.min_version, CZ_TLS_VERSION_1_2);
    cr_assert_eq(c.tls.client_auth, CZ_TLS_CLIENT_AUTH_OFF);
    cr_assert(c.tls.session_tickets);
    cr_assert_eq(c.tls.ticket_key_rotation_ms, 12 * 3600 * 1000);
    cr_assert_str_eq(c.tls.ciphers, CZ_TLS_DEFAULT_CIPHERS);
    cr_assert_str_eq(c.tls.cipher_suites, CZ_TLS_DEFAULT_CIPHER_SUITES);
    cr_assert_str_eq(c.tls.curves, CZ_TLS_DEFAULT_CURVES);
    cr_assert_eq(c.tls.alpn.n, 1);
    cr_assert_str_eq(c.tls.alpn.items[0], "http/1.1");
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(tls_conf, go_zero_keys)
{
    cr_assert_eq(load("Name: a\nPort: 443\nCertFile: /etc/c.pem\nKeyFile: /etc/k.pem\n"), 0,
                 "%s", msg);
    cr_assert(cz_tls_conf_enabled(&c.tls));
    cr_assert_str_eq(c.tls.cert_file, "/etc/c.pem");
    cr_assert_str_eq(c.tls.key_file, "/etc/k.pem");
    cz_conf_free(cz_rest_conf_fields, &c);
    cr_assert_null(c.tls.cert_file);
}

Test(tls_conf, the_tls_section)
{
    cr_assert_eq(load("Name: a\nPort: 443\n"
                      "CertFile: a.pem\nKeyFile: a.key\n"
                      "Tls:\n"
                      "  Certificates:\n"
                      "    - {CertFile: b.pem, KeyFile: b.key}\n"
                      "    - {CertFile: c.pem, KeyFile: c.key}\n"
                      "  CAFile: ca.pem\n"
                      "  ClientAuth: required\n"
                      "  MinVersion: 1.3\n"
                      "  Ciphers: ECDHE-RSA-AES128-GCM-SHA256\n"
                      "  CipherSuites: TLS_AES_256_GCM_SHA384\n"
                      "  Curves: X25519\n"
                      "  SessionTickets: false\n"
                      "  TicketKeyRotation: 1h\n"
                      "  Alpn: [h2, http/1.1]\n"),
                 0, "%s", msg);
    const cz_tls_conf_t *t = &c.tls;
    cr_assert_eq(t->certificates.n, 2);
    const cz_tls_cert_conf_t *more = t->certificates.items;
    cr_assert_str_eq(more[1].cert_file, "c.pem");
    cr_assert_str_eq(more[1].key_file, "c.key");
    cr_assert_str_eq(t->ca_file, "ca.pem");
    cr_assert_eq(t->client_auth, CZ_TLS_CLIENT_AUTH_REQUIRED);
    cr_assert_eq(t->min_version, CZ_TLS_VERSION_1_3);
    cr_assert_str_eq(t->ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
    cr_assert_str_eq(t->cipher_suites, "TLS_AES_256_GCM_SHA384");
    cr_assert_str_eq(t->curves, "X25519");
    cr_assert_not(t->session_tickets);
    cr_assert_eq(t->ticket_key_rotation_ms, 3600 * 1000);
    cr_assert_eq(t->alpn.n, 2);
    cr_assert_str_eq(t->alpn.items[0], "h2");
    cz_conf_free(cz_rest_conf_fields, &c);

    /* certificates by SNI alone: the first is the default */
    cr_assert_eq(load("Name: a\nPort: 443\nTls:\n  Certificates:\n"
                      "    - {CertFile: b.pem, KeyFile: b.key}\n"),
                 0, "%s", msg);
    cr_assert(cz_tls_conf_enabled(&c.tls));
    cz_conf_free(cz_rest_conf_fields, &c);
}

Test(tls_conf, mistakes_name_the_place)
{
    fails("Name: a\nPort: 1\nCertFile: c.pem\n", "rest.yaml:1:1: KeyFile: required with CertFile");
    fails("Name: a\nPort: 1\nKeyFile: k.pem\n", "rest.yaml:3:10: KeyFile: needs CertFile");
    fails("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  ClientAuth: required\n",
          "rest.yaml:6:15: Tls.ClientAuth: needs CAFile (the CAs of client certificates)");
    fails("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  ClientAuth: sometimes\n",
          "rest.yaml:6:15: Tls.ClientAuth: unknown value \"sometimes\" (allowed: off, optional, "
          "required)");
    fails("Name: a\nPort: 1\nTls:\n  CAFile: ca.pem\n",
          "rest.yaml:4:3: Tls: needs a certificate: CertFile and KeyFile, or Tls.Certificates");
    fails("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  MinVersion: 1.1\n",
          "rest.yaml:6:15: Tls.MinVersion: unknown value \"1.1\" (allowed: 1.2, 1.3)");
    fails("Name: a\nPort: 1\nTls:\n  Certificates:\n    - {CertFile: b.pem}\n",
          "rest.yaml:5:7: Tls.Certificates[0].KeyFile: missing required key");
    fails("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  Alpn: [h2, \"\"]\n",
          "rest.yaml:6:14: Tls.Alpn[1]: a protocol name is 1..255 bytes");
    cr_assert_eq(load("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  Ciphers: NOPE-NOPE\n"),
                 CZ_EINVAL_CONF);
    cr_assert(strstr(msg, "rest.yaml:6:12: Tls.Ciphers: OpenSSL does not accept it"), "%s", msg);
    cr_assert_eq(load("Name: a\nPort: 1\nCertFile: c\nKeyFile: k\nTls:\n  Curves: P-999\n"),
                 CZ_EINVAL_CONF);
    cr_assert(strstr(msg, "rest.yaml:6:11: Tls.Curves: OpenSSL does not accept it"), "%s", msg);
    fails("Name: a\nPort: 1\nTls:\n  Ciphres: x\n",
          "rest.yaml:4:3: Tls.Ciphres: unknown key; did you mean \"Ciphers\"?");
}

Test(tls_conf, client_table)
{
    cz_tls_client_conf_t cc;
    const char *y = "CACertFile: ca.pem\nCertFile: c.pem\nCertKeyFile: c.key\nAlpn: [http/1.1]\n";
    cr_assert_eq(cz_conf_load_string("up.yaml", y, strlen(y), cz_tls_client_conf_fields, &cc, &d),
                 0, "%s", d.msg);
    cr_assert_str_eq(cc.ca_file, "ca.pem");
    cr_assert_str_eq(cc.key_file, "c.key");
    cr_assert_not(cc.insecure_skip_verify);
    cr_assert_eq(cc.min_version, CZ_TLS_VERSION_1_2);
    cr_assert_str_eq(cc.alpn.items[0], "http/1.1");
    cz_conf_free(cz_tls_client_conf_fields, &cc);
}
