#!/usr/bin/env bash
# The demo binary as a user runs it: serves its routes from a YAML file, exits 0 on SIGTERM with a
# request in flight answered, and refuses a bad config naming file:line:col and the key, exit 1.
set -u
BUILD=${1:?build dir}
BIN="$BUILD/czero-demo"
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$tmp/ok.yaml" <<YAML
Name: demo-test
Host: 127.0.0.1
Port: $port
Workers: 2
Log:
  Mode: file
  Path: $tmp/logs
  Encoding: json
YAML
"$BIN" -f "$tmp/ok.yaml" > "$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/hello" >/dev/null && break; sleep 0.1; done
[ "$(curl -s "http://127.0.0.1:$port/hello")" = '{"message":"hello"}' ] || fail "/hello"
[ "$(curl -s "http://127.0.0.1:$port/users/7")" = '{"id":"7"}' ] || fail "/users/7"
[ "$(curl -s -d 'xyz' "http://127.0.0.1:$port/echo")" = 'xyz' ] || fail "/echo"
# a request in flight when SIGTERM arrives is still answered, then the process exits 0
curl -s "http://127.0.0.1:$port/slow?ms=500" > "$tmp/slow" &
cpid=$!
sleep 0.2
kill -TERM $pid
wait $cpid
[ "$(cat "$tmp/slow")" = '{"slept_ms":500}' ] || fail "in-flight request during shutdown: $(cat "$tmp/slow")"
wait $pid; rc=$?
[ $rc -eq 0 ] || fail "exit code $rc after SIGTERM"
grep -q '"\[HTTP\] 200 - GET /hello - 127.0.0.1:' "$tmp/logs/access.log" || fail "access log line: $(head -3 "$tmp/logs/access.log")"

# bad configs: exit 1 and a message naming file:line:col and the key
printf 'Name: x\nHost: 127.0.0.1\nPort: 99999\n' > "$tmp/bad1.yaml"
printf 'Name: x\nPort: 8080\nLog:\n  Levle: info\n' > "$tmp/bad2.yaml"
printf 'Name: x\nPort: 8080\nMaxBytes: lots\n' > "$tmp/bad3.yaml"
printf 'Name: x\nHost: 127.0.0.1\n' > "$tmp/bad4.yaml"
expect=("bad1.yaml:3:7: Port:" "bad2.yaml:4:3: Log.Levle:" "bad3.yaml:3:11: MaxBytes:" "bad4.yaml:1:1: Port:")
for i in 1 2 3 4; do
  out=$("$BIN" -f "$tmp/bad$i.yaml" 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "bad$i: exit $rc"
  case "$out" in *"${expect[$((i-1))]}"*) ;; *) fail "bad$i: '$out' lacks '${expect[$((i-1))]}'";; esac
done
"$BIN" -f "$tmp/missing.yaml" >/dev/null 2>&1 && fail "missing file accepted"
echo "1 passed, 0 failed"
