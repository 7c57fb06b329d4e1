/* SPDX-License-Identifier: MIT
 *
 * codec.h: the small encodings and ciphers czero's auth links need (go-zero core/codec):
 * base64 (standard and URL alphabets, strict decoding), HMAC and SHA-256 on OpenSSL 3,
 * AES-ECB with PKCS#5 padding (go-zero's EcbEncrypt/EcbDecrypt, used by the body cryption of
 * content security) and RSA PKCS#1 v1.5 block decryption (go-zero's RsaDecrypter).
 *
 * AES-ECB and RSA PKCS#1 v1.5 are here only for wire compatibility with go-zero clients: both
 * are weak by today's standards (go-zero marks them deprecated too). Nothing here keeps state
 * between calls except cz_rsa_key_t; every function is thread-safe.
 */
#ifndef CZERO_CODEC_H
#define CZERO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* base64 flags */
#define CZ_B64_URL 0x1u   /* '-' and '_' instead of '+' and '/' (RFC 4648 section 5) */
#define CZ_B64_NOPAD 0x2u /* no '=' padding: encode without it, reject it when decoding */

/** Characters cz_base64_encode writes for n input bytes (without a terminating NUL). */
CZ_EXTERN size_t cz_base64_encoded_len(size_t n, unsigned flags);
/** Encode n bytes of in into out (room for cz_base64_encoded_len + 1: it is NUL-terminated).
 *  Returns the length written. */
CZ_EXTERN size_t cz_base64_encode(char *out, const void *in, size_t n, unsigned flags);
/** Largest decoded size of n base64 characters (an upper bound for the out buffer). */
static inline size_t cz_base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }
/** Strictly decode n characters into out (cz_base64_decoded_max(n) bytes), *out_n = length.
 *  Rejects characters outside the alphabet, whitespace, misplaced or (with CZ_B64_NOPAD) any
 *  padding, missing padding (without CZ_B64_NOPAD) and non-zero trailing bits, so that every
 *  byte string has one encoding. Returns 0 or CZ_EPARSE. */
CZ_EXTERN int cz_base64_decode(void *out, size_t *out_n, const char *in, size_t n,
                               unsigned flags);

/** HMAC of data with key using digest "SHA256", "SHA384" or "SHA512" (OpenSSL names) into
 *  out (64 bytes is enough for all three); *out_n = MAC length. 0, CZ_EARG or CZ_ENOMEM. */
CZ_EXTERN int cz_hmac(const char *digest, const void *key, size_t key_n, const void *data,
                      size_t n, uint8_t out[64], size_t *out_n);
/** Lower-case hex SHA-256 of data into hex (NUL-terminated), go-zero's fmt "%x" of sha256. */
CZ_EXTERN void cz_sha256_hex(const void *data, size_t n, char hex[65]);

/** AES-ECB with PKCS#5 padding (key of 16, 24 or 32 bytes). *out is malloc'd (caller frees),
 *  *out_n its length. Decrypt checks the padding like go-zero's pkcs5Unpadding. Returns 0,
 *  CZ_EARG (bad key size), CZ_EPARSE (input not whole blocks, bad padding) or CZ_ENOMEM. */
CZ_EXTERN int cz_aes_ecb_encrypt(const void *key, size_t key_n, const void *in, size_t n,
                                 uint8_t **out, size_t *out_n);
CZ_EXTERN int cz_aes_ecb_decrypt(const void *key, size_t key_n, const void *in, size_t n,
                                 uint8_t **out, size_t *out_n);

typedef struct cz_rsa_key cz_rsa_key_t;

/** Load an RSA private key from a PEM file (PKCS#1 "RSA PRIVATE KEY", as go-zero reads, or
 *  PKCS#8). 0, -errno (file), CZ_EPARSE (not a PEM RSA key) or CZ_ENOMEM. */
CZ_EXTERN int cz_rsa_key_load(const char *pem_file, cz_rsa_key_t **out);
/** Free a key (NULL is fine). */
CZ_EXTERN void cz_rsa_key_free(cz_rsa_key_t *k);
/** Decrypt in with PKCS#1 v1.5 padding, block by block of the modulus size (go-zero's
 *  rsaBase.crypt); *out is malloc'd (caller frees). 0, CZ_EPARSE or CZ_ENOMEM. */
CZ_EXTERN int cz_rsa_decrypt(const cz_rsa_key_t *k, const void *in, size_t n, uint8_t **out,
                             size_t *out_n);

#ifdef __cplusplus
}
#endif
#endif
