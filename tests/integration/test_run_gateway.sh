#!/usr/bin/env bash
# `make run-gateway` as a newcomer tries it (issue 13, points 2 and 7), on non-default ports:
# the banner names the ports; the gateway's DevServer answers /metrics and /healthz; killing one
# demo instance leaves the gateway and the two others answering every request with 200; the
# instance started again as the README says is used again; `czero-gateway -s reload` reloads
# (log line) and `-s stop` stops the gateway, after which the script exits 0 and leaves no
# process and no pid file behind. A busy gateway port makes the script exit 1 with the port
# named, all four stopped.
. "$(dirname "${BASH_SOURCE[0]}")/lib_gateway.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCRIPT=$ROOT/scripts/run-gateway.sh

export GATEWAY_PORT=$(free_port) GATEWAY_DEV_PORT=$(free_port)
d=($(free_port) $(free_port) $(free_port))
v=($(free_port) $(free_port) $(free_port))
export DEMO_PORTS="${d[*]}" DEMO_DEV_PORTS="${v[*]}" RUN_DIR=$tmp/run XDG_RUNTIME_DIR=$tmp
GWURL=http://127.0.0.1:$GATEWAY_PORT

# every_200 N: N GETs of /hello through the gateway, each on a new connection, all 200
every_200() {
  local codes
  codes=$(for _ in $(seq "$1"); do curl -s -o /dev/null -w '%{http_code}\n' "$GWURL/hello"; done |
          sort | uniq -c | tr -s ' ')
  [ "$codes" = " $1 200" ] || fail "$1 requests through the gateway: $codes"
}
alive() { kill -0 "$1" 2>/dev/null; }
# wait_gone PID SECONDS
wait_gone() {
  for _ in $(seq $(($2 * 10))); do alive "$1" || return 0; sleep 0.1; done
  return 1
}

setsid bash "$SCRIPT" "$BUILD" > "$tmp/run.log" 2>&1 &
script=$!
# on a failure, the whole group: killing only the script would leave its four children
trap 'kill -9 -- -"$script" 2>/dev/null; cleanup' EXIT
for _ in $(seq 200); do grep -q '^run-gateway: reload' "$tmp/run.log" && break; sleep 0.05; done
grep -q '^run-gateway: reload' "$tmp/run.log" || fail "no banner: $(cat "$tmp/run.log")"
grep -q "^run-gateway: gateway http://127.0.0.1:$GATEWAY_PORT (pid [0-9]*; /metrics, /healthz on 127.0.0.1:$GATEWAY_DEV_PORT)" \
  "$tmp/run.log" || fail "the banner does not name the gateway's ports: $(grep ^run-gateway "$tmp/run.log")"
for i in 1 2 3; do
  grep -q "^run-gateway: demo-$i http://127.0.0.1:${d[i - 1]} (pid [0-9]*; dev 127.0.0.1:${v[i - 1]})" \
    "$tmp/run.log" || fail "the banner does not name demo-$i's ports"
done
gwpid=$(sed -n 's/^run-gateway: gateway .*(pid \([0-9]*\);.*/\1/p' "$tmp/run.log")
dpids=($(cat "$RUN_DIR"/demo-{1,2,3}.pid))
ok "the banner names the ports given (gateway $GATEWAY_PORT, demos ${d[*]})"

[ "$(curl -s "http://127.0.0.1:$GATEWAY_DEV_PORT/healthz")" = OK ] || fail "gateway /healthz"
every_200 5
curl -s "http://127.0.0.1:$GATEWAY_DEV_PORT/metrics" |
  grep -q 'http_server_requests_code_total{path="/hello",method="GET",code="200"} 5' ||
  fail "gateway /metrics: $(curl -s "http://127.0.0.1:$GATEWAY_DEV_PORT/metrics" | head -20)"
ok "the gateway's DevServer answers /healthz and /metrics (5 requests to /hello counted)"

# the README: kill $(cat build/run-gateway/demo-2.pid)
kill "$(cat "$RUN_DIR/demo-2.pid")"
wait_gone "${dpids[1]}" 10 || fail "demo-2 did not stop"
every_200 60
alive "$script" && alive "$gwpid" && alive "${dpids[0]}" && alive "${dpids[2]}" ||
  fail "killing demo-2 stopped more: $(tail -5 "$tmp/run.log")"
ok "demo-2 killed: the gateway, demo-1 and demo-3 keep running; 60 requests, each 200"

# the README: scripts/run-gateway.sh build instance 2
bash "$SCRIPT" "$BUILD" instance 2 > "$tmp/demo2.log" 2>&1 &
pids+=($!)
again=$!
back=
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%header{x-instance}' "$GWURL/hello")" = demo-2 ] && { back=1; break; }
  sleep 0.1
done
[ -n "$back" ] || fail "demo-2 started again is not used: $(tail -5 "$tmp/demo2.log")"
[ "$(cat "$RUN_DIR/demo-2.pid")" = "$again" ] || fail "demo-2.pid does not name the new instance"
ok "demo-2 started again with 'instance 2' is used again"

# a reload builds and starts a whole new instance: under ASan with the suite running beside it
# that took over 5 s once, so wait up to 20 s
out=$("$GW" -f "$ROOT/etc/gateway.yaml" -s reload 2>&1) || fail "-s reload: $out"
for _ in $(seq 400); do grep -q 'reloaded .*(reload 1)' "$tmp/run.log" && break; sleep 0.05; done
grep -q 'reloaded .*(reload 1)' "$tmp/run.log" || fail "-s reload: no reload logged ($out)"
every_200 10
ok "czero-gateway -s reload: $out; 'reloaded' logged, still 200"

out=$("$GW" -f "$ROOT/etc/gateway.yaml" -s stop 2>&1) || fail "-s stop: $out"
wait_gone "$script" 20 || fail "run-gateway did not exit after -s stop: $(tail -5 "$tmp/run.log")"
wait "$script"
rc=$?
[ "$rc" = 0 ] || fail "run-gateway exited $rc after -s stop"
for p in "$gwpid" "${dpids[@]}" "$again"; do
  wait_gone "$p" 5 || fail "process $p ($(cat /proc/$p/comm 2>/dev/null)) left behind"
done
[ -z "$(ls "$RUN_DIR")" ] || fail "pid files left in RUN_DIR: $(ls "$RUN_DIR")"
[ ! -e "$tmp/czero-gateway-$GATEWAY_PORT.pid" ] || fail "the gateway's pid file is left"
out2=$("$GW" -f "$ROOT/etc/gateway.yaml" -s reload 2>&1) && fail "-s reload with no gateway: 0"
ok "czero-gateway -s stop: the script exits 0, no process or pid file left; -s then says: $out2"

# a busy gateway port: exit 1, the port named, nothing left running
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("up", flush=True); time.sleep(30)' \
  "$GATEWAY_PORT" > "$tmp/holder.log" &
pids+=($!)
for _ in $(seq 100); do grep -q up "$tmp/holder.log" && break; sleep 0.05; done
setsid bash "$SCRIPT" "$BUILD" > "$tmp/busy.log" 2>&1 &
busy=$!
trap 'kill -9 -- -"$busy" 2>/dev/null; cleanup' EXIT
wait_gone "$busy" 20 || fail "run-gateway with the gateway port busy still runs: $(tail -5 "$tmp/busy.log")"
wait "$busy"
rc=$?
[ "$rc" = 1 ] || fail "run-gateway with the gateway port busy: exit $rc: $(tail -5 "$tmp/busy.log")"
grep -q "listen on 127.0.0.1:$GATEWAY_PORT: address already in use" "$tmp/busy.log" ||
  fail "busy port not named: $(cat "$tmp/busy.log")"
for i in 1 2 3; do
  ! curl -s -o /dev/null "http://127.0.0.1:${d[i - 1]}/hello" || fail "demo-$i left running"
done
ok "the gateway's port busy: run-gateway exits 1 naming it, the instances stopped"
echo "PASS ($passed checks)"
