#!/usr/bin/env bash
# A port another process listens on fails start-up (issue 13, point 1): a second czero-demo on
# the first one's Host:Port, on its DevServer port, or on a port a plain python socket holds
# (with or without SO_REUSEPORT), and czero-gateway on a busy port, each exit 1 with
# "listen on HOST:PORT: address already in use", and the first demo still answers every request
# itself. ReusePort: true on both lets the second start and share the port.
. "$(dirname "${BASH_SOURCE[0]}")/lib_gateway.sh"

# conf NAME PORT DEVPORT REUSE: a demo config with its DevServer on DEVPORT (ReusePort only
# when true: the default is what a newcomer runs)
conf() {
  cat > "$tmp/$1.yaml" <<YAML
Name: $1
Host: 127.0.0.1
Port: $2
Workers: 2
$([ "$4" = true ] && echo 'ReusePort: true')
Log: {Mode: console, Encoding: plain, Stat: false}
Auth: {AccessSecret: listen-test-secret-0123456789}
DevServer: {Enabled: true, Host: 127.0.0.1, Port: $3}
YAML
}

# refused WHAT HOST:PORT CMD...: CMD exits 1 within 5 s and says the port is in use
refused() {
  local what=$1 addr=$2 rc
  shift 2
  timeout 5 "$@" > "$tmp/refused.out" 2>&1
  rc=$?
  [ "$rc" = 1 ] || fail "$what: exit $rc, not 1: $(tail -3 "$tmp/refused.out")"
  grep -q "listen on $addr: address already in use" "$tmp/refused.out" ||
    fail "$what: no 'listen on $addr: address already in use' in: $(cat "$tmp/refused.out")"
  ok "$what: exit 1, listen on $addr: address already in use"
}

# all_from URL NAME N: N fresh connections, every answer 200 from instance NAME
all_from() {
  local i got
  for i in $(seq "$3"); do
    got=$(curl -s -o /dev/null -w '%{http_code} ' -D - "$1" | tr -d '\r' |
          awk '/^X-Instance:/ {n=$2} /^[0-9]+ $/ {s=$1} END {print s, n}')
    [ "$got" = "200 $2" ] || fail "request $i to $1: got '$got', want '200 $2'"
  done
}

p=$(free_port) d1=$(free_port) d2=$(free_port)
conf first "$p" "$d1" false
conf second "$p" "$d2" false
"$DEMO" -f "$tmp/first.yaml" -n first > "$tmp/first.log" 2>&1 &
pids+=($!)
pid_first=$!
wait_up "http://127.0.0.1:$p/hello"

refused "a second demo on the same port" "127.0.0.1:$p" "$DEMO" -f "$tmp/second.yaml" -n second
all_from "http://127.0.0.1:$p/hello" first 20
ok "the first demo still answers all 20 requests itself"

conf devclash "$(free_port)" "$d1" false
refused "a demo whose DevServer port the first one holds" "127.0.0.1:$d1" \
  "$DEMO" -f "$tmp/devclash.yaml" -n devclash

gw=$tmp/gw.yaml
cat > "$gw" <<YAML
Name: gw
Host: 127.0.0.1
Port: $p
Log: {Mode: console, Encoding: plain, Stat: false}
Upstreams: [{Name: a, Nodes: [{Addr: 127.0.0.1:$p}]}]
Routes: [{Path: /hello, Upstream: a}]
YAML
refused "czero-gateway on the demo's port" "127.0.0.1:$p" "$GW" -f "$gw"
all_from "http://127.0.0.1:$p/hello" first 5

# a plain socket of another program, without and with SO_REUSEPORT
for reuse in 0 1; do
  q=$(free_port)
  python3 - "$q" "$reuse" > "$tmp/holder.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if sys.argv[2] == '1':
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen()
print('listening', flush=True)
time.sleep(30)
PY
  holder=$!
  pids+=($holder)
  for _ in $(seq 100); do grep -q listening "$tmp/holder.log" && break; sleep 0.05; done
  conf foreign "$q" "$(free_port)" false
  refused "a demo on a port python holds (SO_REUSEPORT=$reuse)" "127.0.0.1:$q" \
    "$DEMO" -f "$tmp/foreign.yaml" -n foreign
  kill "$holder" 2>/dev/null
  wait "$holder" 2>/dev/null
done

# ReusePort: true on both: the second starts and the kernel spreads connections over the two
kill "$pid_first"
wait "$pid_first" 2>/dev/null
conf first "$p" "$d1" true
conf second "$p" "$d2" true
"$DEMO" -f "$tmp/first.yaml" -n first > "$tmp/first.log" 2>&1 &
pids+=($!)
wait_up "http://127.0.0.1:$p/hello"
"$DEMO" -f "$tmp/second.yaml" -n second > "$tmp/second.log" 2>&1 &
pids+=($!)
pid_second=$!
wait_up "http://127.0.0.1:$d2/healthz"
kill -0 "$pid_second" 2>/dev/null || fail "ReusePort: the second demo exited: $(cat "$tmp/second.log")"
seen=$(for _ in $(seq 40); do curl -s -D - -o /dev/null "http://127.0.0.1:$p/hello"; done |
       tr -d '\r' | awk '/^X-Instance:/ {print $2}' | sort -u | tr '\n' ' ')
[ "$seen" = "first second " ] || fail "ReusePort: 40 requests answered by '$seen', want both"
ok "ReusePort: true on both: the second starts and both answer"
echo "PASS ($passed checks)"
