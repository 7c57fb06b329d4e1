#!/usr/bin/env bash
# czero-gateway with the shared stores, as processes on loopback:
#  - etcd (a real etcd): a demo instance whose config has Etcd{Hosts, Key} registers itself and is
#    routed by a gateway watching that key within 1 s of serving; after its shutdown it is no longer routed;
#    a SIGKILLed instance's key is gone once its lease (TTL 2 s) expires and the gateway keeps
#    answering from the live instance;
#  - Redis (a real redis-server): a period rate limit in Redis shared by two gateway processes
#    holds its quota across both (20 admitted of 30, alternating between the gateways).
# A missing etcd or redis-server binary skips that part with a message.
. "$(dirname "${BASH_SOURCE[0]}")/lib_gateway.sh"
statuses() { # statuses URL N: "code:instance " for N GETs
  for _ in $(seq "$2"); do curl -s -o /dev/null -w '%{http_code}:%header{x-instance} ' "$1"; done
}
now_ms() { date +%s%3N; }

gw_start() { # gw_start NAME PORT TAIL
  cat > "$tmp/$1.yaml" <<YAML
Name: $1
Host: 127.0.0.1
Port: $2
Workers: 2
Log: {Mode: console, Encoding: plain, Stat: false}
Middlewares: {Log: false, Shedding: false}
$3
YAML
  "$GW" -f "$tmp/$1.yaml" > "$tmp/$1.log" 2>&1 &
  pids+=($!)
  eval "pid_$1=$!"
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$2/" && return 0; sleep 0.05; done
  fail "gateway $1 not up"
}

# ---- etcd ----------------------------------------------------------------------------------
if command -v etcd >/dev/null; then
  ec=$(free_port); ep=$(free_port)
  etcd --name default --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$ec" \
    --advertise-client-urls "http://127.0.0.1:$ec" --listen-peer-urls "http://127.0.0.1:$ep" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ep" \
    --initial-cluster "default=http://127.0.0.1:$ep" \
    --logger zap --log-level warn > "$tmp/etcd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -s "http://127.0.0.1:$ec/health" | grep -q true && break
    sleep 0.1
  done
  curl -s "http://127.0.0.1:$ec/health" | grep -q true || fail "etcd did not start"
  gport=$(free_port)
  G="http://127.0.0.1:$gport"
  gw_start gwe "$gport" "Upstreams:
  - Name: svc
    Etcd: {Hosts: [127.0.0.1:$ec], Key: demo.svc}
    Outlier: {MaxFails: 1, BaseEjection: 200ms}
    SlowStart: 0    # a newcomer's first answer within 1 s would otherwise be a matter of luck
Routes:
  - {Method: GET, Path: /hello, Upstream: svc, Retries: 2}"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$G/hello")" = 503 ] ||
    fail "no node registered: not 503"

  instance() { # instance NAME: a demo registering in etcd with a 2 s lease
    local p; p=$(free_port)
    cat > "$tmp/$1.yaml" <<YAML
Name: $1
Host: 127.0.0.1
Port: $p
Workers: 1
Log: {Mode: file, Path: $tmp/logs-$1, Stat: false}
Auth: {AccessSecret: gateway-test-secret-0123456789}
Etcd: {Hosts: [127.0.0.1:$ec], Key: demo.svc, TTL: 2}
YAML
    "$DEMO" -f "$tmp/$1.yaml" -n "$1" > "$tmp/$1.log" 2>&1 &
    pids+=($!)
    eval "pid_$1=$!"
    wait_up "http://127.0.0.1:$p/hello" # serving, so registered (cz_server_start publishes)
  }
  # routed_to NAME WITHIN_MS: a GET through the gateway answers from NAME within the time
  routed_to() {
    local t0; t0=$(now_ms)
    while [ $(($(now_ms) - t0)) -le "$2" ]; do
      [ "$(curl -s -o /dev/null -w '%header{x-instance}' "$G/hello")" = "$1" ] && return 0
      sleep 0.02
    done
    return 1
  }
  instance a
  t0=$(now_ms)
  routed_to a 1000 || fail "instance a not routed within 1 s of serving"
  ok "etcd: a registered instance is routed within $(($(now_ms) - t0)) ms of serving"

  instance b
  routed_to b 1000 || fail "instance b not routed within 1 s"
  kill -TERM "$pid_a"; wait "$pid_a"
  sleep 1
  out=$(statuses "$G/hello" 30)
  case "$out" in *a*|*' 5'*|5*) fail "after a's shutdown: $out";; esac
  ok "etcd: a shut down instance is no longer routed (30 of 30 from b)"

  instance c
  routed_to c 1000 || fail "instance c not routed within 1 s"
  kill -9 "$pid_b"
  keys() {
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ec" get --prefix demo.svc --print-value-only
  }
  for _ in $(seq 60); do [ "$(keys | grep -c .)" -eq 1 ] && break; sleep 0.1; done
  [ "$(keys | grep -c .)" -eq 1 ] || fail "b's key outlived its lease: $(keys)"
  out=$(statuses "$G/hello" 30)
  case "$out" in *b*|*' 5'*|5*) fail "after b's lease expired: $out";; esac
  ok "etcd: a SIGKILLed instance leaves with its lease; 30 of 30 from c"
  kill -TERM "$pid_gwe" "$pid_c"
  wait "$pid_gwe"; rc=$?
  [ $rc -eq 0 ] || fail "etcd gateway: exit $rc after SIGTERM"
else
  echo "skip: etcd is not installed"
fi

# ---- Redis: one quota across two gateways -------------------------------------------------
if command -v redis-server >/dev/null; then
  rp=$(free_port)
  redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no > "$tmp/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    redis-cli -p "$rp" ping 2>/dev/null | grep -q PONG && break
    sleep 0.05
  done
  dp=$(free_port)
  cat > "$tmp/d.yaml" <<YAML
Name: d
Host: 127.0.0.1
Port: $dp
Workers: 1
Log: {Mode: file, Path: $tmp/logs-d, Stat: false}
Auth: {AccessSecret: gateway-test-secret-0123456789}
YAML
  "$DEMO" -f "$tmp/d.yaml" -n d > "$tmp/d.log" 2>&1 &
  pids+=($!)
  wait_up "http://127.0.0.1:$dp/hello"
  tail="Upstreams:
  - {Name: d, Nodes: [{Addr: 127.0.0.1:$dp}]}
Routes:
  - Path: /hello
    Upstream: d
    RateLimit:
      Kind: period
      Quota: 20
      Period: 60s
      Key: header:X-Client
      Redis: {Host: 127.0.0.1:$rp}"
  p1=$(free_port); p2=$(free_port)
  gw_start gw1 "$p1" "$tail"
  gw_start gw2 "$p2" "$tail"
  codes=""
  for i in $(seq 15); do
    for p in "$p1" "$p2"; do
      codes+="$(curl -s -o /dev/null -w '%{http_code}' -H 'X-Client: k1' \
        "http://127.0.0.1:$p/hello") "
    done
  done
  n200=$(echo "$codes" | grep -o 200 | wc -l); n429=$(echo "$codes" | grep -o 429 | wc -l)
  [ "$n200" -eq 20 ] && [ "$n429" -eq 10 ] || fail "shared quota 20 over two gateways: $codes"
  [ "$(redis-cli -p "$rp" --scan | grep -c k1)" -ge 1 ] || fail "no limiter key in Redis"
  ok "Redis period limit shared by two gateways: 20 of 30 admitted"
  # the workers' Redis clients are closed at shutdown, so both exit, cleanly (ASan: no leak)
  kill -TERM "$pid_gw1" "$pid_gw2"
  for _ in $(seq 100); do
    kill -0 "$pid_gw1" 2>/dev/null || kill -0 "$pid_gw2" 2>/dev/null || break
    sleep 0.1
  done
  wait "$pid_gw1"; rc1=$?; wait "$pid_gw2"; rc2=$?
  [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] ||
    fail "gateways with Redis limiters: exit $rc1 / $rc2 after SIGTERM"
  ok "gateways with Redis limiters stop on SIGTERM, exit 0"
else
  echo "skip: redis-server is not installed"
fi
echo "$passed passed, 0 failed"
