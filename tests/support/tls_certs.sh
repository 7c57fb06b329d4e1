#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tls_certs.sh DIR: writes a throw-away PKI for TLS tests into DIR with the openssl CLI (EC
# P-256 keys, so it takes well under a second). Used by the TLS unit tests and meant for the
# integration tests that run a TLS server against curl / openssl s_client. Files, each X.pem
# with its key X.key:
#   ca          the test CA (self-signed), the trust anchor of everything below
#   a           server: DNS a.test, localhost, IP 127.0.0.1, ::1   (subject CN=a.test,O=czero)
#   b           server: DNS b.test, *.b.test                       (CN=b.test,O=czero)
#   a2          a reissue of a for reload tests                    (CN=a.test,O=czero reloaded)
#   expired     server: DNS a.test, localhost, but expired         (CN=expired,O=czero)
#   wrong       server: DNS wrong.test only                        (CN=wrong.test,O=czero)
#   client      client certificate (extendedKeyUsage clientAuth)   (CN=client,O=czero)
#   peer        server and client: DNS localhost, IP 127.0.0.1     (CN=localhost,O=czero)
#               (etcd with --client-cert-auth: its gateway dials its own gRPC port with it)
#   other-ca    a second CA that signed nothing here (a client trusting it rejects everything)
# Prints nothing on success; exits non-zero with openssl's message otherwise.
set -euo pipefail
dir=${1:?usage: tls_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
q() { "$@" >/dev/null 2>log.txt || { cat log.txt >&2; exit 1; }; }

key() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }

ca() { # name
  key "$1"
  q openssl req -x509 -new -key "$1.key" -subj "/CN=czero test $1/O=czero" -days 3650 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$1.pem"
}

leaf() { # name subject days san eku
  key "$1"
  q openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n%s\n' \
    "$5" "${4:+subjectAltName=$4}" >"$1.ext"
  q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$3" \
    -extfile "$1.ext" -out "$1.pem"
  rm -f "$1.csr" "$1.ext"
}

ca ca
ca other-ca
leaf a "/CN=a.test/O=czero" 365 "DNS:a.test,DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
leaf b "/CN=b.test/O=czero" 365 "DNS:b.test,DNS:*.b.test" serverAuth
leaf a2 "/CN=a.test/O=czero reloaded" 365 "DNS:a.test,DNS:localhost,IP:127.0.0.1,IP:::1" serverAuth
# -days -1: notAfter a day before notBefore (now), so the certificate is expired at once
leaf expired "/CN=expired/O=czero" -1 "DNS:a.test,DNS:localhost" serverAuth
leaf wrong "/CN=wrong.test/O=czero" 365 "DNS:wrong.test" serverAuth
leaf client "/CN=client/O=czero" 365 "" clientAuth
leaf peer "/CN=localhost/O=czero" 365 "DNS:localhost,IP:127.0.0.1" serverAuth,clientAuth
rm -f log.txt ca.srl
