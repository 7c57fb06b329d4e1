/* SPDX-License-Identifier: MIT
 *
 * Tests for src/core/jwt.c: fixed tokens computed independently with python3's hmac, hashlib
 * and base64 (plus jwt.io's well-known example), so the verifier is not only checked against
 * its own signer; then round trips, the time claims at their exact boundaries, secret
 * transition, "alg": "none", algorithm swaps and malformed input. The clock is manual, at
 * Unix time 1700000000 unless a test moves it.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "czero/codec.h"
#include "czero/jwt.h"

#define NOW 1700000000ull
#define SECRET "czero-secret"

/* python3: header {"alg":"HS256","typ":"JWT"}, claims {"sub":"42","name":"Ada",
 * "exp":1700003600,"iat":1699999000}, key "czero-secret" */
static const char V256[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJBZGEiLCJleHAiOjE3MDAwMDM2"
    "MDAsImlhdCI6MTY5OTk5OTAwMH0.YRHQYwHGWvIu-XM1lmf0Z22ktfuDQfPEz8KxiSrklPA";
/* HS384, {"uid":7,"exp":1700003600} */
static const char V384[] =
    "eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJ1aWQiOjcsImV4cCI6MTcwMDAwMzYwMH0.7MLwhZGdYQk9DNC"
    "Ry0dv1A1oUYfKZWyhB2RrgYCH6EoABZigyFtCubZl8GkG4Ikl";
/* HS512, header {"typ":"JWT","alg":"HS512"}, {"role":"admin","nbf":1699990000,
 * "exp":1700000001}: valid at NOW, expired one second later */
static const char V512[] =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9.eyJyb2xlIjoiYWRtaW4iLCJuYmYiOjE2OTk5OTAwMDAsImV4cCI6"
    "MTcwMDAwMDAwMX0.3_RuYBkfV18MoziyMg4TGi8Sfmw8oMv_ZwkgtnwygDgwVF0-5qmDx6gVy4ZwWiJjN1SoXWtX_"
    "2AIFIM2iwT7qw";
/* HS256, {"sub":"42","exp":1700000000}: expired at NOW (golang-jwt: valid only if now < exp) */
static const char EXPIRED[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsImV4cCI6MTcwMDAwMDAwMH0.hRiK6I4EU68m"
    "7HQ3XYG8M08yA8BAup0Y_HOBG8s63dY";
/* {"alg":"none","typ":"JWT"} . {"sub":"42"} . (empty signature) */
static const char NONE[] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.";
/* jwt.io's example, key "your-256-bit-secret" */
static const char JWTIO[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwia"
    "WF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
/* python3 with compact sorted claims {"exp":1700000000,"sub":"42"}: what cz_jwt_sign must emit */
static const char SIGNED_BY_PY[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwMDAwMDAsInN1YiI6IjQyIn0.UdQHth6G_25W"
    "HxVE_Z1EWbcSDmo0JbcL9XVNyjuvM2E";

static cz_clock_manual_t clk;
static cz_jwt_keys_t keys;

static void setup(void)
{
    cz_clock_manual_init(&clk, NOW * CZ_NS_PER_SEC);
    keys = (cz_jwt_keys_t){.secret = SECRET, .secret_n = strlen(SECRET)};
}

TestSuite(jwt, .init = setup);

static int verify(const char *tok, json_t **claims, const char **why)
{
    return cz_jwt_verify(tok, strlen(tok), &keys, &clk.clock, claims, why);
}

Test(jwt, python_vectors_verify_for_each_hmac)
{
    json_t *c = NULL;
    const char *why = "unset";
    cr_assert_eq(verify(V256, &c, &why), 0, "%s", why);
    cr_assert_null(why);
    cr_assert_str_eq(json_string_value(json_object_get(c, "sub")), "42");
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "Ada");
    json_decref(c);
    cr_assert_eq(verify(V384, &c, NULL), 0);
    cr_assert_eq(json_integer_value(json_object_get(c, "uid")), 7);
    json_decref(c);
    cr_assert_eq(verify(V512, &c, NULL), 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "role")), "admin");
    json_decref(c);
}

Test(jwt, jwtio_example)
{
    keys.secret = "your-256-bit-secret";
    keys.secret_n = strlen(keys.secret);
    json_t *c = NULL;
    cr_assert_eq(verify(JWTIO, &c, NULL), 0);
    cr_assert_str_eq(json_string_value(json_object_get(c, "name")), "John Doe");
    json_decref(c);
}

Test(jwt, signer_matches_python)
{
    json_t *claims = json_pack("{s:s, s:I}", "sub", "42", "exp", (json_int_t)1700000000);
    char *tok = NULL;
    cr_assert_eq(cz_jwt_sign(CZ_JWT_HS256, SECRET, strlen(SECRET), claims, &tok), 0);
    cr_assert_str_eq(tok, SIGNED_BY_PY);
    free(tok);
    json_decref(claims);
}

Test(jwt, wrong_secret_is_rejected)
{
    keys.secret = "another-secret";
    keys.secret_n = strlen(keys.secret);
    json_t *c = (json_t *)1;
    const char *why = NULL;
    cr_assert_eq(verify(V256, &c, &why), CZ_JWT_EREJECTED);
    cr_assert_null(c);
    cr_assert_str_eq(why, "signature is invalid");
}

Test(jwt, exp_boundary_is_golang_jwt_v4)
{
    const char *why = NULL;
    cr_assert_eq(verify(EXPIRED, NULL, &why), CZ_JWT_EEXPIRED); /* exp == now */
    cr_assert_str_eq(why, "token is expired");
    cz_clock_manual_set(&clk, NOW * CZ_NS_PER_SEC - 1); /* 1699999999.999999999 s */
    cr_assert_eq(verify(EXPIRED, NULL, NULL), 0);
    cz_clock_manual_set(&clk, (NOW + 1) * CZ_NS_PER_SEC - 1); /* V512 exp is NOW+1 */
    cr_assert_eq(verify(V512, NULL, NULL), 0);
    cz_clock_manual_set(&clk, (NOW + 1) * CZ_NS_PER_SEC);
    cr_assert_eq(verify(V512, NULL, NULL), CZ_JWT_EEXPIRED);
}

Test(jwt, leeway_extends_exp)
{
    keys.leeway_s = 30;
    cz_clock_manual_set(&clk, (NOW + 29) * CZ_NS_PER_SEC);
    cr_assert_eq(verify(EXPIRED, NULL, NULL), 0);
    cz_clock_manual_set(&clk, (NOW + 30) * CZ_NS_PER_SEC);
    cr_assert_eq(verify(EXPIRED, NULL, NULL), CZ_JWT_EEXPIRED);
}

static char *sign(unsigned alg, const char *secret, json_t *claims)
{
    char *tok = NULL;
    cr_assert_eq(cz_jwt_sign(alg, secret, strlen(secret), claims, &tok), 0);
    json_decref(claims);
    return tok;
}

Test(jwt, nbf_and_iat_in_the_future)
{
    const char *why = NULL;
    char *t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:I}", "nbf", (json_int_t)NOW + 10));
    cr_assert_eq(verify(t, NULL, &why), CZ_JWT_EEXPIRED);
    cr_assert_str_eq(why, "token is not valid yet");
    keys.leeway_s = 10;
    cr_assert_eq(verify(t, NULL, NULL), 0);
    free(t);
    keys.leeway_s = 0;
    t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:I}", "iat", (json_int_t)NOW + 1));
    cr_assert_eq(verify(t, NULL, &why), CZ_JWT_EEXPIRED);
    cr_assert_str_eq(why, "token used before issued");
    cz_clock_manual_set(&clk, (NOW + 1) * CZ_NS_PER_SEC);
    cr_assert_eq(verify(t, NULL, NULL), 0); /* iat == now is fine */
    free(t);
}

Test(jwt, fractional_and_bad_time_claims)
{
    char *t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:f}", "exp", (double)NOW + 0.5));
    cr_assert_eq(verify(t, NULL, NULL), CZ_JWT_EEXPIRED); /* truncated to NOW */
    free(t);
    t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:s}", "exp", "tomorrow"));
    cr_assert_eq(verify(t, NULL, NULL), CZ_JWT_EMALFORMED);
    free(t);
    t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:I}", "exp", (json_int_t)INT64_MAX));
    keys.leeway_s = 100; /* no overflow into the past */
    cr_assert_eq(verify(t, NULL, NULL), 0);
    free(t);
    t = sign(CZ_JWT_HS256, SECRET, json_pack("{s:I}", "nbf", (json_int_t)INT64_MIN));
    cr_assert_eq(verify(t, NULL, NULL), 0);
    free(t);
}

Test(jwt, transition_accepts_both_and_says_which)
{
    char *old = sign(CZ_JWT_HS256, "old-secret", json_pack("{s:s}", "sub", "1"));
    char *cur = sign(CZ_JWT_HS256, SECRET, json_pack("{s:s}", "sub", "2"));
    int used = -1;
    cr_assert_eq(verify(old, NULL, NULL), CZ_JWT_EREJECTED); /* no prev configured */
    keys.prev = "old-secret";
    keys.prev_n = strlen(keys.prev);
    cr_assert_eq(cz_jwt_verify2(old, strlen(old), &keys, &clk.clock, NULL, NULL, &used), 0);
    cr_assert_eq(used, 1);
    cr_assert_eq(cz_jwt_verify2(cur, strlen(cur), &keys, &clk.clock, NULL, NULL, &used), 0);
    cr_assert_eq(used, 0);
    char *other = sign(CZ_JWT_HS256, "third", json_pack("{}"));
    cr_assert_eq(verify(other, NULL, NULL), CZ_JWT_EREJECTED);
    free(old), free(cur), free(other);
}

Test(jwt, alg_none_is_always_rejected)
{
    const char *why = NULL;
    cr_assert_eq(verify(NONE, NULL, &why), CZ_JWT_EREJECTED);
    cr_assert(strstr(why, "none"));
    keys.secret = "";
    keys.secret_n = 0; /* not even with an empty key */
    cr_assert_eq(verify(NONE, NULL, NULL), CZ_JWT_EREJECTED);
    /* "none" with a valid HS256 MAC of header.payload is still refused */
    char hdr[64], pl[64], tok[256];
    cz_base64_encode(hdr, "{\"alg\":\"none\"}", 14, CZ_B64_URL | CZ_B64_NOPAD);
    cz_base64_encode(pl, "{}", 2, CZ_B64_URL | CZ_B64_NOPAD);
    snprintf(tok, sizeof tok, "%s.%s", hdr, pl);
    uint8_t mac[64];
    size_t mac_n;
    cz_hmac("SHA256", "", 0, tok, strlen(tok), mac, &mac_n);
    strcat(tok, ".");
    cz_base64_encode(tok + strlen(tok), mac, mac_n, CZ_B64_URL | CZ_B64_NOPAD);
    cr_assert_eq(verify(tok, NULL, NULL), CZ_JWT_EREJECTED);
}

Test(jwt, algorithms_outside_the_allow_list)
{
    const char *why = NULL;
    keys.algs = CZ_JWT_HS256;
    cr_assert_eq(verify(V256, NULL, NULL), 0);
    cr_assert_eq(verify(V384, NULL, &why), CZ_JWT_EREJECTED);
    cr_assert_str_eq(why, "signing method is not allowed");
    /* alg swap: the same secret, HS512, when only HS256 is configured */
    char *t = sign(CZ_JWT_HS512, SECRET, json_pack("{s:s}", "sub", "42"));
    cr_assert_eq(verify(t, NULL, NULL), CZ_JWT_EREJECTED);
    keys.algs = 0; /* default: any HMAC, as go-zero */
    cr_assert_eq(verify(t, NULL, NULL), 0);
    free(t);
    /* a header claiming HS256 over an HS512 MAC does not verify either */
    t = sign(CZ_JWT_HS512, SECRET, json_pack("{}"));
    char swapped[512];
    const char *dot = strchr(t, '.');
    snprintf(swapped, sizeof swapped, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9%s", dot);
    cr_assert_eq(verify(swapped, NULL, NULL), CZ_JWT_EREJECTED);
    free(t);
    /* asymmetric and unknown names */
    cr_assert_eq(verify("eyJhbGciOiJSUzI1NiJ9.e30.AAAA", NULL, &why), CZ_JWT_EREJECTED);
    cr_assert_str_eq(why, "signing method is invalid");
    cr_assert_eq(verify("eyJhbGciOiJoczI1NiJ9.e30.AAAA", NULL, NULL), CZ_JWT_EREJECTED);
}

Test(jwt, tampering_is_rejected)
{
    char t[sizeof V256];
    memcpy(t, V256, sizeof t);
    t[sizeof t - 3] = t[sizeof t - 3] == 'A' ? 'B' : 'A'; /* signature */
    cr_assert_eq(verify(t, NULL, NULL), CZ_JWT_EREJECTED);
    /* payload swapped for another one signed elsewhere, signature kept */
    char *o = sign(CZ_JWT_HS256, SECRET, json_pack("{s:s}", "sub", "admin"));
    char mix[512];
    const char *d1 = strchr(o, '.'), *d2 = strrchr(o, '.');
    const char *s2 = strrchr(V256, '.');
    snprintf(mix, sizeof mix, "%.*s%s", (int)(d2 - o), o, s2);
    (void)d1;
    cr_assert_eq(verify(mix, NULL, NULL), CZ_JWT_EREJECTED);
    free(o);
}

Test(jwt, malformed_tokens)
{
    const char *bad[] = {
        "",
        "abc",
        "a.b",
        "eyJhbGciOiJIUzI1NiJ9.e30.4E_Bsx-pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ0.x", /* 4 parts */
        "eyJhbGciOiJIUzI1NiJ9=.e30.4E_Bsx-pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ0",  /* padding */
        "eyJhbGciOiJIUzI1NiJ9.e30.4E/Bsx+pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ0",   /* std b64 */
        "eyJhbGciOiJIUzI1NiJ9.e30.4E_Bsx-pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ1",   /* tail bits */
        "bm90IGpzb24.e30.AAAA",                                                   /* not JSON */
        "WyJIUzI1NiJd.e30.AAAA",                                                  /* array */
        "eyJhbGciOjF9.e30.AAAA",                                                  /* alg 1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *c = (json_t *)1;
        int rc = verify(bad[i], &c, NULL);
        cr_assert(rc == CZ_JWT_EMALFORMED || rc == CZ_JWT_EREJECTED, "%zu: %d", i, rc);
        cr_assert_null(c);
    }
    /* the canonical form of the padded/tail-bit tokens above does verify (empty key) */
    keys.secret = "";
    keys.secret_n = 0;
    cr_assert_eq(verify("eyJhbGciOiJIUzI1NiJ9.e30.4E_Bsx-pJi3kOW9wVXN8CgbATwP09D9V5gxh9-9zSZ0",
                        NULL, NULL),
                 0);
    /* claims that are not an object, duplicate claim names */
    char *t;
    char hdr[64], pl[64], tok[256];
    uint8_t mac[64];
    size_t mac_n;
    const char *payloads[] = {"[1]", "{\"sub\":\"a\",\"sub\":\"b\"}", "{"};
    for (size_t i = 0; i < 3; i++) {
        cz_base64_encode(hdr, "{\"alg\":\"HS256\"}", 15, CZ_B64_URL | CZ_B64_NOPAD);
        cz_base64_encode(pl, payloads[i], strlen(payloads[i]), CZ_B64_URL | CZ_B64_NOPAD);
        snprintf(tok, sizeof tok, "%s.%s", hdr, pl);
        cz_hmac("SHA256", "", 0, tok, strlen(tok), mac, &mac_n);
        strcat(tok, ".");
        cz_base64_encode(tok + strlen(tok), mac, mac_n, CZ_B64_URL | CZ_B64_NOPAD);
        cr_assert_eq(verify(tok, NULL, NULL), CZ_JWT_EMALFORMED, "payload %s", payloads[i]);
    }
    (void)t;
}

Test(jwt, bad_arguments)
{
    char *tok = (char *)1;
    json_t *arr = json_array();
    cr_assert_eq(cz_jwt_sign(CZ_JWT_HMAC, SECRET, 3, arr, &tok), CZ_EARG);
    cr_assert_eq(cz_jwt_sign(CZ_JWT_HS256, SECRET, 3, arr, &tok), CZ_EARG);
    json_decref(arr);
    cr_assert_eq(cz_jwt_verify(V256, strlen(V256), NULL, NULL, NULL, NULL), CZ_EARG);
    cr_assert_eq(cz_jwt_verify(NULL, 5, &keys, NULL, NULL, NULL), CZ_EARG);
}

Test(jwt, wall_clock_when_none_given)
{
    /* V256 expired in 2023 by the real clock */
    cr_assert_eq(cz_jwt_verify(V256, strlen(V256), &keys, NULL, NULL, NULL), CZ_JWT_EEXPIRED);
}
