#!/usr/bin/env bash
# Installs every Debian package that czero's build, tests and benchmarks need.
# Does nothing (and needs no network) when they are all present already.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libuv1-dev node-llhttp libhiredis-dev libyaml-dev libjansson-dev libssl-dev zlib1g-dev
  libcriterion-dev
  clang libclang-rt-14-dev          # libFuzzer and the sanitizer runtimes
  redis-server etcd-server etcd-client
  testssl.sh                         # TLS port audit (docs/tls.md "Testing TLS"; binary: testssl)
  nghttp2-client                     # h2load/nghttp: HTTP/2 over TLS (ALPN h2) tests of issue 14
  curl wrk nginx-light golang-go     # bench peers and load generator
  openssl                            # the CLI: test_czctl_gen.sh signs JWTs, tls_certs.sh makes a PKI
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}; run as root (or: sudo $0)" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the daemons it installs; czero's tests start their own on loopback ports.
for svc in redis-server etcd nginx; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true; systemctl disable "$svc" >/dev/null 2>&1 || true
  fi
done
exit 0
