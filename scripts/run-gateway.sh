#!/usr/bin/env bash
# make run-gateway: three demo instances on 127.0.0.1:8001-8003 and czero-gateway on
# 127.0.0.1:8080 (etc/gateway.yaml), in the foreground; Ctrl-C or SIGTERM stops all four.
# The instances read etc/demo-peers.yaml, whose Upstreams name the three of them as `peers`:
# /relay/hello through the gateway shows one instance calling another.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait
  exit 0
}
trap stop INT TERM EXIT
for i in 1 2 3; do
  DEMO_DEV_PORT=$((6060 + i)) "./$BUILD/czero-demo" -f etc/demo-peers.yaml -p "800$i" -n "demo-$i" &
  pids+=($!)
done
"./$BUILD/czero-gateway" -f etc/gateway.yaml &
pids+=($!)
echo "gateway on http://127.0.0.1:8080 (try: curl -i http://127.0.0.1:8080/hello, or"
echo "/relay/hello: one instance calling another); Ctrl-C stops"
# Any of the four exiting (a port in use, say) stops the others.
wait -n
stop
