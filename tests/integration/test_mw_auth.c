/* SPDX-License-Identifier: MIT
 *
 * Integration tests of the auth links on a real server (src/http/mw/jwt_auth.c, signature.c):
 * JWT routes answer 401 without a valid token (missing, expired, wrong secret, alg none, an
 * algorithm outside the server's policy) and hand the claims to the handler otherwise, accept
 * the previous secret during a rotation, and let the unauthorized callback shape the answer;
 * signature routes check go-zero's X-Content-Security header (RSA-wrapped AES key, HMAC over
 * time/method/path/query/body hash, expiry window, strict mode) and decrypt/encrypt bodies.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "czero/codec.h"
#include "czero/jwt.h"
#include "http_client.h"
#include "test_server.h"

static int me(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    json_t *c = cz_req_claims(req);
    if (!c)
        return cz_res_error(res, 500, "no claims"), CZ_DONE;
    cz_res_ok_json(res, c);
    return CZ_DONE;
}

static int echo(cz_req_t *req, cz_res_t *res, void *ud)
{
    (void)ud;
    cz_str_t b = cz_req_body(req);
    cz_res_printf(res, "got:%.*s", (int)b.n, b.p ? b.p : "");
    return CZ_DONE;
}

/* One request on a new connection; extra is a block of header lines ending in \r\n. */
static int request(int port, const char *method, const char *target, const char *extra,
                   const char *body, tc_resp_t *r)
{
    tc_conn_t c;
    if (tc_connect(&c, port, 3000))
        return -1;
    size_t bn = body ? strlen(body) : 0;
    tc_sendf(&c, "%s %s HTTP/1.1\r\nHost: t\r\n%sContent-Length: %zu\r\n\r\n%s", method, target,
             extra ? extra : "", bn, body ? body : "");
    int rc = tc_read(&c, r, false);
    tc_close(&c);
    return rc;
}

static int status_of(int port, const char *target, const char *auth)
{
    char hdr[2048] = "";
    if (auth)
        snprintf(hdr, sizeof hdr, "Authorization: %s\r\n", auth);
    tc_resp_t r = {0};
    cr_assert_eq(request(port, "GET", target, hdr, NULL, &r), 0);
    int st = r.status;
    tc_resp_free(&r);
    return st;
}

static char *token(unsigned alg, const char *secret, int64_t exp_from_now, const char *sub)
{
    json_t *c = json_pack("{s:s, s:I, s:s}", "sub", sub, "exp",
                          (json_int_t)(time(NULL) + exp_from_now), "role", "admin");
    char *t = NULL;
    cr_assert_eq(cz_jwt_sign(alg, secret, strlen(secret), c, &t), 0);
    json_decref(c);
    return t;
}

static char *bearer(char *tok)
{
    char *s = malloc(strlen(tok) + 8);
    sprintf(s, "Bearer %s", tok);
    free(tok);
    return s;
}

static ts_t t;

static void start_jwt(unsigned algs, cz_unauthorized_fn cb, void *ud)
{
    ts_init(&t);
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv);
    cz_route_t r1[] = {{.method = "GET", .path = "/me", .handler = me}};
    cz_route_opts_t o1 = {.prefix = "/api", .jwt = {.secret = "new-secret"}};
    cr_assert_eq(cz_server_add_routes(t.srv, r1, 1, &o1, &d), 0, "%s", d.msg);
    cz_route_t r2[] = {{.method = "GET", .path = "/me", .handler = me}};
    cz_route_opts_t o2 = {.prefix = "/rot", .jwt = {.secret = "new-secret",
                                                    .prev_secret = "old-secret"}};
    cr_assert_eq(cz_server_add_routes(t.srv, r2, 1, &o2, &d), 0, "%s", d.msg);
    cz_route_t open[] = {{.method = "GET", .path = "/open", .handler = me}};
    cr_assert_eq(cz_server_add_routes(t.srv, open, 1, NULL, &d), 0);
    cr_assert_eq(cz_server_set_jwt_policy(t.srv, algs, 0), 0);
    cr_assert_eq(cz_server_set_jwt_policy(t.srv, 0x80, 0), CZ_EARG);
    cz_server_set_unauthorized(t.srv, cb, ud);
    cr_assert_eq(cz_server_start(t.srv), 0);
    t.port = cz_server_port(t.srv);
}

Test(mw_auth, jwt_route_needs_a_valid_token)
{
    start_jwt(0, NULL, NULL);
    const char *names[16];
    size_t n = cz_server_route_chain(t.srv, "GET", "/api/me", names, 16);
    cr_assert(n >= 1);
    cr_assert_str_eq(names[n - 1], "jwt");
    cr_assert_eq(status_of(t.port, "/api/me", NULL), 401);
    cr_assert_eq(status_of(t.port, "/api/me", "Bearer "), 401);
    cr_assert_eq(status_of(t.port, "/api/me", "Bearer not.a.jwt"), 401);

    char *ok = bearer(token(CZ_JWT_HS256, "new-secret", 3600, "42"));
    tc_resp_t r = {0};
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Authorization: %s\r\n", ok);
    cr_assert_eq(request(t.port, "GET", "/api/me", hdr, NULL, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *body = json_loads(r.body, 0, NULL);
    cr_assert_not_null(body, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(body, "sub")), "42");
    cr_assert_str_eq(json_string_value(json_object_get(body, "role")), "admin");
    json_decref(body);
    tc_resp_free(&r);
    /* the prefix is case-insensitive and optional (golang-jwt's header extractor) */
    ok[0] = 'b', ok[1] = 'E';
    cr_assert_eq(status_of(t.port, "/api/me", ok), 200);
    cr_assert_eq(status_of(t.port, "/api/me", ok + 7), 200);
    free(ok);

    char *expired = bearer(token(CZ_JWT_HS256, "new-secret", -10, "42"));
    cr_assert_eq(status_of(t.port, "/api/me", expired), 401);
    free(expired);
    char *wrong = bearer(token(CZ_JWT_HS256, "guessed", 3600, "42"));
    cr_assert_eq(status_of(t.port, "/api/me", wrong), 401);
    free(wrong);
    /* {"alg":"none"} . {"sub":"42"} . "" */
    cr_assert_eq(status_of(t.port, "/api/me", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9."),
                 401);
    /* a route without JWT is untouched (and has no claims) */
    cr_assert_eq(status_of(t.port, "/open", NULL), 500);
    ts_stop(&t);
}

Test(mw_auth, previous_secret_during_transition)
{
    start_jwt(0, NULL, NULL);
    char *old = bearer(token(CZ_JWT_HS256, "old-secret", 3600, "1"));
    char *cur = bearer(token(CZ_JWT_HS384, "new-secret", 3600, "2"));
    char *other = bearer(token(CZ_JWT_HS256, "other", 3600, "3"));
    for (int i = 0; i < 3; i++) { /* both orders of the tokenparser's counters */
        cr_assert_eq(status_of(t.port, "/rot/me", old), 200);
        cr_assert_eq(status_of(t.port, "/rot/me", cur), 200);
        cr_assert_eq(status_of(t.port, "/rot/me", cur), 200);
        cr_assert_eq(status_of(t.port, "/rot/me", other), 401);
    }
    /* the old secret only works where it is configured */
    cr_assert_eq(status_of(t.port, "/api/me", old), 401);
    free(old), free(cur), free(other);
    ts_stop(&t);
}

Test(mw_auth, algorithm_policy_refuses_alg_swap)
{
    start_jwt(CZ_JWT_HS256, NULL, NULL);
    char *h256 = bearer(token(CZ_JWT_HS256, "new-secret", 3600, "1"));
    char *h512 = bearer(token(CZ_JWT_HS512, "new-secret", 3600, "1"));
    cr_assert_eq(status_of(t.port, "/api/me", h256), 200);
    cr_assert_eq(status_of(t.port, "/api/me", h512), 401);
    free(h256), free(h512);
    ts_stop(&t);
}

static void unauthorized(cz_req_t *req, cz_res_t *res, const char *why, void *ud)
{
    (void)req;
    cz_res_header(res, "X-Auth-Error", why);
    if (ud)
        cz_res_status(res, *(int *)ud);
    cz_res_printf(res, "{\"code\":%d}", 1001);
}

Test(mw_auth, unauthorized_callback_shapes_the_answer)
{
    start_jwt(0, unauthorized, NULL);
    tc_resp_t r = {0};
    char *expired = bearer(token(CZ_JWT_HS256, "new-secret", -10, "42"));
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "Authorization: %s\r\n", expired);
    cr_assert_eq(request(t.port, "GET", "/api/me", hdr, NULL, &r), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_str_eq(tc_header(&r, "X-Auth-Error"), "token is expired");
    cr_assert_str_eq(r.body, "{\"code\":1001}");
    tc_resp_free(&r);
    free(expired);
    ts_stop(&t);
    static int teapot = 418; /* go-zero's header-once writer: a status the callback sets wins */
    start_jwt(0, unauthorized, &teapot);
    cr_assert_eq(status_of(t.port, "/api/me", NULL), 418);
    ts_stop(&t);
}

/* ---- signature (content security) ---- */

static EVP_PKEY *rsa;
static char key_path[64];
static const uint8_t AES_KEY[16] = "0123456789ABCDEF";

static void start_sig(bool strict)
{
    rsa = EVP_RSA_gen(1024);
    cr_assert_not_null(rsa);
    strcpy(key_path, "/tmp/czsigXXXXXX");
    close(mkstemp(key_path));
    BIO *bio = BIO_new_file(key_path, "w");
    cr_assert(PEM_write_bio_PrivateKey_traditional(bio, rsa, NULL, NULL, 0, NULL, NULL));
    BIO_free(bio);
    ts_init(&t);
    t.conf.signature.strict = strict;
    cz_signature_key_t *k = calloc(1, sizeof *k);
    k->fingerprint = strdup("fp1");
    k->key_file = strdup(key_path);
    t.conf.signature.private_keys.items = k;
    t.conf.signature.private_keys.n = 1;
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cr_assert_not_null(t.srv, "%s", d.msg);
    cz_route_t rs[] = {{.method = "POST", .path = "/sig", .handler = echo},
                       {.method = "GET", .path = "/sig", .handler = echo},
                       {.method = "PATCH", .path = "/sig", .handler = echo}};
    cz_route_opts_t o = {.signature = true};
    cr_assert_eq(cz_server_add_routes(t.srv, rs, 3, &o, &d), 0, "%s", d.msg);
    cr_assert_eq(cz_server_start(t.srv), 0, "%s", d.msg);
    t.port = cz_server_port(t.srv);
}

static void stop_sig(void)
{
    ts_stop(&t);
    unlink(key_path);
    EVP_PKEY_free(rsa);
}

/* What a go-zero client sends: the X-Content-Security header line for this request. */
static void security_header(char *out, size_t cap, long ts, int type, const char *method,
                            const char *path, const char *query, const char *body)
{
    char k64[32], plain[128];
    cz_base64_encode(k64, AES_KEY, 16, 0);
    int pn = snprintf(plain, sizeof plain, "key=%s; time=%ld; type=%d", k64, ts, type);
    uint8_t enc[256];
    size_t en = sizeof enc;
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(rsa, NULL);
    EVP_PKEY_encrypt_init(c);
    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
    cr_assert(EVP_PKEY_encrypt(c, enc, &en, (const uint8_t *)plain, (size_t)pn) > 0);
    EVP_PKEY_CTX_free(c);
    char secret[512];
    cz_base64_encode(secret, enc, en, 0);
    char hex[65], content[512];
    cz_sha256_hex(body, strlen(body), hex);
    snprintf(content, sizeof content, "%ld\n%s\n%s\n%s\n%s", ts, method, path, query, hex);
    uint8_t mac[64];
    size_t mn;
    cz_hmac("SHA256", AES_KEY, 16, content, strlen(content), mac, &mn);
    char sig[100];
    cz_base64_encode(sig, mac, mn, 0);
    snprintf(out, cap, "X-Content-Security: key=fp1; secret=%s; signature=%s\r\n", secret, sig);
}

static int signed_post(const char *body_signed, const char *body_sent, long ts, int type,
                       tc_resp_t *r)
{
    char hdr[2048];
    security_header(hdr, sizeof hdr, ts, type, "POST", "/sig", "a=1", body_signed);
    return request(t.port, "POST", "/sig?a=1", hdr, body_sent, r);
}

Test(mw_auth, signature_strict)
{
    start_sig(true);
    long now = (long)time(NULL);
    tc_resp_t r = {0};
    cr_assert_eq(signed_post("{\"x\":1}", "{\"x\":1}", now, 0, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "got:{\"x\":1}");
    tc_resp_free(&r);
    /* tampered body, expired and future timestamps, no header: 403 (go-zero strict mode) */
    cr_assert_eq(signed_post("{\"x\":1}", "{\"x\":2}", now, 0, &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    cr_assert_eq(signed_post("a", "a", now - 3601, 0, &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    cr_assert_eq(signed_post("a", "a", now + 3601, 0, &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    cr_assert_eq(signed_post("a", "a", now - 3500, 0, &r), 0); /* inside the 1h Expiry */
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    cr_assert_eq(request(t.port, "POST", "/sig", NULL, "a", &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    /* signed for another path: X-Request-Uri names the URL the client signed */
    char hdr[2048];
    security_header(hdr, sizeof hdr, now, 0, "GET", "/orig/path", "q=%20", "");
    cr_assert_eq(request(t.port, "GET", "/sig", hdr, NULL, &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    strcat(hdr, "X-Request-Uri: /orig/pa%74h?q=%20\r\n");
    cr_assert_eq(request(t.port, "GET", "/sig", hdr, NULL, &r), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    /* unknown fingerprint */
    security_header(hdr, sizeof hdr, now, 0, "GET", "/sig", "", "");
    char *fp = strstr(hdr, "key=fp1");
    fp[6] = '2';
    cr_assert_eq(request(t.port, "GET", "/sig", hdr, NULL, &r), 0);
    cr_assert_eq(r.status, 403);
    tc_resp_free(&r);
    /* methods other than DELETE/GET/POST/PUT are not checked */
    cr_assert_eq(request(t.port, "PATCH", "/sig", NULL, "p", &r), 0);
    cr_assert_eq(r.status, 200);
    tc_resp_free(&r);
    stop_sig();
}

Test(mw_auth, signature_encrypted_body)
{
    start_sig(true);
    long now = (long)time(NULL);
    const char *plain = "{\"secret\":\"payload\"}";
    uint8_t *enc;
    size_t en;
    cr_assert_eq(cz_aes_ecb_encrypt(AES_KEY, 16, plain, strlen(plain), &enc, &en), 0);
    char b64[256];
    cz_base64_encode(b64, enc, en, 0);
    free(enc);
    tc_resp_t r = {0};
    /* the signature covers the body as sent (encrypted) */
    cr_assert_eq(signed_post(b64, b64, now, 1, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    /* the handler saw the plain body; the answer comes back encrypted with the same key */
    uint8_t raw[256], *dec = NULL;
    size_t rn, dn;
    cr_assert_eq(cz_base64_decode(raw, &rn, r.body, r.body_len, 0), 0, "%s", r.body);
    cr_assert_eq(cz_aes_ecb_decrypt(AES_KEY, 16, raw, rn, &dec, &dn), 0);
    char expect[128];
    snprintf(expect, sizeof expect, "got:%s", plain);
    cr_assert_eq(dn, strlen(expect));
    cr_assert_arr_eq(dec, expect, dn);
    free(dec);
    tc_resp_free(&r);
    /* a body that does not decrypt: 400 */
    cr_assert_eq(signed_post("bm90IGVuY3J5cHRlZA==", "bm90IGVuY3J5cHRlZA==", now, 1, &r), 0);
    cr_assert_eq(r.status, 400);
    tc_resp_free(&r);
    stop_sig();
}

Test(mw_auth, signature_lenient_passes_through)
{
    start_sig(false);
    tc_resp_t r = {0};
    cr_assert_eq(signed_post("x", "y", (long)time(NULL), 0, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "got:y");
    tc_resp_free(&r);
    stop_sig();
}

Test(mw_auth, strict_signature_without_keys_fails_to_start)
{
    ts_init(&t);
    t.conf.signature.strict = true;
    cz_diag_t d = {0};
    t.srv = cz_server_new(&t.conf, &d);
    cz_route_t rs[] = {{.method = "GET", .path = "/sig", .handler = echo}};
    cz_route_opts_t o = {.signature = true};
    cr_assert_eq(cz_server_add_routes(t.srv, rs, 1, &o, &d), 0);
    cr_assert_neq(cz_server_start(t.srv), 0);
    cz_server_free(t.srv);
    t.srv = NULL;
    cz_conf_free(cz_rest_conf_fields, &t.conf);
}
