/* SPDX-License-Identifier: MIT
 *
 * crypt.c: HMAC, SHA-256, AES-ECB and RSA PKCS#1 v1.5 decryption on OpenSSL 3's EVP API
 * (go-zero core/codec: hmac.go, aesecb.go, rsa.go). The HMAC and cipher implementations are
 * fetched once per process (an EVP fetch takes a lock and a lookup, about as long as a short
 * MAC), then every call makes its own small context, so callers on any thread share nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "czero/codec.h"

static EVP_MD *md_sha256;
/* One HMAC context per digest with the digest already set: EVP_MAC_init with a digest name
 * fetches the digest again on every call (a locked name lookup), which was most of the cost
 * of a short MAC. A call duplicates the template and keys the copy; the templates are only
 * read after fetch_once, so threads share them safely. */
static EVP_MAC_CTX *hmac_tpl[3];
static const char *const hmac_digests[3] = {"SHA256", "SHA384", "SHA512"};
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_impls(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    for (int i = 0; mac && i < 3; i++) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)hmac_digests[i], 0),
            OSSL_PARAM_construct_end(),
        };
        hmac_tpl[i] = EVP_MAC_CTX_new(mac);
        if (hmac_tpl[i] && !EVP_MAC_CTX_set_params(hmac_tpl[i], params)) {
            EVP_MAC_CTX_free(hmac_tpl[i]);
            hmac_tpl[i] = NULL;
        }
    }
    EVP_MAC_free(mac); /* the contexts hold their own references */
}

int cz_hmac(const char *digest, const void *key, size_t key_n, const void *data, size_t n,
            uint8_t out[64], size_t *out_n)
{
    if (!digest || (!key && key_n) || (!data && n) || !out || !out_n)
        return CZ_EARG;
    int di = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(digest, hmac_digests[i]) == 0)
            di = i;
    if (di < 0)
        return CZ_EARG;
    pthread_once(&fetch_once, fetch_impls);
    if (!hmac_tpl[di])
        return CZ_ENOMEM;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_tpl[di]);
    if (!ctx)
        return CZ_ENOMEM;
    static const uint8_t empty[1];
    int rc = CZ_ENOMEM;
    /* an empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it */
    if (EVP_MAC_init(ctx, key_n ? key : empty, key_n, NULL) &&
        EVP_MAC_update(ctx, n ? data : empty, n) && EVP_MAC_final(ctx, out, out_n, 64))
        rc = 0;
    EVP_MAC_CTX_free(ctx);
    return rc;
}

void cz_sha256_hex(const void *data, size_t n, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    static const uint8_t empty[1];
    uint8_t md[32];
    unsigned len = 0;
    pthread_once(&fetch_once, fetch_impls);
    if (!md_sha256 || !EVP_Digest(n ? data : empty, n, md, &len, md_sha256, NULL))
        memset(md, 0, sizeof md);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

static const EVP_CIPHER *aes_ecb(size_t key_n)
{
    switch (key_n) {
    case 16: return EVP_aes_128_ecb();
    case 24: return EVP_aes_192_ecb();
    case 32: return EVP_aes_256_ecb();
    default: return NULL;
    }
}

/* One pass of AES-ECB; OpenSSL's own PKCS#7 padding (the same bytes as PKCS#5 for 16-byte
 * blocks) is switched off so decryption can apply go-zero's exact unpadding rules. */
static int ecb(bool enc, const void *key, size_t key_n, const uint8_t *in, size_t n,
               uint8_t *out)
{
    const EVP_CIPHER *c = aes_ecb(key_n);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return CZ_ENOMEM;
    int len = 0, fin = 0, ok = EVP_CipherInit_ex(ctx, c, NULL, key, NULL, enc) &&
                                EVP_CIPHER_CTX_set_padding(ctx, 0) &&
                                EVP_CipherUpdate(ctx, out, &len, in, (int)n) &&
                                EVP_CipherFinal_ex(ctx, out + len, &fin);
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : CZ_EPARSE;
}

int cz_aes_ecb_encrypt(const void *key, size_t key_n, const void *in, size_t n, uint8_t **out,
                       size_t *out_n)
{
    if (!key || !aes_ecb(key_n) || (!in && n) || !out || !out_n || n > (size_t)INT32_MAX - 32)
        return CZ_EARG;
    size_t pad = 16 - n % 16, total = n + pad;
    uint8_t *buf = malloc(total);
    if (!buf)
        return CZ_ENOMEM;
    if (n)
        memcpy(buf, in, n);
    memset(buf + n, (int)pad, pad);
    int rc = ecb(true, key, key_n, buf, total, buf);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_n = total;
    return 0;
}

int cz_aes_ecb_decrypt(const void *key, size_t key_n, const void *in, size_t n, uint8_t **out,
                       size_t *out_n)
{
    if (!key || !aes_ecb(key_n) || (!in && n) || !out || !out_n || n > (size_t)INT32_MAX)
        return CZ_EARG;
    if (n == 0 || n % 16) /* go-zero: ErrPaddingSize */
        return CZ_EPARSE;
    uint8_t *buf = malloc(n);
    if (!buf)
        return CZ_ENOMEM;
    int rc = ecb(false, key, key_n, in, n, buf);
    if (rc == 0) {
        uint8_t pad = buf[n - 1];
        if (pad < 1 || pad > 16)
            rc = CZ_EPARSE;
        for (size_t i = n - (rc ? 0 : pad); i < n; i++)
            if (buf[i] != pad)
                rc = CZ_EPARSE;
        if (rc == 0) {
            *out = buf;
            *out_n = n - pad;
            return 0;
        }
    }
    free(buf);
    return rc;
}

struct cz_rsa_key {
    EVP_PKEY *pkey;
    size_t block; /* modulus size in bytes: go-zero's bytesLimit for decryption */
};

int cz_rsa_key_load(const char *pem_file, cz_rsa_key_t **out)
{
    if (!pem_file || !out)
        return CZ_EARG;
    FILE *f = fopen(pem_file, "r");
    if (!f)
        return -errno;
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_size(pk) <= 11) {
        EVP_PKEY_free(pk);
        return CZ_EPARSE;
    }
    cz_rsa_key_t *k = malloc(sizeof *k);
    if (!k) {
        EVP_PKEY_free(pk);
        return CZ_ENOMEM;
    }
    k->pkey = pk;
    k->block = (size_t)EVP_PKEY_get_bits(pk) >> 3; /* go-zero: privateKey.N.BitLen() >> 3 */
    *out = k;
    return 0;
}

void cz_rsa_key_free(cz_rsa_key_t *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

int cz_rsa_decrypt(const cz_rsa_key_t *k, const void *in, size_t n, uint8_t **out,
                   size_t *out_n)
{
    if (!k || (!in && n) || !out || !out_n)
        return CZ_EARG;
    /* every block decrypts to at most block - 11 bytes; a block of room to spare keeps
     * OpenSSL's output-size checks happy on the last block */
    size_t cap = n + k->block;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return CZ_ENOMEM;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
    int rc = CZ_ENOMEM;
    if (!ctx || EVP_PKEY_decrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0)
        goto out;
    size_t o = 0;
    rc = 0;
    for (size_t i = 0; i < n; i += k->block) {
        size_t len = n - i < k->block ? n - i : k->block, got = cap - o;
        if (EVP_PKEY_decrypt(ctx, buf + o, &got, (const uint8_t *)in + i, len) <= 0) {
            rc = CZ_EPARSE;
            break;
        }
        o += got;
    }
    if (rc == 0) {
        *out = buf;
        *out_n = o;
        buf = NULL;
    }
out:
    EVP_PKEY_CTX_free(ctx);
    free(buf);
    return rc;
}
