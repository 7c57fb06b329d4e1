/* SPDX-License-Identifier: MIT
 *
 * signature.c: the signature link, go-zero's content security and body cryption
 * (rest/handler/contentsecurityhandler.go, cryptionhandler.go, rest/internal/security).
 *
 * A client signs a request with a per-request AES key it sends RSA-encrypted to the server:
 *   X-Content-Security: key=<fingerprint>; secret=<base64 RSA-PKCS1v15("key=<base64 aes key>;
 *                       time=<unix seconds>; type=<0 plain | 1 encrypted>")>; signature=<sig>
 *   sig = base64(HMAC-SHA256(aes key, "time\nMETHOD\npath\nquery\nhex(sha256(body))"))
 * where path and query come from X-Request-Uri when the client sends one (a proxy rewrote the
 * URL). The fingerprint picks one of the Signature.PrivateKeys of the config. The time must be
 * within Signature.Expiry of the server's clock, either way. Only DELETE, GET, POST and PUT are
 * checked, as in go-zero. A failure answers 403 when Signature.Strict is set and otherwise lets
 * the request through (go-zero's handleVerificationFailure), logging it either way.
 *
 * With type=1 and a body, the body is base64(AES-ECB(key, plain)): the handler sees the plain
 * body (400 when it does not decrypt), and a non-empty response body is sent back as
 * base64(AES-ECB(key, body)), go-zero's cryptionResponseWriter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "mw_int.h"
#include "czero/codec.h"
#include "czero/log.h"

#define CRYPTION_TYPE 1 /* go-zero httpx.CryptionType */

typedef struct sig_state {
    size_t nkeys;
    char **fingerprints;
    cz_rsa_key_t **keys;
    bool strict;
    int64_t tolerance_s;
} sig_state_t;

typedef struct sig_ctx {
    uint8_t key[32];
    size_t key_n;
    bool encrypt_response;
} sig_ctx_t;

/* go-zero httpx.ParseHeader: "a=b; c=d", fields trimmed, split at the first '=', last wins. */
static bool attr(cz_str_t h, const char *name, cz_str_t *out)
{
    size_t nl = strlen(name);
    bool found = false;
    const char *p = h.p, *end = h.p + h.n;
    while (p && p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *fe = semi ? semi : end;
        const char *a = p, *b = fe;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r' || *a == '\n' || *a == '\v'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r' || b[-1] == '\n' ||
                         b[-1] == '\v'))
            b--;
        const char *eq = memchr(a, '=', (size_t)(b - a));
        if (eq && (size_t)(eq - a) == nl && memcmp(a, name, nl) == 0) {
            *out = (cz_str_t){eq + 1, (size_t)(b - eq - 1)};
            found = true;
        }
        p = semi ? semi + 1 : NULL;
    }
    return found;
}

/* Go's strconv.ParseInt/Atoi: optional sign, decimal digits, nothing else. */
static bool parse_int(cz_str_t s, int64_t *out)
{
    char buf[32];
    if (s.n == 0 || s.n >= sizeof buf)
        return false;
    memcpy(buf, s.p, s.n);
    buf[s.n] = '\0';
    const char *d = buf + (buf[0] == '+' || buf[0] == '-');
    if (*d < '0' || *d > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode into the arena (Go's url.URL.Path); false on a bad escape. */
static bool unescape(cz_arena_t *a, cz_str_t in, cz_str_t *out)
{
    char *o = cz_arena_alloc(a, in.n + 1);
    if (!o)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (in.p[i] != '%') {
            o[n++] = in.p[i];
            continue;
        }
        int h = i + 2 < in.n ? hexval(in.p[i + 1]) : -1, l = h >= 0 ? hexval(in.p[i + 2]) : -1;
        if (l < 0)
            return false;
        o[n++] = (char)(h << 4 | l);
        i += 2;
    }
    *out = (cz_str_t){o, n};
    return true;
}

/* Split a request URI (absolute or origin form) into its decoded path and raw query. */
static bool split_uri(cz_arena_t *a, cz_str_t u, cz_str_t *path, cz_str_t *query)
{
    const char *p = u.p, *end = u.p + u.n;
    const char *hash = memchr(p, '#', u.n);
    if (hash)
        end = hash;
    const char *scheme = NULL;
    for (const char *c = p; c + 2 < end && *c != '/' && *c != '?'; c++)
        if (c[0] == ':' && c[1] == '/' && c[2] == '/') {
            scheme = c;
            break;
        }
    if (scheme) { /* skip "scheme://authority" */
        p = scheme + 3;
        while (p < end && *p != '/' && *p != '?')
            p++;
    }
    const char *q = memchr(p, '?', (size_t)(end - p));
    *query = q ? (cz_str_t){q + 1, (size_t)(end - q - 1)} : (cz_str_t){"", 0};
    return unescape(a, (cz_str_t){p, (size_t)((q ? q : end) - p)}, path);
}

/* security.ParseContentSecurity + VerifySignature. NULL when the request passes; else why. */
static const char *verify(const sig_state_t *st, cz_req_t *r, sig_ctx_t *sc, bool *encrypted)
{
    cz_str_t h = cz_req_header(r, "X-Content-Security");
    cz_str_t fp = {0}, secret = {0}, sig = {0};
    if (!h.p || !attr(h, "key", &fp) || !attr(h, "secret", &secret) ||
        !attr(h, "signature", &sig) || !fp.n || !secret.n || !sig.n)
        return "invalid X-Content-Security header";
    const cz_rsa_key_t *key = NULL;
    for (size_t i = 0; i < st->nkeys; i++)
        if (strlen(st->fingerprints[i]) == fp.n && memcmp(st->fingerprints[i], fp.p, fp.n) == 0)
            key = st->keys[i];
    if (!key)
        return "invalid public key";
    uint8_t *enc = cz_arena_alloc(&r->arena, cz_base64_decoded_max(secret.n));
    size_t enc_n = 0;
    uint8_t *plain = NULL;
    size_t plain_n = 0;
    if (!enc || cz_base64_decode(enc, &enc_n, secret.p, secret.n, 0) != 0 ||
        cz_rsa_decrypt(key, enc, enc_n, &plain, &plain_n) != 0)
        return "invalid secret";
    cz_str_t ph = {(const char *)plain, plain_n}, k64 = {"", 0}, ts = {0}, type = {0};
    attr(ph, "key", &k64);
    attr(ph, "time", &ts);
    attr(ph, "type", &type);
    const char *why = NULL;
    int64_t ctype = 0, seconds = 0;
    size_t key_n = 0;
    uint8_t keybuf[cz_base64_decoded_max(64)];
    if (k64.n > 64 || cz_base64_decode(keybuf, &key_n, k64.p, k64.n, 0) != 0)
        why = "invalid key";
    else if (!parse_int(type, &ctype))
        why = "invalid content type";
    else if (!parse_int(ts, &seconds)) /* VerifySignature: CodeSignatureInvalidHeader */
        why = "invalid time";
    char stamp[32];
    snprintf(stamp, sizeof stamp, "%.*s", (int)(ts.n < 31 ? ts.n : 31), ts.p ? ts.p : "");
    free(plain);
    if (why)
        return why;
    int64_t now = (int64_t)(cz_wallclock_ns() / CZ_NS_PER_SEC), tol = st->tolerance_s;
    if (seconds > INT64_MAX - tol || now > INT64_MAX - tol || seconds + tol < now ||
        now + tol < seconds)
        return "wrong time";

    cz_str_t path = r->path, query = cz_req_query_string(r);
    cz_str_t ru = cz_req_header(r, "X-Request-Uri");
    cz_str_t p2, q2;
    if (ru.n && split_uri(&r->arena, ru, &p2, &q2)) {
        path = p2;
        query = q2;
    } else {
        cz_str_t t = r->target;
        const char *qm = memchr(t.p, '?', t.n);
        if (unescape(&r->arena, (cz_str_t){t.p, qm ? (size_t)(qm - t.p) : t.n}, &p2))
            path = p2; /* Go's r.URL.Path: decoded, not cleaned */
    }
    char body_hex[65];
    cz_sha256_hex(r->body.p, r->body.n, body_hex);
    char *content = cz_arena_sprintf(&r->arena, "%s\n%.*s\n%.*s\n%.*s\n%s", stamp,
                                     (int)r->method.n, r->method.p, (int)path.n, path.p,
                                     (int)query.n, query.p, body_hex);
    uint8_t mac[64];
    size_t mac_n = 0;
    char expect[cz_base64_encoded_len(64, 0) + 1];
    if (!content || cz_hmac("SHA256", keybuf, key_n, content, strlen(content), mac, &mac_n))
        return "out of memory";
    size_t en = cz_base64_encode(expect, mac, mac_n, 0);
    if (en != sig.n || CRYPTO_memcmp(expect, sig.p, en) != 0)
        return "signature different";
    memcpy(sc->key, keybuf, key_n <= sizeof sc->key ? key_n : sizeof sc->key);
    sc->key_n = key_n;
    *encrypted = ctype == CRYPTION_TYPE;
    return NULL;
}

static cz_mw_step_t sig_enter(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    const sig_state_t *st = mw->data;
    sig_ctx_t *sc = ctx;
    cz_str_t m = r->method;
    if (!cz_str_eq(m, CZ_STR("GET")) && !cz_str_eq(m, CZ_STR("POST")) &&
        !cz_str_eq(m, CZ_STR("PUT")) && !cz_str_eq(m, CZ_STR("DELETE")))
        return CZ_MW_NEXT;
    bool encrypted = false;
    const char *why = verify(st, r, sc, &encrypted);
    if (why) {
        cz_str_t h = cz_req_header(r, "X-Content-Security");
        cz_log_error("Signature verification failed, X-Content-Security: %.*s, error: %s",
                     (int)h.n, h.p ? h.p : "", why);
        if (st->strict) {
            cz__mw_answer(res, 403, NULL);
            return CZ_MW_DONE;
        }
        return CZ_MW_NEXT;
    }
    if (!encrypted || r->body.n == 0)
        return CZ_MW_NEXT;
    /* cryptionhandler decryptBody: base64 (standard) then AES-ECB; any failure is 400 */
    uint8_t *raw = cz_arena_alloc(&r->arena, cz_base64_decoded_max(r->body.n));
    size_t raw_n = 0;
    uint8_t *plain = NULL;
    size_t plain_n = 0;
    if (!raw || cz_base64_decode(raw, &raw_n, r->body.p, r->body.n, 0) != 0 ||
        cz_aes_ecb_decrypt(sc->key, sc->key_n, raw, raw_n, &plain, &plain_n) != 0) {
        cz__mw_answer(res, 400, NULL);
        return CZ_MW_DONE;
    }
    cz_str_t body = cz_arena_strdup(&r->arena, (cz_str_t){(const char *)plain, plain_n});
    free(plain);
    if (!body.p && plain_n) {
        cz__mw_answer(res, 503, NULL);
        return CZ_MW_DONE;
    }
    r->body = body;
    r->body_cap = body.n;
    sc->encrypt_response = true;
    return CZ_MW_NEXT;
}

static void sig_leave(cz_mw_t *mw, cz_req_t *r, cz_res_t *res, void *ctx)
{
    (void)mw;
    sig_ctx_t *sc = ctx;
    /* a streamed body has gone out already; it cannot be wrapped any more */
    if (!sc->encrypt_response || res->body_len == 0 || res->streaming || res->head_sent)
        return;
    uint8_t *enc = NULL;
    size_t enc_n = 0;
    if (cz_aes_ecb_encrypt(sc->key, sc->key_n, res->body, res->body_len, &enc, &enc_n) != 0) {
        cz__mw_answer(res, 500, NULL); /* cryptionResponseWriter.flush */
        return;
    }
    size_t cap = cz_base64_encoded_len(enc_n, 0) + 1;
    char *b = cz_arena_alloc(&r->arena, cap);
    if (!b) {
        free(enc);
        cz__mw_answer(res, 503, NULL);
        return;
    }
    res->body_len = cz_base64_encode(b, enc, enc_n, 0);
    res->body = b;
    res->body_cap = cap;
    free(enc);
}

static const cz_mw_ops_t sig_ops = {.name = "signature",
                                    .ctx_size = sizeof(sig_ctx_t),
                                    .enter = sig_enter,
                                    .leave = sig_leave};

static void sig_free(cz_server_t *s, void *state)
{
    (void)s;
    sig_state_t *st = state;
    if (!st)
        return;
    for (size_t i = 0; i < st->nkeys; i++) {
        free(st->fingerprints[i]);
        cz_rsa_key_free(st->keys[i]);
    }
    free(st->fingerprints);
    free(st->keys);
    free(st);
}

/* go-zero engine.signatureVerifier: keys are loaded once, when some route asks for them. */
static int sig_init(cz_server_t *s, void **state, cz_diag_t *d)
{
    bool wanted = false;
    for (size_t i = 0; i < s->nroutes; i++)
        wanted |= s->routes[i]->signature;
    if (!wanted)
        return 0;
    const cz_signature_conf_t *c = &s->conf.signature;
    if (c->private_keys.n == 0 && c->strict) /* go-zero ErrSignatureConfig */
        return cz_diag_set(d, NULL, 0, 0, "Signature.PrivateKeys",
                           "bad config for Signature: Strict needs PrivateKeys");
    sig_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return CZ_ENOMEM;
    *state = st;
    st->strict = c->strict;
    st->tolerance_s = c->expiry_ms / 1000; /* int64(tolerance.Seconds()) */
    size_t n = c->private_keys.n;
    st->fingerprints = calloc(n ? n : 1, sizeof *st->fingerprints);
    st->keys = calloc(n ? n : 1, sizeof *st->keys);
    if (!st->fingerprints || !st->keys)
        return CZ_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const cz_signature_key_t *k = (const cz_signature_key_t *)c->private_keys.items + i;
        int rc = cz_rsa_key_load(k->key_file ? k->key_file : "", &st->keys[i]);
        if (rc)
            return cz_diag_set(d, NULL, 0, 0, "Signature.PrivateKeys",
                               "cannot load RSA private key %s: %s", k->key_file ? k->key_file : "",
                               cz_strerror(rc));
        st->nkeys = i + 1;
        st->fingerprints[i] = strdup(k->fingerprint ? k->fingerprint : "");
        if (!st->fingerprints[i])
            return CZ_ENOMEM;
    }
    return 0;
}

static int sig_route(cz_server_t *s, void *state, const cz__route_t *rt, cz_mw_t *out,
                     cz_diag_t *d)
{
    (void)s, (void)d;
    sig_state_t *st = state;
    /* no keys and not strict: go-zero adds no verifier at all */
    if (!rt->signature || !st || st->nkeys == 0)
        return 0;
    out->ops = &sig_ops;
    out->data = st;
    return 0;
}

const cz__mw_module_t cz__mw_signature = {
    .name = "signature", .init = sig_init, .route = sig_route, .free = sig_free};
