#!/usr/bin/env bash
# The demo binary as a user runs it: serves its routes from a YAML file, exits 0 on SIGTERM with a
# request in flight answered, and refuses a bad config naming file:line:col and the key, exit 1.
set -u
BUILD=${1:?build dir}
BIN="$BUILD/czero-demo"
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
devport=$(free_port)
cat > "$tmp/ok.yaml" <<YAML
Name: demo-test
Host: 127.0.0.1
Port: $port
Workers: 2
Log:
  Mode: file
  Path: $tmp/logs
  Encoding: json
Auth:
  AccessSecret: test-secret-of-enough-length-123
DevServer:
  Enabled: true
  Host: 127.0.0.1
  Port: $devport
YAML
"$BIN" -f "$tmp/ok.yaml" > "$tmp/out" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/hello" >/dev/null && break; sleep 0.1; done
[ "$(curl -s "http://127.0.0.1:$port/hello")" = '{"message":"hello"}' ] || fail "/hello"
[ "$(curl -s "http://127.0.0.1:$port/users/7")" = '{"id":"7"}' ] || fail "/users/7"
[ "$(curl -s -d 'xyz' "http://127.0.0.1:$port/echo")" = 'xyz' ] || fail "/echo"
# issue 4's demo routes: binding, JWT, CORS, the dev server
u="http://127.0.0.1:$port"
j=(-H 'Content-Type: application/json')
[ "$(curl -s "${j[@]}" -d '{"name":"ann","age":30}' "$u/users")" = '{"name":"ann","age":30}' ] || fail "POST /users"
out=$(curl -s -w ' %{http_code}' "${j[@]}" -d '{"name":"ann","age":300}' "$u/users")
case "$out" in *'field "age"'*' 400') ;; *) fail "POST /users out of range: $out";; esac
out=$(curl -s -w ' %{http_code}' "${j[@]}" -d '{"age":3}' "$u/users")
case "$out" in *'field "name"'*' 400') ;; *) fail "POST /users missing name: $out";; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "$u/api/me")" = 401 ] || fail "/api/me without a token"
tok=$(curl -s "${j[@]}" -d '{"user":"ann"}' "$u/login" | python3 -c 'import sys,json; print(json.load(sys.stdin)["accessToken"])')
curl -s -H "Authorization: Bearer $tok" "$u/api/me" | grep -q '"user":"ann"' || fail "/api/me with a token"
pre=$(curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: http://a.example' -H 'Access-Control-Request-Method: POST' "$u/users")
case "$pre" in *"204"*"Access-Control-Allow-Origin: *"*) ;; *) fail "CORS preflight: $pre";; esac
[ "$(curl -s "http://127.0.0.1:$devport/healthz")" = OK ] || fail "dev server /healthz"
curl -s "http://127.0.0.1:$devport/metrics" | grep -q 'http_server_requests_code_total{path="/users",method="POST",code="400"} 2' \
  || fail "dev server /metrics"

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
# the demo's Https section: a Port without a certificate would serve plain HTTP as "Https"
printf 'Name: x\nPort: 8080\nAuth: {AccessSecret: s}\nHttps:\n  Port: 8443\n  KeyFile: k.pem\n' > "$tmp/bad5.yaml"
# a certificate that cannot be read stops the start (the HTTPS server starts first)
printf 'Name: x\nHost: 127.0.0.1\nPort: %s\nAuth: {AccessSecret: s}\nHttps: {Port: %s, CertFile: %s/none.pem, KeyFile: %s/none.key}\n' \
  "$port" "$devport" "$tmp" "$tmp" > "$tmp/bad6.yaml"
expect=("bad1.yaml:3:7: Port:" "bad2.yaml:4:3: Log.Levle:" "bad3.yaml:3:11: MaxBytes:" "bad4.yaml:1:1: Port:"
        "bad5.yaml:5:3: Https.CertFile:" "CertFile $tmp/none.pem: No such file or directory")
for i in 1 2 3 4 5 6; do
  out=$("$BIN" -f "$tmp/bad$i.yaml" 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "bad$i: exit $rc"
  case "$out" in *"${expect[$((i-1))]}"*) ;; *) fail "bad$i: '$out' lacks '${expect[$((i-1))]}'";; esac
done
"$BIN" -f "$tmp/missing.yaml" >/dev/null 2>&1 && fail "missing file accepted"
echo "1 passed, 0 failed"
