/* SPDX-License-Identifier: MIT
 *
 * fuzz_tls_cert.h: a throwaway self-signed ECDSA P-256 certificate and key (CN fuzz.test, one
 * hour) written as PEM files, for the TLS fuzz targets (fuzz_tls.c, fuzz_tls_transport.c), which
 * need a server context but must not depend on the test PKI script. Aborts on any failure.
 */
#ifndef CZERO_FUZZ_TLS_CERT_H
#define CZERO_FUZZ_TLS_CERT_H

#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static void make_cert(const char *cert, const char *key)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!pk || !x)
        abort();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz.test", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    if (!X509_sign(x, pk, EVP_sha256()))
        abort();
    FILE *f = fopen(cert, "w"), *g = fopen(key, "w");
    if (!f || !g || !PEM_write_X509(f, x) ||
        !PEM_write_PrivateKey(g, pk, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    fclose(g);
    X509_free(x);
    EVP_PKEY_free(pk);
}

#endif
