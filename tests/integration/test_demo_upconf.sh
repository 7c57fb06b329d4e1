#!/usr/bin/env bash
# czero-demo with a bad Upstreams section: each run exits 1 before listening and prints
# "config error: <file>:<line>:<col>: Upstreams[i].<Key>: <message>", the text czero-gateway gives
# for the same entry (bad Addr, unknown Policy, duplicate Name, bad Weight, bad Pool.Size, Dns,
# Etcd, no node source). No port is opened: the load fails first.
set -u
BUILD=${1:?build dir}
BIN="$BUILD/czero-demo"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
n=0
# expect <upstreams body> <wanted text after the file name>
expect() {
  n=$((n + 1))
  f="$tmp/bad$n.yaml"
  printf 'Name: demo\nHost: 127.0.0.1\nPort: 1\nLog:\n  Mode: console\nUpstreams:\n%s\n%s\n' \
    "$1" "Auth: {AccessSecret: test-secret-of-enough-length-123}" > "$f"
  out=$("$BIN" -f "$f" 2>&1); rc=$?
  [ $rc -ne 0 ] || fail "case $n accepted: $(cat "$f")"
  case "$out" in *"config error: $f:$2"*) ;; *) fail "case $n: got '$out', want '$f:$2'";; esac
}
expect "  - Name: a
    Nodes:
      - Addr: nohostport" "9:15: Upstreams[0].Nodes[0].Addr: must be host:port"
expect "  - {Name: a, Policy: fastest, Nodes: [{Addr: 127.0.0.1:1}]}" \
  "7:23: Upstreams[0].Policy: unknown value"
expect "  - {Name: a, Nodes: [{Addr: 127.0.0.1:1}]}
  - {Name: a, Nodes: [{Addr: 127.0.0.1:2}]}" "8:12: Upstreams[1].Name: duplicate upstream name 'a'"
expect "  - {Name: a, Nodes: [{Addr: 127.0.0.1:1, Weight: 0}]}" \
  "7:51: Upstreams[0].Nodes[0].Weight: must be 1..1000, got 0"
expect "  - Name: a
    Pool:
      Size: 70000
    Nodes: [{Addr: 127.0.0.1:1}]" "9:13: Upstreams[0].Pool.Size: must be 0..65536, got 70000"
expect "  - {Name: a, Dns: users}" "7:20: Upstreams[0].Dns: must be name:port"
expect "  - Name: a
    Etcd: {Hosts: [127.0.0.1:2379]}" "8:11: Upstreams[0].Etcd: needs Hosts and a non-empty Key"
expect "  - Name: a" "7:5: Upstreams[0].Nodes: one of Nodes, Dns or Etcd is required"
echo "$n passed, 0 failed"
