#!/usr/bin/env bash
# make run-gateway: three demo instances and czero-gateway (etc/gateway.yaml) in the foreground.
#
#   scripts/run-gateway.sh [BUILD]               start all four; Ctrl-C or SIGTERM stops them
#   scripts/run-gateway.sh [BUILD] instance N    start demo-N again (after it was killed), in
#                                                the foreground of this terminal
#
# Ports, from the environment: GATEWAY_PORT (8080), GATEWAY_DEV_PORT (6070: the gateway's
# /metrics and /healthz), DEMO_PORTS ("8001 8002 8003"), DEMO_DEV_PORTS ("6061 6062 6063").
# They reach etc/gateway.yaml and etc/demo-peers.yaml as GATEWAY_PORT, GATEWAY_DEV_PORT and
# DEMO_PORT_1..3; the banner prints the ports in use and each process's pid.
# Each instance's pid is in RUN_DIR (default BUILD/run-gateway)/demo-N.pid, so one instance can
# be killed (kill $(cat build/run-gateway/demo-2.pid)) while the gateway and the other two keep
# serving, and started again with `instance N`. Only the gateway's exit (czero-gateway -s stop,
# a crash) or Ctrl-C stops everything. If one of the four cannot start (a port in use, say), all
# are stopped and the script exits 1.
# The instances read etc/demo-peers.yaml, whose Upstreams name the three of them as `peers`:
# /relay/hello through the gateway shows one instance calling another.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
export GATEWAY_PORT=${GATEWAY_PORT:-8080} GATEWAY_DEV_PORT=${GATEWAY_DEV_PORT:-6070}
read -r -a ports <<< "${DEMO_PORTS:-8001 8002 8003}"
read -r -a devs <<< "${DEMO_DEV_PORTS:-6061 6062 6063}"
if [ ${#ports[@]} != 3 ] || [ ${#devs[@]} != 3 ]; then
  echo "run-gateway: DEMO_PORTS and DEMO_DEV_PORTS take three ports each" \
       "(etc/gateway.yaml names three instances)" >&2
  exit 2
fi
export DEMO_PORT_1=${ports[0]} DEMO_PORT_2=${ports[1]} DEMO_PORT_3=${ports[2]}
RUN_DIR=${RUN_DIR:-$BUILD/run-gateway}
mkdir -p "$RUN_DIR"

# instance N: exec demo-N (the caller's process becomes it, so its pid file names it)
instance() {
  local i=$1
  echo "$BASHPID" > "$RUN_DIR/demo-$i.pid"
  DEMO_DEV_PORT=${devs[i - 1]} exec "$BUILD/czero-demo" -f etc/demo-peers.yaml \
    -p "${ports[i - 1]}" -n "demo-$i"
}

if [ "${2:-}" = instance ]; then
  case ${3:-} in
    1|2|3) instance "$3" ;;
    *) echo "usage: $0 [BUILD] instance 1|2|3" >&2; exit 2 ;;
  esac
fi

pids=()
# the pid in a pid file when it still runs czero-demo (a restarted instance is not our child)
demo_pid() {
  local p
  p=$(cat "$1" 2>/dev/null) || return 1
  [ "$(cat "/proc/$p/comm" 2>/dev/null)" = czero-demo ] && echo "$p"
}
stop() {
  trap - INT TERM EXIT
  local f p others=()
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for f in "$RUN_DIR"/demo-*.pid; do
    if p=$(demo_pid "$f") && [[ " ${pids[*]} " != *" $p "* ]]; then
      kill -TERM "$p" 2>/dev/null && others+=("$p")
    fi
    rm -f "$f"
  done
  wait # our children; an instance started again elsewhere is polled
  for p in "${others[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  exit "${1:-0}"
}
trap 'stop 0' INT TERM
trap 'stop $?' EXIT

for i in 1 2 3; do
  (instance "$i") &
  pids+=($!)
done
"$BUILD/czero-gateway" -f etc/gateway.yaml &
gw=$!
pids+=($gw)

# up NAME PID URL: wait until URL answers; the process exiting first is a failed start
up() {
  for _ in $(seq 200); do
    curl -s -o /dev/null "$3" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "run-gateway: $1 did not start (its error is above); stopping all" >&2
  stop 1
}
for i in 1 2 3; do
  up "demo-$i" "${pids[i - 1]}" "http://127.0.0.1:${ports[i - 1]}/hello"
done
up gateway "$gw" "http://127.0.0.1:$GATEWAY_DEV_PORT/healthz"
# a program already on a port answers the check while ours fails on it: all four must live on
sleep 0.3
for i in 0 1 2 3; do
  kill -0 "${pids[i]}" 2>/dev/null && continue
  echo "run-gateway: $([ "$i" = 3 ] && echo gateway || echo "demo-$((i + 1))") did not start" \
       "(its error is above); stopping all" >&2
  stop 1
done

cat <<EOF
run-gateway: gateway http://127.0.0.1:$GATEWAY_PORT (pid $gw; /metrics, /healthz on 127.0.0.1:$GATEWAY_DEV_PORT)
run-gateway: demo-1 http://127.0.0.1:${ports[0]} (pid ${pids[0]}; dev 127.0.0.1:${devs[0]})
run-gateway: demo-2 http://127.0.0.1:${ports[1]} (pid ${pids[1]}; dev 127.0.0.1:${devs[1]})
run-gateway: demo-3 http://127.0.0.1:${ports[2]} (pid ${pids[2]}; dev 127.0.0.1:${devs[2]})
run-gateway: try curl -i http://127.0.0.1:$GATEWAY_PORT/hello, or /relay/hello (one instance calling another)
run-gateway: kill one instance: kill \$(cat $RUN_DIR/demo-2.pid); start it again: scripts/run-gateway.sh $BUILD instance 2
run-gateway: reload the gateway: $BUILD/czero-gateway -s reload; stop all: Ctrl-C or $BUILD/czero-gateway -s stop
EOF
# Only the gateway's end stops the rest: an instance that dies is the gateway's to route around.
while :; do
  wait "$gw"
  rc=$?
  kill -0 "$gw" 2>/dev/null || break # else a trapped signal interrupted wait
done
stop "$rc"
