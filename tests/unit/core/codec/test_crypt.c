/* SPDX-License-Identifier: MIT
 *
 * Tests for src/core/codec/crypt.c against vectors computed elsewhere: HMAC-SHA256 (python3
 * hmac), SHA-256 of "" (FIPS 180), AES-128-ECB (the openssl command line), and RSA PKCS#1 v1.5
 * block decryption of data encrypted with OpenSSL's public-key API.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "czero/codec.h"

Test(crypt, hmac_sha256_vector)
{
    const char *msg = "The quick brown fox jumps over the lazy dog";
    uint8_t mac[64];
    size_t n = 0;
    cr_assert_eq(cz_hmac("SHA256", "key", 3, msg, strlen(msg), mac, &n), 0);
    char b64[100];
    cz_base64_encode(b64, mac, n, 0);
    cr_assert_str_eq(b64, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    cr_assert_eq(cz_hmac("SHA384", "key", 3, msg, strlen(msg), mac, &n), 0);
    cr_assert_eq(n, 48);
    cr_assert_eq(cz_hmac("MD5", "key", 3, msg, 3, mac, &n), CZ_EARG);
}

Test(crypt, sha256_hex)
{
    char hex[65];
    cz_sha256_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static const uint8_t KEY16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

Test(crypt, aes_ecb_matches_openssl_cli)
{
    /* echo -n "czero body" | openssl enc -aes-128-ecb -K 000102...0f | base64 */
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(cz_aes_ecb_encrypt(KEY16, 16, "czero body", 10, &out, &n), 0);
    char b64[64];
    cz_base64_encode(b64, out, n, 0);
    cr_assert_str_eq(b64, "grS7d2N61lQcQ0PvtMjf3g==");
    uint8_t *plain = NULL;
    size_t pn = 0;
    cr_assert_eq(cz_aes_ecb_decrypt(KEY16, 16, out, n, &plain, &pn), 0);
    cr_assert_eq(pn, 10);
    cr_assert_arr_eq(plain, "czero body", 10);
    free(plain);
    /* whole block of padding for a block-sized input */
    free(out);
    cr_assert_eq(cz_aes_ecb_encrypt(KEY16, 16, "0123456789abcdef", 16, &out, &n), 0);
    cr_assert_eq(n, 32);
    free(out);
}

Test(crypt, aes_ecb_rejects_bad_input)
{
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(cz_aes_ecb_encrypt(KEY16, 15, "x", 1, &out, &n), CZ_EARG);
    cr_assert_eq(cz_aes_ecb_decrypt(KEY16, 16, "0123456789", 10, &out, &n), CZ_EPARSE);
    cr_assert_eq(cz_aes_ecb_decrypt(KEY16, 16, "", 0, &out, &n), CZ_EPARSE);
    /* a block whose last byte is not valid PKCS#5 padding after decryption */
    uint8_t *enc = NULL;
    size_t en = 0;
    uint8_t blk[16];
    memset(blk, 0x20, 16); /* "padding" 0x20 > 16 */
    cr_assert_eq(cz_aes_ecb_encrypt(KEY16, 16, blk, 16, &enc, &en), 0);
    cr_assert_eq(cz_aes_ecb_decrypt(KEY16, 16, enc, 16, &out, &n), CZ_EPARSE);
    free(enc);
    cr_assert_null(out);
}

Test(crypt, rsa_pkcs1v15_blocks)
{
    EVP_PKEY *pk = EVP_RSA_gen(1024);
    cr_assert_not_null(pk);
    char path[] = "/tmp/czrsaXXXXXX";
    close(mkstemp(path));
    BIO *bio = BIO_new_file(path, "w");
    cr_assert(PEM_write_bio_PrivateKey_traditional(bio, pk, NULL, NULL, 0, NULL, NULL));
    BIO_free(bio);
    cz_rsa_key_t *k = NULL;
    cr_assert_eq(cz_rsa_key_load(path, &k), 0);
    unlink(path);
    /* 200 bytes: two blocks of at most 117 bytes each, as go-zero's encrypter cuts them */
    uint8_t msg[200], enc[256];
    for (int i = 0; i < 200; i++)
        msg[i] = (uint8_t)i;
    size_t off = 0;
    for (int b = 0; b < 2; b++) {
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
        EVP_PKEY_encrypt_init(c);
        EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
        size_t on = 128;
        cr_assert(EVP_PKEY_encrypt(c, enc + off, &on, msg + b * 117, b ? 83 : 117) > 0);
        off += on;
        EVP_PKEY_CTX_free(c);
    }
    uint8_t *out = NULL;
    size_t n = 0;
    cr_assert_eq(cz_rsa_decrypt(k, enc, off, &out, &n), 0);
    cr_assert_eq(n, 200);
    cr_assert_arr_eq(out, msg, 200);
    free(out);
    enc[5] ^= 1;
    cr_assert_eq(cz_rsa_decrypt(k, enc, off, &out, &n), CZ_EPARSE);
    cz_rsa_key_free(k);
    EVP_PKEY_free(pk);
    cr_assert_lt(cz_rsa_key_load("/nonexistent/key.pem", &k), 0);
}
