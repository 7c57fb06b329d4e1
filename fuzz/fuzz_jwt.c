/* SPDX-License-Identifier: MIT
 *
 * fuzz_jwt.c: libFuzzer target for the JWT verifier (src/core/jwt.c) and the strict base64
 * it relies on (src/core/codec/base64.c). The input is a token verified against fixed keys (a
 * secret and a previous one) at a fixed time; checked for any input: the result is one of the
 * documented codes, claims come back exactly on success and as an object, and a reason comes
 * back exactly on failure. On the side, every input that decodes as base64url must re-encode to
 * itself (the decoder accepts one encoding per byte string), and every input that is a JSON
 * object must survive cz_jwt_sign then cz_jwt_verify with the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "czero/codec.h"
#include "czero/jwt.h"

static uint64_t fixed_now(void *ud)
{
    (void)ud;
    return 1700000000ull * CZ_NS_PER_SEC;
}
static const cz_clock_t clock_fixed = {fixed_now, NULL};

static void check_base64(const uint8_t *data, size_t size)
{
    uint8_t *dec = malloc(cz_base64_decoded_max(size));
    size_t n = 0;
    if (dec && cz_base64_decode(dec, &n, (const char *)data, size, CZ_B64_URL | CZ_B64_NOPAD) ==
                   0) {
        char *enc = malloc(cz_base64_encoded_len(n, CZ_B64_NOPAD) + 1);
        size_t en = cz_base64_encode(enc, dec, n, CZ_B64_URL | CZ_B64_NOPAD);
        if (en != size || memcmp(enc, data, size) != 0)
            abort();
        free(enc);
    }
    free(dec);
}

static void check_round_trip(const uint8_t *data, size_t size)
{
    json_t *obj = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return;
    }
    char *tok = NULL;
    if (cz_jwt_sign(CZ_JWT_HS384, "k", 1, obj, &tok) == 0) {
        cz_jwt_keys_t keys = {.secret = "k", .secret_n = 1};
        int rc = cz_jwt_verify(tok, strlen(tok), &keys, &clock_fixed, NULL, NULL);
        /* the signature always matches; only the time claims may refuse */
        if (rc != 0 && rc != CZ_JWT_EEXPIRED && rc != CZ_JWT_EMALFORMED)
            abort();
        free(tok);
    }
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cz_jwt_keys_t keys = {.secret = "czero-secret", .secret_n = 12, .prev = "", .prev_n = 0,
                          .leeway_s = (int64_t)(size % 3)};
    json_t *claims = (json_t *)1;
    const char *why = "unset";
    int used = -1;
    int rc = cz_jwt_verify2((const char *)data, size, &keys, &clock_fixed, &claims, &why, &used);
    if (rc == 0) {
        if (!json_is_object(claims) || why != NULL || (used != 0 && used != 1))
            abort();
        json_decref(claims);
    } else {
        if (claims != NULL || !why)
            abort();
        if (rc != CZ_JWT_EMALFORMED && rc != CZ_JWT_EREJECTED && rc != CZ_JWT_EEXPIRED &&
            rc != CZ_ENOMEM)
            abort();
    }
    check_base64(data, size);
    check_round_trip(data, size);
    return 0;
}
