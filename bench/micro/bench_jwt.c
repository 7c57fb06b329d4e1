/* SPDX-License-Identifier: MIT
 *
 * bench_jwt.c: cost of verifying a typical HS256 access token (go-zero style claims: a user
 * id, a couple of fields, exp and iat; about 200 bytes) with cz_jwt_verify, claims returned
 * and released as the jwt middleware does; jwt_verify_prev: the same token when the route has
 * a previous secret and the token is signed with it (two MACs); jwt_sign_hs256 for reference.
 * Prints one `name value` line per measurement (ns per operation, best of three) and nothing
 * else. argv[1]: iterations (default 200k). Time is the thread's CPU time, not wall time: the
 * work is single-threaded and CPU-bound, and on a shared machine wall time mostly measures the
 * other tenants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "czero/jwt.h"

static long iters = 200000;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double verify_ns(const char *tok, const cz_jwt_keys_t *keys)
{
    double best = 1e18;
    size_t n = strlen(tok);
    for (int round = 0; round < 3; round++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            json_t *c = NULL;
            if (cz_jwt_verify(tok, n, keys, NULL, &c, NULL) != 0)
                abort();
            json_decref(c);
        }
        double ns = (double)(now_ns() - t0) / (double)iters;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iters = atol(argv[1]);
    const char *secret = "a-32-byte-long-access-secret-000";
    json_t *claims = json_pack("{s:I, s:s, s:s, s:I, s:I}", "userId", (json_int_t)1234567,
                               "name", "someone", "role", "member", "iat",
                               (json_int_t)time(NULL), "exp", (json_int_t)time(NULL) + 86400);
    char *tok = NULL;
    if (cz_jwt_sign(CZ_JWT_HS256, secret, strlen(secret), claims, &tok) != 0)
        return 1;
    cz_jwt_keys_t keys = {.secret = secret, .secret_n = strlen(secret)};
    printf("jwt_token_bytes %zu\n", strlen(tok));
    printf("jwt_verify_hs256 %.0f\n", verify_ns(tok, &keys));
    cz_jwt_keys_t rot = {.secret = "the-new-secret-after-rotation-00", .secret_n = 32,
                         .prev = secret, .prev_n = strlen(secret)};
    printf("jwt_verify_prev %.0f\n", verify_ns(tok, &rot));
    double best = 1e18;
    for (int round = 0; round < 3; round++) {
        uint64_t t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            char *t = NULL;
            cz_jwt_sign(CZ_JWT_HS256, secret, strlen(secret), claims, &t);
            free(t);
        }
        double ns = (double)(now_ns() - t0) / (double)iters;
        best = ns < best ? ns : best;
    }
    printf("jwt_sign_hs256 %.0f\n", best);
    free(tok);
    json_decref(claims);
    return 0;
}
