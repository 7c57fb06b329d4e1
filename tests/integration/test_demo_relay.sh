#!/usr/bin/env bash
# Two demo processes, A relaying to B through the `peers` entry of its Upstreams config:
# GET /relay/hello on A answers with B's JSON and both names, in one trace; the query travels
# on; B (no Upstreams) answers 503; a client aborting on A mid-call ends the call (499 in A's
# access log); a dead B is 502, a B slower than the relay timeout is 504; a duplicate upstream
# name is refused.
set -u
BUILD=${1:?build dir}
BIN="$BUILD/czero-demo"
tmp=$(mktemp -d)
pa=; pb=
trap 'kill $pa $pb 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
porta=$(free_port); portb=$(free_port)
conf() { # name port extra
  cat <<YAML
Name: $1
Host: 127.0.0.1
Port: $2
Log:
  Mode: file
  Path: $tmp/logs-$1
  Encoding: plain
Auth:
  AccessSecret: test-secret-of-enough-length-123
$3
YAML
}
conf a "$porta" "Upstreams:
  - Name: peers
    Policy: round_robin
    Nodes: [{Addr: \"127.0.0.1:$portb\"}]" > "$tmp/a.yaml"
conf b "$portb" "" > "$tmp/b.yaml"
wait_up() {
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$1/hello" && return 0
    sleep 0.1
  done
  fail "port $1 not up"
}

"$BIN" -f "$tmp/b.yaml" -n inst-b > "$tmp/b.out" 2>&1 & pb=$!
"$BIN" -f "$tmp/a.yaml" -n inst-a > "$tmp/a.out" 2>&1 & pa=$!
wait_up "$portb"; wait_up "$porta"
A="http://127.0.0.1:$porta"

out=$(curl -s -w ' %{http_code}' "$A/relay/hello")
[ "$out" = '{"via":"inst-a","peer":"inst-b","status":200,"answer":{"message":"hello"}} 200' ] \
  || fail "/relay/hello: $out"
# one trace across both: B's span is a child of A's (traceparent sent on)
trace_of() { # the trace id of the last "GET <path> " line in the access log of $1
  sed -n 's|.*GET '"$2"' .*trace=\([0-9a-f]*\).*|\1|p' "$tmp/logs-$1/access.log" | tail -1
}
# B's log has its own earlier /hello lines (wait_up's) from another worker thread, and lines of
# different threads may reach the file out of time order: look for A's trace among B's lines.
has_trace() { # $1 instance, $2 path, $3 trace id
  grep -q "GET $2 .*trace=$3" "$tmp/logs-$1/access.log" 2>/dev/null
}
for _ in $(seq 40); do # the logs are written after the answers
  ta=$(trace_of a /relay/hello); tb=
  [ -n "$ta" ] && has_trace b /hello "$ta" && { tb=$ta; break; }
  sleep 0.05
done
[ -n "$ta" ] && [ "$ta" = "$tb" ] || fail "trace not carried: A '$ta', B '$tb'"
out=$(curl -s "$A/relay/slow?ms=20")
[ "$out" = '{"via":"inst-a","peer":"inst-b","status":200,"answer":{"slept_ms":20}}' ] \
  || fail "query not relayed: $out"
out=$(curl -s "$A/relay/nothing")
case "$out" in *'"status":404,"answer":"404 page not found'*) ;; *) fail "peer 404: $out";; esac
out=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$portb/relay/hello")
case "$out" in *'no `peers` upstream'*' 503') ;; *) fail "B without Upstreams: $out";; esac

# the client aborts (RST) 0.3 s into a 1.5 s call: A cancels the call and logs 499 at once.
# (A plain FIN is a half-close to the engine, which still answers, as HTTP/1.1 allows.)
t0=$(date +%s%N)
python3 - "$porta" <<'PY'
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /relay/slow?ms=1500 HTTP/1.1\r\nHost: a\r\n\r\n")
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
aborted() { grep -q '\[HTTP\] 499 - GET /relay/slow' "$tmp/logs-a/access.log" 2>/dev/null; }
for _ in $(seq 20); do aborted && break; sleep 0.05; done
aborted \
  || fail "no 499 for the abandoned relay: $(tail -3 "$tmp/logs-a/access.log")"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1200 ] || fail "the abandoned relay was waited for"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$A/relay/hello")" = 200 ] || fail "A after a cancel"

# B gone: 502; B slower than the relay's 2 s timeout: 504
kill -TERM $pb; wait $pb; pb=
out=$(curl -s -w ' %{http_code}' "$A/relay/hello")
case "$out" in *'peers: '*' 502') ;; *) fail "dead peer: $out";; esac
"$BIN" -f "$tmp/b.yaml" -n inst-b -d 2500 > "$tmp/b2.out" 2>&1 & pb=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$portb") 2>/dev/null && break; sleep 0.1; done
out=$(curl -s -w ' %{http_code}' "$A/relay/hello")
case "$out" in *'peers: '*' 504') ;; *) fail "slow peer: $out";; esac

# a duplicate upstream name: exit 1, naming the file, the line and column, and the key
conf c 1 "Upstreams:
  - {Name: peers, Nodes: [{Addr: \"127.0.0.1:1\"}]}
  - {Name: peers, Nodes: [{Addr: \"127.0.0.1:2\"}]}" > "$tmp/c.yaml"
out=$("$BIN" -f "$tmp/c.yaml" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "duplicate upstream: exit $rc"
case "$out" in *"c.yaml:12:12: Upstreams[1].Name: duplicate upstream name 'peers'"*) ;;
  *) fail "duplicate upstream: $out";; esac
echo "1 passed, 0 failed"
