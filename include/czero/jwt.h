/* SPDX-License-Identifier: MIT
 *
 * jwt.h: JSON Web Tokens signed with HMAC (HS256/384/512), as go-zero's rest/handler/authhandler
 * and rest/token/tokenparser use them through golang-jwt v4, plus the request accessor for the
 * claims the jwt middleware verified.
 *
 * Verification is deliberately narrow: only the HMAC algorithms the caller allows ("none" and
 * every asymmetric algorithm are always refused, so a token cannot pick a weaker check than
 * the server's), the MAC is compared in constant time, segments are strict base64url, and the
 * time claims are checked like golang-jwt v4's MapClaims.Valid: exp (now < exp), nbf
 * (nbf <= now) and iat (iat <= now), each only when present, with an optional leeway.
 */
#ifndef CZERO_JWT_H
#define CZERO_JWT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "clock.h"
#include "error.h"
#include "request.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Algorithms, as a mask (cz_jwt_keys_t.algs). */
#define CZ_JWT_HS256 0x1u
#define CZ_JWT_HS384 0x2u
#define CZ_JWT_HS512 0x4u
#define CZ_JWT_HMAC (CZ_JWT_HS256 | CZ_JWT_HS384 | CZ_JWT_HS512)

typedef struct cz_jwt_keys {
    const void *secret; /* HMAC key (go-zero's AccessSecret); required */
    size_t secret_n;
    const void *prev;   /* the previous key, still accepted during a rotation; NULL = none */
    size_t prev_n;
    unsigned algs;      /* CZ_JWT_* accepted; 0 = CZ_JWT_HMAC (what go-zero accepts) */
    int64_t leeway_s;   /* seconds of clock skew allowed on exp/nbf/iat; golang-jwt v4 has 0 */
} cz_jwt_keys_t;

/* cz_jwt_verify results besides 0 and CZ_EARG: */
#define CZ_JWT_EMALFORMED CZ_EPARSE /* not three strict base64url segments of JSON objects */
#define CZ_JWT_EREJECTED (-EACCES)  /* algorithm not allowed, or no key makes the signature */
#define CZ_JWT_EEXPIRED (-EKEYEXPIRED) /* exp passed, or nbf/iat still in the future */

/** Verify token[0..n) with keys, at the Unix time clock gives (nanoseconds; NULL = the wall
 *  clock). On 0, *claims (when claims is not NULL) holds the payload object: a new reference
 *  the caller releases with json_decref. On failure *claims is NULL and *why (when why is not
 *  NULL) is a static English reason ("token is expired", "signature is invalid", ...).
 *  Returns 0, CZ_JWT_EMALFORMED, CZ_JWT_EREJECTED, CZ_JWT_EEXPIRED, CZ_EARG or CZ_ENOMEM.
 *  When keys->prev is set, a signature made with either key is accepted (secret tried first).
 *  Thread-safe. */
CZ_EXTERN int cz_jwt_verify(const char *token, size_t n, const cz_jwt_keys_t *keys,
                            const cz_clock_t *clock, json_t **claims, const char **why);
/** cz_jwt_verify that also reports which key made the signature in *used (0 = secret,
 *  1 = prev; may be NULL), for callers that order keys by use like go-zero's tokenparser. */
CZ_EXTERN int cz_jwt_verify2(const char *token, size_t n, const cz_jwt_keys_t *keys,
                             const cz_clock_t *clock, json_t **claims, const char **why,
                             int *used);

/** Sign claims (a JSON object; serialised compactly with sorted keys) with alg (one CZ_JWT_*
 *  bit) and secret. *token is malloc'd and NUL-terminated; the caller frees it. Returns 0,
 *  CZ_EARG or CZ_ENOMEM. For tests, the demo and tools: a server only verifies. */
CZ_EXTERN int cz_jwt_sign(unsigned alg, const void *secret, size_t secret_n,
                          const json_t *claims, char **token);

/** The claims the jwt middleware verified for this request (borrowed: valid until the response
 *  ends; json_incref to keep it longer), or NULL when the route has no JWT. go-zero puts each
 *  non-standard claim in the request context; here the handler gets the whole object,
 *  standard claims included. Loop thread (or the blocking handler's thread). */
CZ_EXTERN json_t *cz_req_claims(const cz_req_t *req);

#ifdef __cplusplus
}
#endif
#endif
