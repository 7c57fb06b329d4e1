# SPDX-License-Identifier: MIT
# lib_gateway.sh: sourced by test_gateway.sh and test_gateway_discovery.sh (not a test itself:
# CTest runs only test_*.sh). Takes the build dir as the script's $1; sets GW, DEMO, a scratch
# $tmp removed at exit with every process in pids[], and the helpers fail, ok (counting
# $passed), free_port and wait_up URL.
set -u
BUILD=${1:?build dir}
GW="$BUILD/czero-gateway"
DEMO="$BUILD/czero-demo"
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "== $f"; tail -5 "$f"; done; exit 1; }
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_up() {
  for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done
  fail "not up: $1"
}
