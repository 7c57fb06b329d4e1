#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_testssl.sh BUILD_DIR: issue 14's audit of the demo's TLS port with testssl.sh (Debian's
# testssl.sh, binary `testssl`; scripts/deps.sh installs it, so a missing one fails the test as a
# missing wrk fails test_gateway.sh). The demo runs as `make run` runs it: etc/demo.yaml's Https
# section on a free loopback port, with the certificate scripts/demo-cert.sh makes, and the
# README's `curl --cacert cert.pem https://localhost:PORT/hello` must verify and answer. Then
# testssl runs with the command of docs/tls.md ("Testing TLS") and its JSON must say:
#   - SSLv2, SSLv3, TLS 1.0, TLS 1.1 not offered; TLS 1.2 and TLS 1.3 offered;
#   - no NULL, aNULL, EXPORT, LOW, 3DES/IDEA or AVERAGE (CBC, SHA-1 MAC) cipher;
#   - forward secrecy: every cipher accepted (-E, per protocol) has an (EC)DHE key exchange, and
#     none is accepted below TLS 1.2.
# About 15-20 s. To see the test fail (it did, on both, when it was written):
#   TESTSSL_TLS='Ciphers: "ALL:@SECLEVEL=0"'  goes into the demo's Tls section: aNULL and AVERAGE
#                                            ciphers offered
#   TESTSSL_TARGET=localhost:PORT            audits that server instead of the demo, e.g. an nginx
#                                            with ssl_protocols TLSv1 TLSv1.1 TLSv1.2 (czero's
#                                            MinVersion cannot go below 1.2): TLS1, TLS1_1 offered
set -u
B=${1:?build dir}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3 # Debian's, as the other tests (json is all it needs)
T=$(mktemp -d /tmp/cz-testssl.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

command -v testssl >/dev/null ||
    fail "testssl is not installed (Debian package testssl.sh; scripts/deps.sh installs it)"

if [ -n "${TESTSSL_TARGET:-}" ]; then
    target=$TESTSSL_TARGET
    echo "auditing $target (TESTSSL_TARGET), not the demo"
else
    bash "$SRC/scripts/demo-cert.sh" "$T/tls" >/dev/null || fail "scripts/demo-cert.sh"
    port=$(free_port)
    hport=$(free_port)
    # etc/demo.yaml's keys, on free ports; Https as it is there
    cat >"$T/demo.yaml" <<YAML
Name: demo-testssl
Host: 127.0.0.1
Port: $port
Workers: 1
Log:
  Mode: file
  Path: $T/logs
Auth:
  AccessSecret: test-secret-of-enough-length-123
Https:
  Port: $hport
  CertFile: $T/tls/cert.pem
  KeyFile: $T/tls/key.pem
  Tls: {${TESTSSL_TLS:-}}
YAML
    "$B/czero-demo" -f "$T/demo.yaml" >"$T/demo.out" 2>&1 &
    pid=$!
    for _ in $(seq 200); do # the HTTPS server starts after the plain one: wait for it
        curl -sk -o /dev/null "https://127.0.0.1:$hport/hello" && break
        kill -0 "$pid" 2>/dev/null || { cat "$T/demo.out" >&2; fail "the demo did not start"; }
        sleep 0.05
    done
    # the README's line: the self-signed certificate verifies for localhost (its own CA)
    out=$(curl -sS --cacert "$T/tls/cert.pem" "https://localhost:$hport/hello" 2>&1) ||
        fail "curl --cacert cert.pem https://localhost:$hport/hello: $out"
    [ "$out" = '{"message":"hello"}' ] || fail "https /hello answered: $out"
    target=localhost:$hport
fi

# docs/tls.md "The command": --ip keeps it off DNS, the URL's name goes out as SNI
t0=$(date +%s)
timeout 120 testssl --quiet --color 0 --warnings off --nodns none --ip 127.0.0.1 \
    --protocols --std --cipher-per-proto \
    --jsonfile "$T/testssl.json" "https://$target" >"$T/testssl.out" 2>&1
rc=$?
[ -s "$T/testssl.json" ] || { tail -20 "$T/testssl.out" >&2; fail "testssl wrote no JSON (exit $rc)"; }
echo "testssl: $(($(date +%s) - t0)) s (exit $rc; the verdict is in its JSON)"

# docs/tls.md "Reading the JSON": prints each finding that fails, exit 1 if any
$PY - "$T/testssl.json" <<'PY' || fail "testssl's findings above are not what issue 14 asks"
import json, sys
want = {"SSLv2": "not offered", "SSLv3": "not offered", "TLS1": "not offered",
        "TLS1_1": "not offered", "TLS1_2": "offered", "TLS1_3": "offered with final",
        "cipherlist_NULL": "not offered", "cipherlist_aNULL": "not offered",
        "cipherlist_EXPORT": "not offered", "cipherlist_LOW": "not offered",
        "cipherlist_3DES_IDEA": "not offered", "cipherlist_AVERAGE": "not offered"}
got = {f["id"]: f for f in json.load(open(sys.argv[1]))}
bad = [f"{i}: {got[i]['finding'] if i in got else 'missing'} (want: {w})"
       for i, w in want.items() if got.get(i, {}).get("finding") != w]
ciphers = 0
for i, f in got.items():
    if i.startswith(("cipher-ssl", "cipher-tls1_x", "cipher-tls1_1_x")):
        bad.append(f"{i}: offered below TLS 1.2: {' '.join(f['finding'].split())}")
    elif i.startswith(("cipher-tls1_2_x", "cipher-tls1_3_x")):
        ciphers += 1
        if not f["finding"].split()[4].startswith(("ECDH", "DH")):
            bad.append(f"{i}: no forward secrecy: {' '.join(f['finding'].split())}")
if ciphers == 0:
    bad.append("no cipher-tls1_2_x / cipher-tls1_3_x finding: -E listed no cipher")
print("\n".join(bad) if bad else f"ok: {len(want)} findings as wanted, {ciphers} ciphers, all with forward secrecy")
sys.exit(1 if bad else 0)
PY
echo "ok: testssl finds only TLS 1.2/1.3, no weak cipher and forward secrecy on $target"
