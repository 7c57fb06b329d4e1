/* SPDX-License-Identifier: MIT
 *
 * tls_ctx.c: TLS contexts: certificates and keys, SNI, client verification, ALPN, versions and
 * ciphers, session-ticket keys and their rotation, the client's session cache, the reload slot
 * and the "did the files change" check. The per-connection engine is tls_session.c.
 *
 * A server context holds one OpenSSL SSL_CTX per certificate, all configured alike; the first
 * is the default and its servername callback moves a connection to the SSL_CTX whose
 * certificate matches the client's SNI name (nginx's way). Ticket keys and counters live in
 * their own refcounted block (the "lineage"), shared by a context and the ones that replace it
 * on reload, so tickets survive a certificate reload and counters do not restart. The server's
 * stateful session cache is off (tickets only), so worker threads never contend on it. One
 * context serves every worker thread; OpenSSL's objects are thread-safe once configured, and
 * what czero changes after that (ticket keys, the client session cache, counters) is under a
 * mutex or atomic.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "internal.h"
#include "tls/tls_int.h"

#define DEFAULT_ROTATION_MS (12 * 3600 * 1000LL)
#define CACHE_MAX 4096 /* client sessions kept (one per upstream host:port) */

/* ---- types ---- */
typedef struct tkey {
    uint8_t name[16], aes[32], hmac[32];
    uint64_t born_ns;
} tkey_t;

/* What a context hands on to the one that replaces it on reload: the ticket keys (so tickets
 * issued before still resume) and the counters (so metrics do not restart at zero). */
typedef struct lineage {
    pthread_mutex_t mu;
    int refs;
    const cz_clock_t *clock;
    uint64_t period_ns;
    tkey_t keys[2]; /* [0] encrypts new tickets; [1], the one before, still decrypts */
    int n;
    uint64_t rotations;
    uint64_t counts[4]; /* CZ__TLS_STAT_*, atomic */
} lineage_t;

typedef struct file_id {
    char *path;
    struct stat st;
    bool ok;
} file_id_t;

typedef struct cert {
    SSL_CTX *ssl;
    X509 *leaf; /* owned by ssl */
} cert_t;

typedef struct cached {
    char *peer;
    SSL_SESSION *sess;
} cached_t;

struct cz_tls_ctx {
    int refs;
    bool server;
    cert_t *certs; /* [0] is the default (the only one of a client) */
    size_t ncerts;
    uint8_t *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
    lineage_t *lin;
    file_id_t *files;
    size_t nfiles;
    pthread_mutex_t cache_mu;
    cached_t *cache;
    size_t ncache, cache_next;
};

struct cz_tls_slot {
    pthread_mutex_t mu;
    cz_tls_ctx_t *cur;
};

/* ---- errors ---- */

void cz__tls_errors(char *buf, size_t size)
{
    size_t n = strlen(buf);
    const char *data;
    int flags;
    unsigned long e;
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        char tmp[256];
        const char *why = ERR_reason_error_string(e);
        if (ERR_SYSTEM_ERROR(e))
            why = strerror(ERR_GET_REASON(e));
        if (!why) {
            ERR_error_string_n(e, tmp, sizeof tmp);
            why = tmp;
        }
        if (n + 1 < size) {
            int w = snprintf(buf + n, size - n, "%s%s%s%s%s", n ? "; " : "", why,
                             (flags & ERR_TXT_STRING) && data && *data ? " (" : "",
                             (flags & ERR_TXT_STRING) && data ? data : "",
                             (flags & ERR_TXT_STRING) && data && *data ? ")" : "");
            if (w > 0)
                n = cz__min(n + (size_t)w, size - 1);
        }
    }
}

static int fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* err = the formatted text, then ": " and OpenSSL's queued reasons if any. */
static int fail(char *err, size_t errsize, const char *fmt, ...)
{
    if (err && errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
        size_t n = strlen(err);
        char why[512] = "";
        cz__tls_errors(why, sizeof why);
        if (why[0] && n + 2 < errsize)
            snprintf(err + n, errsize - n, ": %s", why);
    }
    ERR_clear_error();
    return CZ_EINVAL_CONF;
}

/* ---- files ---- */

/* Opens path for reading first so that a missing or unreadable file is named with errno's
 * words, and remembers its identity for cz_tls_ctx_files_changed. */
static int note_file(cz_tls_ctx_t *c, const char *what, const char *path, char *err,
                     size_t errsize)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        return fail(err, errsize, "%s %s: %s", what, path, strerror(e));
    }
    file_id_t *fs = realloc(c->files, (c->nfiles + 1) * sizeof *fs);
    if (!fs) {
        fclose(f);
        return fail(err, errsize, "%s %s: out of memory", what, path);
    }
    c->files = fs;
    file_id_t *id = &c->files[c->nfiles];
    memset(id, 0, sizeof *id);
    id->ok = fstat(fileno(f), &id->st) == 0;
    fclose(f);
    if (!(id->path = strdup(path)))
        return fail(err, errsize, "%s %s: out of memory", what, path);
    c->nfiles++;
    return 0;
}

bool cz_tls_ctx_files_changed(const cz_tls_ctx_t *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        const file_id_t *id = &c->files[i];
        struct stat st;
        if (stat(id->path, &st) != 0 || !id->ok)
            return true;
        if (st.st_ino != id->st.st_ino || st.st_dev != id->st.st_dev ||
            st.st_size != id->st.st_size || st.st_mtim.tv_sec != id->st.st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != id->st.st_mtim.tv_nsec)
            return true;
    }
    return false;
}

/* ---- the lineage: ticket keys and counters ---- */

static int tkey_fill(tkey_t *k, uint64_t now)
{
    k->born_ns = now;
    return RAND_bytes(k->name, sizeof k->name) == 1 && RAND_bytes(k->aes, sizeof k->aes) == 1 &&
           RAND_bytes(k->hmac, sizeof k->hmac) == 1;
}

static lineage_t *lineage_new(const cz_clock_t *clock, int64_t period_ms)
{
    lineage_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->refs = 1;
    t->clock = clock ? clock : cz_clock_system();
    t->period_ns = (uint64_t)(period_ms > 0 ? period_ms : DEFAULT_ROTATION_MS) * CZ_NS_PER_MS;
    if (!tkey_fill(&t->keys[0], cz_clock_now_ns(t->clock))) {
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    t->n = 1;
    return t;
}

static void lineage_unref(lineage_t *t)
{
    if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        OPENSSL_cleanse(t->keys, sizeof t->keys);
        pthread_mutex_destroy(&t->mu);
        free(t);
    }
}

/* Called with t->mu held: a new encrypting key once the current one is a period old. The old
 * one still decrypts for one more period, so a ticket is good for one to two periods. */
static void keys_rotate(lineage_t *t)
{
    uint64_t now = cz_clock_now_ns(t->clock);
    if (now - t->keys[0].born_ns < t->period_ns)
        return;
    tkey_t k;
    /* Two periods or more without a handshake: nothing issued with the old keys is valid. */
    bool stale = now - t->keys[0].born_ns >= 2 * t->period_ns;
    if (!tkey_fill(&k, now))
        return; /* keep the old key rather than fail handshakes */
    t->keys[1] = t->keys[0];
    t->keys[0] = k;
    t->n = stale ? 1 : 2;
    t->rotations++;
    OPENSSL_cleanse(&k, sizeof k);
}

static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    cz_tls_ctx_t *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
    lineage_t *t = c->lin;
    int rc = -1, idx = -1;
    pthread_mutex_lock(&t->mu);
    keys_rotate(t);
    if (enc) {
        idx = 0;
        memcpy(name, t->keys[0].name, 16);
        if (RAND_bytes(iv, 16) != 1)
            goto out;
    } else {
        for (int i = 0; i < t->n; i++)
            if (memcmp(name, t->keys[i].name, 16) == 0)
                idx = i;
        if (idx < 0) {
            rc = 0; /* unknown or retired key: a full handshake, and a new ticket */
            goto out;
        }
    }
    const tkey_t *k = &t->keys[idx];
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof k->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        goto out;
    if (enc ? EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1
            : EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) != 1)
        goto out;
    /* 2: good, and issue a new ticket: under the current key when this one is older, and
     * always in TLS 1.3, whose clients use a ticket once (RFC 8446 C.4; OpenSSL's client
     * does), so a resumed connection must leave them a fresh one for the next */
    rc = enc || (idx == 0 && SSL_version(s) != TLS1_3_VERSION) ? 1 : 2;
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* ---- callbacks ---- */

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    cz_tls_ctx_t *c = arg;
    unsigned char *sel;
    if (!c->alpn_len)
        return SSL_TLSEXT_ERR_NOACK;
    /* the server's preference order; no protocol in common is fatal (RFC 7301 3.2) */
    if (SSL_select_next_proto(&sel, outlen, c->alpn, (unsigned)c->alpn_len, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    /* but a server of http/1.1 serves HTTP/1.0 too (curl --http1.0 offers only that), as
     * nginx does */
    static const unsigned char h11[] = "\x08http/1.1", h10[] = "\x08http/1.0";
    bool serves_h11 = false;
    for (size_t i = 0; i + 9 <= c->alpn_len; i += 1u + c->alpn[i])
        serves_h11 |= memcmp(c->alpn + i, h11, 9) == 0;
    for (unsigned i = 0; serves_h11 && i + 9 <= inlen; i += 1u + in[i]) {
        if (memcmp(in + i, h10, 9) == 0) {
            *out = in + i + 1;
            *outlen = 8;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int sni_cb(SSL *s, int *al, void *arg)
{
    cz_tls_ctx_t *c = arg;
    const char *name = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
    if (!name)
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < c->ncerts; i++)
        if (X509_check_host(c->certs[i].leaf, name, 0, 0, NULL) == 1) {
            if (i > 0 && !SSL_set_SSL_CTX(s, c->certs[i].ssl))
                return SSL_TLSEXT_ERR_ALERT_FATAL;
            break;
        }
    return SSL_TLSEXT_ERR_OK; /* no match: the default certificate */
}

static int client_new_session_cb(SSL *s, SSL_SESSION *sess)
{
    cz__tls_t *t = SSL_get_app_data(s);
    const char *peer = t ? cz__tls_peer(t) : NULL;
    if (!peer || !SSL_SESSION_is_resumable(sess))
        return 0;
    cz__tls_cache_put(cz__tls_ctx(t), peer, sess);
    return 1; /* the cache keeps this reference */
}

/* ---- building ---- */

static int alpn_wire(cz_tls_ctx_t *c, const cz_conf_strings_t *list, char *err, size_t errsize)
{
    size_t len = 0;
    for (size_t i = 0; i < list->n; i++) {
        size_t n = strlen(list->items[i]);
        if (n == 0 || n > 255)
            return fail(err, errsize, "Alpn: \"%s\" is not 1..255 bytes", list->items[i]);
        len += 1 + n;
    }
    if (!len)
        return 0;
    if (!(c->alpn = malloc(len)))
        return fail(err, errsize, "Alpn: out of memory");
    for (size_t i = 0, o = 0; i < list->n; i++) {
        size_t n = strlen(list->items[i]);
        c->alpn[o++] = (uint8_t)n;
        memcpy(c->alpn + o, list->items[i], n);
        o += n;
    }
    c->alpn_len = len;
    return 0;
}

static int common(SSL_CTX *ssl, int min_version, const char *ciphers, const char *suites,
                  const char *curves, char *err, size_t errsize)
{
    ERR_clear_error();
    if (!SSL_CTX_set_min_proto_version(ssl, min_version == CZ_TLS_VERSION_1_3 ? TLS1_3_VERSION
                                                                              : TLS1_2_VERSION))
        return fail(err, errsize, "MinVersion");
    SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_set_cipher_list(ssl, ciphers ? ciphers : CZ_TLS_DEFAULT_CIPHERS) != 1)
        return fail(err, errsize, "Ciphers \"%s\"", ciphers);
    if (suites && SSL_CTX_set_ciphersuites(ssl, suites) != 1)
        return fail(err, errsize, "CipherSuites \"%s\"", suites);
    if (SSL_CTX_set1_groups_list(ssl, curves ? curves : CZ_TLS_DEFAULT_CURVES) != 1)
        return fail(err, errsize, "Curves \"%s\"", curves);
    return 0;
}

/* kname: the key file's config key, KeyFile (server) or CertKeyFile (client, go-zero's) */
static int use_cert(cz_tls_ctx_t *c, SSL_CTX *ssl, const char *cert, const char *key,
                    const char *kname, char *err, size_t errsize)
{
    int rc;
    if ((rc = note_file(c, "CertFile", cert, err, errsize)) ||
        (rc = note_file(c, kname, key, err, errsize)))
        return rc;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ssl, cert) != 1)
        return fail(err, errsize, "CertFile %s", cert);
    if (SSL_CTX_use_PrivateKey_file(ssl, key, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL compares the key with the certificate as it loads it */
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            return fail(err, errsize, "%s %s does not match CertFile %s", kname, key, cert);
        return fail(err, errsize, "%s %s", kname, key);
    }
    if (SSL_CTX_check_private_key(ssl) != 1)
        return fail(err, errsize, "%s %s does not match CertFile %s", kname, key, cert);
    return 0;
}

static cz_tls_ctx_t *ctx_alloc(bool server)
{
    cz_tls_ctx_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->refs = 1;
    c->server = server;
    pthread_mutex_init(&c->cache_mu, NULL);
    return c;
}

static void ctx_free(cz_tls_ctx_t *c)
{
    for (size_t i = 0; i < c->ncerts; i++)
        SSL_CTX_free(c->certs[i].ssl);
    free(c->certs);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i].path);
    free(c->files);
    for (size_t i = 0; i < c->ncache; i++) {
        free(c->cache[i].peer);
        SSL_SESSION_free(c->cache[i].sess);
    }
    free(c->cache);
    free(c->alpn);
    lineage_unref(c->lin);
    pthread_mutex_destroy(&c->cache_mu);
    free(c);
}

/* One SSL_CTX of a server context: the settings every certificate's context shares. */
static int server_ssl(cz_tls_ctx_t *c, const cz_tls_conf_t *conf, const char *cert,
                      const char *key, char *err, size_t errsize)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (!ssl)
        return fail(err, errsize, "TLS: cannot create a context");
    c->certs[c->ncerts++].ssl = ssl;
    SSL_CTX_set_app_data(ssl, c);
    int rc = common(ssl, conf->min_version, conf->ciphers, conf->cipher_suites, conf->curves,
                    err, errsize);
    if (rc || (rc = use_cert(c, ssl, cert, key, "KeyFile", err, errsize)))
        return rc;
    c->certs[c->ncerts - 1].leaf = SSL_CTX_get0_certificate(ssl);
    SSL_CTX_set_dh_auto(ssl, 1); /* the intermediate profile's DHE suites */
    /* an idle keep-alive connection then holds no 34 KiB of record buffers (nginx does too) */
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_id_context(ssl, (const unsigned char *)"czero", 5);
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
    if (conf->session_tickets) {
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ssl, ticket_cb);
        SSL_CTX_set_timeout(ssl, (long)(2 * c->lin->period_ns / CZ_NS_PER_SEC));
    } else {
        SSL_CTX_set_options(ssl, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ssl, 0);
    }
    SSL_CTX_set_alpn_select_cb(ssl, alpn_cb, c);
    if (conf->client_auth != CZ_TLS_CLIENT_AUTH_OFF) {
        if (!conf->ca_file)
            return fail(err, errsize, "ClientAuth needs CAFile");
        if (c->ncerts == 1 && (rc = note_file(c, "CAFile", conf->ca_file, err, errsize)))
            return rc;
        ERR_clear_error();
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->ca_file);
        if (!names || SSL_CTX_load_verify_locations(ssl, conf->ca_file, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return fail(err, errsize, "CAFile %s", conf->ca_file);
        }
        SSL_CTX_set_client_CA_list(ssl, names);
        SSL_CTX_set_verify(ssl,
                           SSL_VERIFY_PEER | (conf->client_auth == CZ_TLS_CLIENT_AUTH_REQUIRED
                                                  ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                  : 0),
                           NULL);
    }
    return 0;
}

static int server_new(const cz_tls_conf_t *conf, const cz_clock_t *clock, lineage_t *share,
                      cz_tls_ctx_t **out, char *err, size_t errsize)
{
    *out = NULL;
    if (!cz_tls_conf_enabled(conf))
        return fail(err, errsize, "TLS needs CertFile and KeyFile, or Tls.Certificates");
    if ((conf->cert_file != NULL) != (conf->key_file != NULL))
        return fail(err, errsize, "CertFile and KeyFile go together");
    cz_tls_ctx_t *c = ctx_alloc(true);
    size_t n = (conf->cert_file ? 1 : 0) + conf->certificates.n;
    int rc = CZ_ENOMEM;
    if (!c || !(c->certs = calloc(n, sizeof *c->certs)))
        goto oom;
    if (share) {
        __atomic_add_fetch(&share->refs, 1, __ATOMIC_RELAXED);
        c->lin = share;
    } else if (!(c->lin = lineage_new(clock, conf->ticket_key_rotation_ms))) {
        goto oom;
    }
    if ((rc = alpn_wire(c, &conf->alpn, err, errsize)))
        goto bad;
    if (conf->cert_file &&
        (rc = server_ssl(c, conf, conf->cert_file, conf->key_file, err, errsize)))
        goto bad;
    const cz_tls_cert_conf_t *more = conf->certificates.items;
    for (size_t i = 0; i < conf->certificates.n; i++)
        if ((rc = server_ssl(c, conf, more[i].cert_file, more[i].key_file, err, errsize)))
            goto bad;
    if (c->ncerts > 1) {
        SSL_CTX_set_tlsext_servername_callback(c->certs[0].ssl, sni_cb);
        SSL_CTX_set_tlsext_servername_arg(c->certs[0].ssl, c);
    }
    *out = c;
    return 0;
oom:
    rc = fail(err, errsize, "TLS: out of memory");
bad:
    if (c)
        ctx_free(c);
    return rc;
}

int cz_tls_server_ctx_new(const cz_tls_conf_t *conf, const cz_clock_t *clock, cz_tls_ctx_t **out,
                          char *err, size_t errsize)
{
    return server_new(conf, clock, NULL, out, err, errsize);
}

int cz_tls_server_ctx_renew(const cz_tls_ctx_t *prev, const cz_tls_conf_t *conf,
                            cz_tls_ctx_t **out, char *err, size_t errsize)
{
    return server_new(conf, NULL, prev && prev->server ? prev->lin : NULL, out, err, errsize);
}

int cz_tls_client_ctx_new(const cz_tls_client_conf_t *conf, cz_tls_ctx_t **out, char *err,
                          size_t errsize)
{
    *out = NULL;
    cz_tls_ctx_t *c = ctx_alloc(false);
    SSL_CTX *ssl = NULL;
    int rc;
    if (!c || !(c->certs = calloc(1, sizeof *c->certs)) || !(c->lin = lineage_new(NULL, 0)) ||
        !(ssl = SSL_CTX_new(TLS_client_method()))) {
        rc = fail(err, errsize, "TLS: out of memory");
        goto bad;
    }
    c->certs[0].ssl = ssl;
    c->ncerts = 1;
    SSL_CTX_set_app_data(ssl, c);
    if ((rc = common(ssl, conf->min_version, conf->ciphers, NULL, conf->curves, err, errsize)) ||
        (rc = alpn_wire(c, &conf->alpn, err, errsize)))
        goto bad;
    if (c->alpn_len && SSL_CTX_set_alpn_protos(ssl, c->alpn, (unsigned)c->alpn_len) != 0) {
        rc = fail(err, errsize, "Alpn");
        goto bad;
    }
    if ((conf->cert_file != NULL) != (conf->key_file != NULL)) {
        rc = fail(err, errsize, "CertFile and CertKeyFile go together");
        goto bad;
    }
    if (conf->cert_file && (rc = use_cert(c, ssl, conf->cert_file, conf->key_file,
                                          "CertKeyFile", err, errsize)))
        goto bad;
    if (conf->insecure_skip_verify) {
        SSL_CTX_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        if (conf->ca_file) {
            if ((rc = note_file(c, "CACertFile", conf->ca_file, err, errsize)))
                goto bad;
            if (SSL_CTX_load_verify_locations(ssl, conf->ca_file, NULL) != 1) {
                rc = fail(err, errsize, "CACertFile %s", conf->ca_file);
                goto bad;
            }
        } else if (SSL_CTX_set_default_verify_paths(ssl) != 1) {
            rc = fail(err, errsize, "TLS: the system's CA certificates");
            goto bad;
        }
    }
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ssl, client_new_session_cb);
    *out = c;
    return 0;
bad:
    if (c)
        ctx_free(c);
    return rc;
}

cz_tls_ctx_t *cz_tls_ctx_ref(cz_tls_ctx_t *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void cz_tls_ctx_unref(cz_tls_ctx_t *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ctx_free(c);
}

void cz_tls_ctx_stats(const cz_tls_ctx_t *c, cz_tls_stats_t *o)
{
    o->handshakes = __atomic_load_n(&c->lin->counts[CZ__TLS_STAT_OK], __ATOMIC_RELAXED);
    o->resumed = __atomic_load_n(&c->lin->counts[CZ__TLS_STAT_RESUMED], __ATOMIC_RELAXED);
    o->failed = __atomic_load_n(&c->lin->counts[CZ__TLS_STAT_FAILED], __ATOMIC_RELAXED);
    o->plaintext = __atomic_load_n(&c->lin->counts[CZ__TLS_STAT_PLAINTEXT], __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->lin->mu);
    o->ticket_rotations = c->lin->rotations;
    pthread_mutex_unlock(&c->lin->mu);
}

void cz__tls_ctx_count(cz_tls_ctx_t *c, int what)
{
    __atomic_add_fetch(&c->lin->counts[what], 1, __ATOMIC_RELAXED);
}

bool cz__tls_ctx_is_server(const cz_tls_ctx_t *c) { return c->server; }
SSL_CTX *cz__tls_ctx_ssl_ctx(const cz_tls_ctx_t *c) { return c->certs[0].ssl; }

/* ---- the client's session cache: a small table, linear search (one entry per upstream) ---- */

SSL_SESSION *cz__tls_cache_get(cz_tls_ctx_t *c, const char *peer)
{
    SSL_SESSION *s = NULL;
    pthread_mutex_lock(&c->cache_mu);
    for (size_t i = 0; i < c->ncache; i++)
        if (strcmp(c->cache[i].peer, peer) == 0) {
            /* a copy: OpenSSL's client marks a TLS 1.3 session spent once it resumed with it,
             * which must not touch the cached one other threads read */
            s = SSL_SESSION_dup(c->cache[i].sess);
            break;
        }
    pthread_mutex_unlock(&c->cache_mu);
    return s;
}

void cz__tls_cache_put(cz_tls_ctx_t *c, const char *peer, SSL_SESSION *s)
{
    SSL_SESSION *old = NULL;
    pthread_mutex_lock(&c->cache_mu);
    size_t i = 0;
    while (i < c->ncache && strcmp(c->cache[i].peer, peer) != 0)
        i++;
    if (i < c->ncache) {
        old = c->cache[i].sess;
        c->cache[i].sess = s;
    } else {
        char *p = strdup(peer);
        if (p && c->ncache < CACHE_MAX) {
            cached_t *n = realloc(c->cache, (c->ncache + 1) * sizeof *n);
            if (n) {
                c->cache = n;
                c->cache[c->ncache++] = (cached_t){p, s};
                p = NULL;
                s = NULL;
            }
        } else if (p) { /* full: replace entries round-robin */
            cached_t *e = &c->cache[c->cache_next++ % CACHE_MAX];
            free(e->peer);
            old = e->sess;
            *e = (cached_t){p, s};
            p = NULL;
            s = NULL;
        }
        free(p);
        old = old ? old : s; /* not stored: drop the reference */
    }
    pthread_mutex_unlock(&c->cache_mu);
    SSL_SESSION_free(old);
}

void cz__tls_cache_forget(cz_tls_ctx_t *c, const char *peer)
{
    SSL_SESSION *old = NULL;
    pthread_mutex_lock(&c->cache_mu);
    for (size_t i = 0; i < c->ncache; i++)
        if (strcmp(c->cache[i].peer, peer) == 0) {
            old = c->cache[i].sess;
            free(c->cache[i].peer);
            c->cache[i] = c->cache[--c->ncache];
            break;
        }
    pthread_mutex_unlock(&c->cache_mu);
    SSL_SESSION_free(old);
}

/* ---- the slot ---- */

cz_tls_slot_t *cz_tls_slot_new(cz_tls_ctx_t *ctx)
{
    cz_tls_slot_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->cur = ctx;
    return s;
}

cz_tls_ctx_t *cz_tls_slot_get(cz_tls_slot_t *s)
{
    /* a mutex, not a bare atomic load: the reference must be taken before a swap can drop it */
    pthread_mutex_lock(&s->mu);
    cz_tls_ctx_t *c = s->cur ? cz_tls_ctx_ref(s->cur) : NULL;
    pthread_mutex_unlock(&s->mu);
    return c;
}

void cz_tls_slot_swap(cz_tls_slot_t *s, cz_tls_ctx_t *ctx)
{
    pthread_mutex_lock(&s->mu);
    cz_tls_ctx_t *old = s->cur;
    s->cur = ctx;
    pthread_mutex_unlock(&s->mu);
    cz_tls_ctx_unref(old);
}

int cz_tls_slot_reload(cz_tls_slot_t *s, const cz_tls_conf_t *conf, char *err, size_t errsize)
{
    cz_tls_ctx_t *cur = cz_tls_slot_get(s), *next;
    int rc = cz_tls_server_ctx_renew(cur, conf, &next, err, errsize);
    cz_tls_ctx_unref(cur);
    if (rc == 0)
        cz_tls_slot_swap(s, next);
    return rc;
}

void cz_tls_slot_free(cz_tls_slot_t *s)
{
    if (!s)
        return;
    cz_tls_ctx_unref(s->cur);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
