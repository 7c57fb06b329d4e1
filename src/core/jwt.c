/* SPDX-License-Identifier: MIT
 *
 * jwt.c: HMAC JSON Web Tokens (RFC 7519 with RFC 7515 compact serialisation), verify and sign.
 * The reference behaviour is golang-jwt v4 as go-zero's token parser configures it
 * (jwt.NewParser(jwt.WithJSONNumber())): three base64url segments, an HMAC key accepted for
 * HS256/384/512 only, MapClaims validated for exp, iat and nbf when present, with no leeway
 * (v4 has none; here it is an option). No HTTP here: the middleware is src/http/mw/jwt.c.
 *
 * Order of work, cheapest rejection first: split, header (alg allowed?), MAC over
 * "header.payload" compared in constant time, and only then the payload JSON and its claims,
 * so a forged token never reaches the JSON parser with attacker-chosen claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "czero/codec.h"
#include "czero/jwt.h"

static const struct {
    const char *name, *digest;
    unsigned bit;
    /* the segments of the usual headers {"alg":A,"typ":"JWT"}, {"typ":"JWT","alg":A} and
     * {"alg":A}, so that most tokens skip a JSON parse (python3 base64.urlsafe_b64encode) */
    const char *common[3];
} algs[] = {
    {"HS256", "SHA256", CZ_JWT_HS256,
     {"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9",
      "eyJhbGciOiJIUzI1NiJ9"}},
    {"HS384", "SHA384", CZ_JWT_HS384,
     {"eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzM4NCJ9",
      "eyJhbGciOiJIUzM4NCJ9"}},
    {"HS512", "SHA512", CZ_JWT_HS512,
     {"eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzUxMiJ9",
      "eyJhbGciOiJIUzUxMiJ9"}},
};
#define NALGS (int)(sizeof algs / sizeof algs[0])

static int common_header(const char *p, size_t n)
{
    for (int i = 0; i < NALGS; i++)
        for (int j = 0; j < 3; j++)
            if (strlen(algs[i].common[j]) == n && memcmp(algs[i].common[j], p, n) == 0)
                return i;
    return -1;
}

/* Decode one segment into a malloc'd buffer (NUL-terminated for convenience). */
static int segment(const char *p, size_t n, uint8_t **out, size_t *out_n)
{
    uint8_t *b = malloc(cz_base64_decoded_max(n) + 1);
    if (!b)
        return CZ_ENOMEM;
    if (cz_base64_decode(b, out_n, p, n, CZ_B64_URL | CZ_B64_NOPAD) != 0) {
        free(b);
        return CZ_JWT_EMALFORMED;
    }
    b[*out_n] = '\0';
    *out = b;
    return 0;
}

static json_t *json_object_of(const char *p, size_t n, bool segment_b64)
{
    uint8_t *raw = NULL;
    size_t raw_n = 0;
    if (segment_b64) {
        if (segment(p, n, &raw, &raw_n) != 0)
            return NULL;
        p = (const char *)raw;
        n = raw_n;
    }
    /* duplicate names are refused: two readers of one token must not see different claims */
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* A NumericDate claim as whole seconds (golang-jwt v4 truncates to its 1 s TimePrecision).
 * 1 = absent, 0 = read into *out, -1 = present but not a number. */
static int numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!v)
        return 1;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        *out = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
        if ((double)*out > d && *out > INT64_MIN) /* floor, not toward zero, pre-1970 */
            (*out)--;
        return 0;
    }
    return -1;
}

static int check_times(const json_t *claims, int64_t now, int64_t leeway, const char **why)
{
    int64_t t;
    int rc = numeric_date(claims, "exp", &t);
    if (rc < 0)
        return *why = "exp is not a number", CZ_JWT_EMALFORMED;
    if (rc == 0 && !(now < add_sat(t, leeway))) /* v4 verifyExp: now.Before(exp) */
        return *why = "token is expired", CZ_JWT_EEXPIRED;
    rc = numeric_date(claims, "iat", &t);
    if (rc < 0)
        return *why = "iat is not a number", CZ_JWT_EMALFORMED;
    if (rc == 0 && add_sat(now, leeway) < t) /* v4 verifyIat: !now.Before(iat) */
        return *why = "token used before issued", CZ_JWT_EEXPIRED;
    rc = numeric_date(claims, "nbf", &t);
    if (rc < 0)
        return *why = "nbf is not a number", CZ_JWT_EMALFORMED;
    if (rc == 0 && add_sat(now, leeway) < t) /* v4 verifyNbf: !now.Before(nbf) */
        return *why = "token is not valid yet", CZ_JWT_EEXPIRED;
    return 0;
}

static bool mac_matches(const char *digest, const void *key, size_t key_n, const char *signed_p,
                        size_t signed_n, const uint8_t *sig, size_t sig_n)
{
    uint8_t mac[64];
    size_t mac_n = 0;
    if (cz_hmac(digest, key, key_n, signed_p, signed_n, mac, &mac_n) != 0 || mac_n != sig_n)
        return false;
    return CRYPTO_memcmp(mac, sig, mac_n) == 0;
}

static uint64_t wall_now(void *ud)
{
    (void)ud;
    return cz_wallclock_ns();
}
static const cz_clock_t wall_clock = {wall_now, NULL};

int cz_jwt_verify2(const char *token, size_t n, const cz_jwt_keys_t *keys,
                   const cz_clock_t *clock, json_t **claims, const char **why, int *used)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (claims)
        *claims = NULL;
    if ((!token && n) || !keys || (!keys->secret && keys->secret_n) ||
        (!keys->prev && keys->prev_n))
        return *why = "bad arguments", CZ_EARG;
    if (!clock)
        clock = &wall_clock;
    /* split into exactly three segments */
    const char *d1 = n ? memchr(token, '.', n) : NULL;
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
        return *why = "token contains an invalid number of segments", CZ_JWT_EMALFORMED;
    const char *end = token + n;

    int ai = common_header(token, (size_t)(d1 - token));
    const char *alg = ai >= 0 ? algs[ai].name : NULL;
    json_t *hdr = NULL;
    if (ai < 0) {
        hdr = json_object_of(token, (size_t)(d1 - token), true);
        if (!hdr)
            return *why = "malformed token header", CZ_JWT_EMALFORMED;
        alg = json_string_value(json_object_get(hdr, "alg"));
        for (int i = 0; alg && i < NALGS; i++)
            if (strcmp(alg, algs[i].name) == 0)
                ai = i;
    }
    unsigned allowed = keys->algs ? keys->algs : CZ_JWT_HMAC;
    int rc = 0;
    if (!alg)
        *why = "signing method (alg) is unavailable", rc = CZ_JWT_EMALFORMED;
    else if (strcmp(alg, "none") == 0)
        *why = "'none' signature type is not allowed", rc = CZ_JWT_EREJECTED;
    else if (ai < 0)
        *why = "signing method is invalid", rc = CZ_JWT_EREJECTED;
    else if (!(algs[ai].bit & allowed))
        *why = "signing method is not allowed", rc = CZ_JWT_EREJECTED;
    json_decref(hdr);
    if (rc)
        return rc;

    /* the longest MAC (64 bytes) is 86 base64url characters: decode on the stack */
    uint8_t sig[cz_base64_decoded_max(86)];
    size_t sig_n = 0, sig_len = (size_t)(end - d2 - 1);
    if (sig_len > 86 ||
        cz_base64_decode(sig, &sig_n, d2 + 1, sig_len, CZ_B64_URL | CZ_B64_NOPAD) != 0)
        return *why = "malformed token signature", CZ_JWT_EMALFORMED;
    int which = -1;
    if (mac_matches(algs[ai].digest, keys->secret, keys->secret_n, token, (size_t)(d2 - token),
                    sig, sig_n))
        which = 0;
    else if (keys->prev && mac_matches(algs[ai].digest, keys->prev, keys->prev_n, token,
                                       (size_t)(d2 - token), sig, sig_n))
        which = 1;
    if (which < 0)
        return *why = "signature is invalid", CZ_JWT_EREJECTED;

    json_t *body = json_object_of(d1 + 1, (size_t)(d2 - d1 - 1), true);
    if (!body)
        return *why = "malformed token claims", CZ_JWT_EMALFORMED;
    int64_t now = (int64_t)(cz_clock_now_ns(clock) / CZ_NS_PER_SEC);
    int64_t leeway = keys->leeway_s > 0 ? keys->leeway_s : 0;
    rc = check_times(body, now, leeway, why);
    if (rc) {
        json_decref(body);
        return rc;
    }
    if (used)
        *used = which;
    if (claims)
        *claims = body;
    else
        json_decref(body);
    *why = NULL;
    return 0;
}

int cz_jwt_verify(const char *token, size_t n, const cz_jwt_keys_t *keys,
                  const cz_clock_t *clock, json_t **claims, const char **why)
{
    return cz_jwt_verify2(token, n, keys, clock, claims, why, NULL);
}

int cz_jwt_sign(unsigned alg, const void *secret, size_t secret_n, const json_t *claims,
                char **token)
{
    if (!token || !json_is_object(claims) || (!secret && secret_n))
        return CZ_EARG;
    *token = NULL;
    int ai = -1;
    for (int i = 0; i < NALGS; i++)
        if (alg == algs[i].bit)
            ai = i;
    if (ai < 0)
        return CZ_EARG;
    char hdr[48];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[ai].name);
    char *payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    if (!payload)
        return CZ_ENOMEM;
    size_t hn = strlen(hdr), pn = strlen(payload);
    size_t cap = cz_base64_encoded_len(hn, CZ_B64_NOPAD) + cz_base64_encoded_len(pn, CZ_B64_NOPAD) +
                 cz_base64_encoded_len(64, CZ_B64_NOPAD) + 3;
    char *t = malloc(cap);
    if (!t) {
        free(payload);
        return CZ_ENOMEM;
    }
    size_t o = cz_base64_encode(t, hdr, hn, CZ_B64_URL | CZ_B64_NOPAD);
    t[o++] = '.';
    o += cz_base64_encode(t + o, payload, pn, CZ_B64_URL | CZ_B64_NOPAD);
    free(payload);
    uint8_t mac[64];
    size_t mac_n = 0;
    int rc = cz_hmac(algs[ai].digest, secret, secret_n, t, o, mac, &mac_n);
    if (rc) {
        free(t);
        return rc;
    }
    t[o++] = '.';
    cz_base64_encode(t + o, mac, mac_n, CZ_B64_URL | CZ_B64_NOPAD);
    *token = t;
    return 0;
}
