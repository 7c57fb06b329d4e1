#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# scripts/demo-cert.sh [DIR]: the demo's self-signed certificate, made once. `make run` and
# `make run-gateway` call it before starting; etc/demo.yaml and etc/gateway.yaml name its files.
#
# DIR (default .czero/tls, ignored by git) gets cert.pem and key.pem: ECDSA P-256, valid for
# DNS:localhost and IP:127.0.0.1, so that
#   curl --cacert .czero/tls/cert.pem https://localhost:8443/hello
# verifies the demo's certificate (the certificate is its own CA). Existing files are kept: the
# same certificate keeps working from one run to the next; delete DIR for a new one. Only for
# trying czero on a laptop: a real service takes its certificate from a CA (Let's Encrypt, the
# company's), see docs/tls.md.
set -euo pipefail
DIR=${1:-.czero/tls}
[ -s "$DIR/cert.pem" ] && [ -s "$DIR/key.pem" ] && exit 0
command -v openssl >/dev/null || { echo "demo-cert: openssl is not installed" >&2; exit 1; }
mkdir -p "$DIR"
umask 077 # the key is readable by its owner only
tmp=$(mktemp -d "$DIR/new.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; echo "demo-cert: openssl could not make the certificate" >&2; exit 1; }
chmod 644 "$tmp/cert.pem"
# key first, then the certificate: a run that stops in between makes a new pair next time
mv "$tmp/key.pem" "$DIR/key.pem"
mv "$tmp/cert.pem" "$DIR/cert.pem"
echo "demo-cert: made a self-signed certificate for localhost and 127.0.0.1 in $DIR/ (cert.pem, key.pem)"
