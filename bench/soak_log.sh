#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The access-log soak: the demo with Log.Mode file under wrk (GET /hello, -c64) for a while,
# then what the log writer dropped (czero_log_dropped_lines_total on the dev listener) against
# the requests wrk completed and the lines access.log holds. Not part of `make bench`; run it
# by hand after touching the log writer: `bash bench/soak_log.sh build [seconds]`.
# Environment: SOAK_PORT [18931] (the dev listener takes the next port), SOAK_CONNS [64].
set -euo pipefail
BUILD=${1:-build}
DUR=${2:-60}
PORT=${SOAK_PORT:-18931}
DEV=$((PORT + 1))
CONNS=${SOAK_CONNS:-64}
TMP=$(mktemp -d /tmp/czsoak-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/soak.yaml" <<YAML
Name: demo
Host: 127.0.0.1
Port: $PORT
Log:
  Mode: file
  Path: $TMP/logs
  Encoding: json
Auth:
  AccessSecret: soak-secret-soak-secret-soak-secret
  AccessExpire: 86400
DevServer:
  Enabled: true
  Host: 127.0.0.1
  Port: $DEV
YAML
"$BUILD/czero-demo" -f "$TMP/soak.yaml" > "$TMP/demo.out" 2>&1 &
PID=$!
sleep 1
wrk -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$PORT/hello" > "$TMP/wrk.out"
sleep 1
dropped=$(curl -s "127.0.0.1:$DEV/metrics" | awk '$1 == "czero_log_dropped_lines_total" {print $2}')
kill -TERM "$PID"
wait "$PID" || true
requests=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
lines=$(grep -c 'GET /hello' "$TMP/logs/access.log" || true)
echo "requests (wrk): $requests"
echo "access lines:   $lines"
echo "dropped:        ${dropped:-?}"
grep -h "lines dropped" "$TMP/logs/error.log" | tail -3 || true
