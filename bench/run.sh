#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `make bench`: the side-by-side HTTP benchmark. Starts czero's demo, nginx (`return 200`, one
# process) and a Go net/http server (GOMAXPROCS=1; plain, and wrapped in a go-zero-like chain),
# each pinned to one CPU, drives GET /hello on each with wrk pinned to the other CPU, and reads the
# server's own CPU time around each measured run. Writes req/s, p99, server CPU µs per request and
# the czero/peer ratios (with the acceptance verdict) to docs/benchmarks.md, followed by every line
# printed by the micro benchmarks <build>/bench_*. Also prints the result to stdout.
#
#   bash bench/run.sh <build-dir>
#
# Environment (defaults in brackets): BENCH_SECONDS [10] measured seconds per run, BENCH_CONNS [64]
# wrk connections, BENCH_WARMUP [2] warm-up seconds before each run, BENCH_ROUNDS [5] interleaved
# rounds (each column is the median), BENCH_PEERS ["nginx go go-chain czero"], BENCH_PROXY_PEERS
# ["nginx-proxy czero-gateway"] (the proxy workload; empty skips it), BENCH_SERVER_CPU [0],
# BENCH_CLIENT_CPU [1], BENCH_PORT_BASE [18180], BENCH_MICRO_TIMEOUT [60], BENCH_OUT
# [docs/benchmarks.md], BENCH_RAW [docs/bench-raw, git-ignored: raw wrk output], BENCH_KEEP_TMP [0],
# BENCH_NICE [0] nice level for servers and wrk (e.g. -10 as root, to cut the noise from other work
# on the machine; it takes CPU from that work while the bench runs), BENCH_STEAL_MAX [2] the
# most host steal (% of the two pinned CPUs' time over a run, from /proc/stat) a run may show
# before it is measured again, BENCH_STEAL_TRIES [3] tries per run (the last one counts anyway),
# BENCH_OVERLOAD [1] run the overload section (bench/overload.sh, its own BENCH_OVERLOAD_*
# variables; `make bench-overload` runs it alone and updates only its section), BENCH_BASELINE
# [unset] the build dir of another checkout: adds the peers czero@base and czero-gateway@base (that
# build's czero-demo and czero-gateway with the same configs) beside czero and czero-gateway, so
# one run measures before and after; their rows carry their own ratios to nginx / nginx-proxy.
#
# BENCH_TLS [1] runs the TLS section (bench/tls.sh: nginx-tls and czero-tls, keep-alive HTTPS and
# new connections per second; its own BENCH_TLS_* variables; `make bench-tls` runs it alone).
#
# Exit status: 0 when the document was written, even if the acceptance says FAIL or a peer could not
# be measured (the document says why); non-zero only when the harness itself cannot work.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "bench: $*" >&2; }

[ $# -eq 1 ] || die "usage: bash bench/run.sh <build-dir>"
mkdir -p "$1" || die "cannot create build dir $1"
BUILD=$(cd "$1" && pwd)

DURATION=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-64}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-5}
PEERS=${BENCH_PEERS:-nginx go go-chain czero}
PROXY_PEERS=${BENCH_PROXY_PEERS-nginx-proxy czero-gateway}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
PORT_BASE=${BENCH_PORT_BASE:-18180}
MICRO_TIMEOUT=${BENCH_MICRO_TIMEOUT:-60}
NICE=${BENCH_NICE:-0}
STEAL_MAX=${BENCH_STEAL_MAX:-2}
STEAL_TRIES=${BENCH_STEAL_TRIES:-3}
CLK_TCK=$(getconf CLK_TCK)
# The proxy workload's backends share wrk's CPU; they run 10 nice levels above wrk so an upstream
# request is served as soon as it arrives instead of waiting for wrk's time slice to end (that
# wait, not the proxy, would otherwise decide the proxies' p99).
BACKEND_NICE=${BENCH_BACKEND_NICE:-$((NICE - 10))}
[[ $NICE =~ ^-?[0-9]+$ ]] || die "BENCH_NICE must be an integer, got '$NICE'"
# With sched_autogroup the scheduler shares CPU between sessions first, so a nice level alone
# would only order this run's own processes; set the session's autogroup nice too (the session
# may be the caller's terminal: cleanup puts the old value back).
AUTOGROUP_NICE=
if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then
    AUTOGROUP_NICE=$(awk '{ print $NF }' /proc/self/autogroup)
    echo "$NICE" >/proc/self/autogroup 2>/dev/null || note "could not set autogroup nice $NICE"
fi
BASE_BUILD=
BASE_COMMIT=
if [ -n "${BENCH_BASELINE:-}" ]; then
    [ -d "$BENCH_BASELINE" ] || die "BENCH_BASELINE=$BENCH_BASELINE is not a directory"
    BASE_BUILD=$(cd "$BENCH_BASELINE" && pwd)
    [ "$BASE_BUILD" != "$BUILD" ] || note "BENCH_BASELINE is the build under test itself"
    BASE_COMMIT=$(git -C "$BASE_BUILD" rev-parse --short HEAD 2>/dev/null || echo unknown)
    # Each @base peer follows its current peer, only when that peer is run at all.
    add_base() {
        local p out=
        for p in $1; do
            out="$out $p"
            case $p in czero | czero-gateway) out="$out $p@base" ;; esac
        done
        echo "${out# }"
    }
    PEERS=$(add_base "$PEERS")
    PROXY_PEERS=$(add_base "$PROXY_PEERS")
fi
OUT=${BENCH_OUT:-$REPO/docs/benchmarks.md}
RAW=${BENCH_RAW:-$REPO/docs/bench-raw}
for v in DURATION CONNS WARMUP ROUNDS SERVER_CPU CLIENT_CPU PORT_BASE MICRO_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
if [ "$DURATION" -lt 1 ] || [ "$CONNS" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
    die "BENCH_SECONDS, BENCH_CONNS and BENCH_ROUNDS must be >= 1"
fi

for tool in wrk curl taskset awk timeout; do
    command -v "$tool" >/dev/null || die "$tool is not installed (run scripts/deps.sh)"
done
NPROC=$(nproc)
if [ "$NPROC" -lt 2 ]; then
    note "only $NPROC CPU: server and wrk share CPU 0, numbers include wrk's load"
    SERVER_CPU=0 CLIENT_CPU=0
fi

# The parser and table writer are checked first: a broken parser would write a wrong document.
bash "$HERE/selftest.sh" >/dev/null || die "bench/selftest.sh failed: the harness is broken"

TMP=$(mktemp -d /tmp/czero-bench.XXXXXX)
RESULTS=$TMP/results.tsv
: >"$RESULTS"
mkdir -p "$RAW"
declare -A PID PORT
STARTED=()

# kill -0 would still succeed on an exited, not yet reaped server (a zombie), so read its state.
alive() {
    local state
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' /proc/"$1"/stat 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# A pid and all its descendants, parents first.
tree_pids() {
    local c
    echo "$1"
    # shellcheck disable=SC2013  # the children files hold space-separated pids, not lines
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
# shellcheck disable=SC2317  # used by cleanup, called by the EXIT trap
any_alive() {
    local q
    for q in "$@"; do alive "$q" && return 0; done
    return 1
}

# Stops every server this run started, with the processes it forked (by pid, TERM then KILL).
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local p pids=()
    if [ -n "${WRK_PID:-}" ]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi
    for p in "${STARTED[@]}"; do
        # Collect descendants before signalling: once their parent exits they are re-parented.
        mapfile -t -O "${#pids[@]}" pids < <(tree_pids "${PID[$p]}")
    done
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            any_alive "${pids[@]}" || break
            sleep 0.2
        done
        for p in "${pids[@]}"; do
            if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
        done
        for p in "${STARTED[@]}"; do wait "${PID[$p]}" 2>/dev/null || true; done
    fi
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    if [ -n "$AUTOGROUP_NICE" ]; then echo "$AUTOGROUP_NICE" >/proc/self/autogroup 2>/dev/null; fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Records why a peer was not measured; the reason goes into a table cell, so one line, no '|'.
skip() {
    local why
    why=$(printf '%s' "$2" | tr '\n\t|' '  /' | tr -s ' ' | cut -c1-200)
    printf '%s\tskip\t%s\n' "$1" "$why" >>"$RESULTS"
    note "$1: not measured: $why"
}

# Sets FREE_PORT to a port nothing listens on (bash's /dev/tcp connect fails) that no earlier
# peer of this run was given. Not called as $(free_port): a subshell would lose NEXT_PORT.
NEXT_PORT=$PORT_BASE
FREE_PORT=
free_port() {
    while (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    FREE_PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

find_nginx() {
    command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

# Builds bench/go/hello.go offline with the standard library only; caches live under the build dir.
build_go() {
    local bin=$BUILD/bench-go/go-hello
    if [ ! -x "$bin" ] || [ "$HERE/go/hello.go" -nt "$bin" ]; then
        mkdir -p "$BUILD/bench-go"
        (cd "$HERE/go" && GOFLAGS=-mod=mod GOCACHE=$BUILD/bench-go/cache \
            GOPATH=$BUILD/bench-go/path GOTOOLCHAIN=local GOPROXY=off GO111MODULE=on \
            go build -o "$bin" hello.go) >"$TMP/go-build.log" 2>&1 || return 1
    fi
    echo "$bin"
}

# Starts one peer pinned to SERVER_CPU in the background; records PID/PORT or a skip reason.
start_peer() {
    local peer=$1 port dir bin from=$BUILD
    dir=$TMP/$peer
    case $peer in
    *@base) from=$BASE_BUILD ;;
    esac
    mkdir -p "$dir"
    free_port
    port=$FREE_PORT
    case $peer in
    nginx)
        bin=$(find_nginx)
        [ -n "$bin" ] || { skip "$peer" "nginx not installed"; return 0; }
        sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" "$HERE/nginx.conf.in" >"$dir/nginx.conf"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" -p "$dir" \
            -c "$dir/nginx.conf" -e "$dir/error.log") >"$dir/stdout.log" 2>&1 &
        ;;
    go | go-chain)
        command -v go >/dev/null || { skip "$peer" "go not installed"; return 0; }
        if ! bin=$(build_go); then
            skip "$peer" "go build failed: $(tail -1 "$TMP/go-build.log")"
            return 0
        fi
        local chain=()
        [ "$peer" = go-chain ] && chain=(-chain -log "$dir/access.log")
        (cd "$dir" && GOMAXPROCS=1 exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" \
            -addr "127.0.0.1:$port" "${chain[@]}") >"$dir/stdout.log" 2>&1 &
        ;;
    czero | czero@base)
        bin=$from/czero-demo
        [ -x "$bin" ] || { skip "$peer" "czero-demo not built in $from"; return 0; }
        mkdir -p "$dir/logs"
        sed -e "s|^Host:.*|Host: 127.0.0.1|" -e "s|^Port:.*|Port: $port|" \
            -e "s|^\([[:space:]]*Path:\).*|\1 $dir/logs|" \
            "$HERE/czero-bench.yaml" >"$dir/czero.yaml"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" -f "$dir/czero.yaml") \
            >"$dir/stdout.log" 2>&1 &
        ;;
    nginx-proxy)
        bin=$(find_nginx)
        [ -n "$bin" ] || { skip "$peer" "nginx not installed"; return 0; }
        [ -n "$BACKENDS" ] || { skip "$peer" "the backends did not start"; return 0; }
        fill_backends "$HERE/nginx-proxy.conf.in" | sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" \
            >"$dir/nginx.conf"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" -p "$dir" \
            -c "$dir/nginx.conf" -e "$dir/error.log") >"$dir/stdout.log" 2>&1 &
        ;;
    czero-gateway | czero-gateway@base)
        bin=$from/czero-gateway
        [ -x "$bin" ] || { skip "$peer" "czero-gateway not built in $from"; return 0; }
        [ -n "$BACKENDS" ] || { skip "$peer" "the backends did not start"; return 0; }
        mkdir -p "$dir/logs"
        fill_backends "$HERE/czero-gateway-bench.yaml" |
            sed -e "s|^Host:.*|Host: 127.0.0.1|" -e "s|^Port:.*|Port: $port|" \
                -e "s|^\([[:space:]]*Path:\).*|\1 $dir/logs|" >"$dir/gateway.yaml"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SERVER_CPU" "$bin" -f "$dir/gateway.yaml") \
            >"$dir/stdout.log" 2>&1 &
        ;;
    *)
        skip "$peer" "unknown peer (known: nginx go go-chain czero nginx-proxy czero-gateway)"
        return 0
        ;;
    esac
    PID[$peer]=$!
    PORT[$peer]=$port
    STARTED+=("$peer")
    if ! wait_ready "$peer"; then
        skip "$peer" "did not start: $(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null |
            tail -c 200)"
        unset "PORT[$peer]"
        return 0
    fi
    check_answer "$peer" || unset "PORT[$peer]"
}

# The proxy workload's three backends: one nginx process listening on three ports, pinned to wrk's
# CPU (the same load for every proxy peer; only the proxy's CPU is measured). Sets BACKENDS to
# "port1 port2 port3", or leaves it empty (the proxy peers are then skipped with the reason).
B=()
fill_backends() { sed -e "s|@B1@|${B[0]}|g" -e "s|@B2@|${B[1]}|g" -e "s|@B3@|${B[2]}|g" "$1"; }
start_backends() {
    local bin dir=$TMP/backends _
    bin=$(find_nginx)
    [ -n "$bin" ] || { note "nginx not installed: no backends for the proxy workload"; return 0; }
    mkdir -p "$dir"
    for _ in 1 2 3; do free_port; B+=("$FREE_PORT"); done
    fill_backends "$HERE/nginx-backends.conf.in" | sed -e "s|@DIR@|$dir|g" >"$dir/nginx.conf"
    (cd "$dir" && exec nice -n "$BACKEND_NICE" taskset -c "$CLIENT_CPU" "$bin" -p "$dir" \
        -c "$dir/nginx.conf" -e "$dir/error.log") >"$dir/stdout.log" 2>&1 &
    PID[backends]=$!
    STARTED+=(backends)
    for _ in $(seq 1 50); do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:${B[2]}/hello"; then
            BACKENDS="${B[*]}"
            return 0
        fi
        sleep 0.1
    done
    note "backends did not start: $(tail -c 200 "$dir/error.log" 2>/dev/null)"
}

wait_ready() {
    local _ url=http://127.0.0.1:${PORT[$1]}/hello
    for _ in $(seq 1 100); do
        alive "${PID[$1]}" || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# The peer must answer 200, application/json and exactly {"message":"hello"} before it is measured.
check_answer() {
    local peer=$1 dir=$TMP/$1 code ctype body
    code=$(curl -s --max-time 2 -D "$dir/headers" -o "$dir/body" -w '%{http_code}' \
        "http://127.0.0.1:${PORT[$peer]}/hello") || code=000
    ctype=$(awk -F': *' 'tolower($1) == "content-type" { sub(/\r$/, "", $2); print $2 }' \
        "$dir/headers" 2>/dev/null)
    body=$(cat "$dir/body" 2>/dev/null || true)
    if [ "$code" != 200 ] || [[ $ctype != application/json* ]] ||
        [ "$body" != '{"message":"hello"}' ]; then
        skip "$peer" "wrong answer: status $code, Content-Type '$ctype', body '${body:0:60}'"
        return 1
    fi
}

# Server CPU in ns: the sum over the process tree of every thread's on-CPU time from schedstat
# (ns resolution); /proc/<pid>/stat utime+stime (clock ticks, includes exited threads) otherwise.
if [ -r /proc/self/schedstat ]; then CPU_METHOD=schedstat; else CPU_METHOD=stat; fi
CLK_TCK=$(getconf CLK_TCK)
cpu_ns() {
    local p total=0 v
    for p in $(tree_pids "$1"); do
        if [ "$CPU_METHOD" = schedstat ]; then
            v=$(cat /proc/"$p"/task/*/schedstat 2>/dev/null |
                awk '{ s += $1 } END { printf "%.0f", s }')
        else
            v=$(awk -v hz="$CLK_TCK" \
                '{ sub(/^.*\) /, ""); printf "%.0f", ($12 + $13) * 1e9 / hz }' \
                /proc/"$p"/stat 2>/dev/null)
        fi
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# wrk pinned to CLIENT_CPU, in the background so that `wait` returns at once on INT/TERM (bash
# would otherwise run the trap only after a foreground wrk ends); cleanup stops it.
WRK_PID=
run_wrk() {
    local out=$1 rc=0
    shift
    nice -n "$NICE" taskset -c "$CLIENT_CPU" wrk "$@" >"$out" 2>&1 &
    WRK_PID=$!
    wait "$WRK_PID" || rc=$?
    WRK_PID=
    return "$rc"
}

# Ticks the hypervisor took from the two pinned CPUs (the steal column of /proc/stat).
steal_ticks() {
    awk -v a="cpu$SERVER_CPU" -v b="cpu$CLIENT_CPU" '$1 == a || $1 == b { s += $9 }
        END { print s + 0 }' /proc/stat
}

# One measured round: warm-up, CPU before, wrk, CPU after; appends a results line. A run during
# which the host took more than STEAL_MAX % of the pinned CPUs is measured again (a VM's
# neighbours stall both server and wrk for milliseconds, which is what the p99 of a 10 s run
# shows), up to STEAL_TRIES times; the steal of the run that counts is in the results.
measure() {
    local peer=$1 round=$2 url=http://127.0.0.1:${PORT[$1]}/hello raw c0 c1 s0 s1 steal try
    raw=$RAW/$peer-$round.txt
    for ((try = 1; try <= STEAL_TRIES; try++)); do
        if [ "$WARMUP" -gt 0 ]; then
            run_wrk /dev/null -t1 -c"$CONNS" -d"${WARMUP}s" "$url" || true
        fi
        c0=$(cpu_ns "${PID[$peer]}")
        s0=$(steal_ticks)
        if ! run_wrk "$raw" -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url"; then
            note "$peer round $round: wrk failed: $(tail -1 "$raw")"
        fi
        s1=$(steal_ticks)
        c1=$(cpu_ns "${PID[$peer]}")
        # The run's access log is emptied (every peer appends, O_APPEND) before the kernel's
        # 30 s write-back would flush it to disk during a later peer's run: that I/O and its
        # kernel CPU landed on whichever peer ran then. Writing the log stays in every run.
        find "$TMP/$peer" -name '*.log' -type f -size +1M -exec truncate -s 0 {} + 2>/dev/null || true
        steal=$(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" -v d="$DURATION" \
            'BEGIN { printf "%.1f", t / hz / (2 * d) * 100 }')
        awk -v s="$steal" -v m="$STEAL_MAX" 'BEGIN { exit !(s + 0 > m + 0) }' || break
        [ "$try" -lt "$STEAL_TRIES" ] && note "$peer round $round: host steal $steal % > $STEAL_MAX %, measuring again"
    done
    if ! alive "${PID[$peer]}"; then
        skip "$peer" "server exited during round $round: $(tail -c 200 "$TMP/$peer/stdout.log")"
        unset "PORT[$peer]"
        return 0
    fi
    local req rps p99 errs secs
    IFS=$'\t' read -r req rps p99 errs secs < <(awk -f "$HERE/parse_wrk.awk" "$raw")
    printf '%s\trun\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$peer" "$round" "$req" "$rps" "$p99" \
        "$((c1 - c0))" "$errs" "$secs" "$steal" >>"$RESULTS"
    note "$peer round $round: $rps req/s, p99 $p99 µs, $errs errors, cpu $(awk -v c=$((c1 - c0)) \
        -v n="$req" 'BEGIN { if (n > 0) printf "%.2f", c / n / 1000; else printf "-" }') µs/req"
}

version_of() {
    case $1 in
    nginx) { b=$(find_nginx); [ -n "$b" ] && "$b" -v 2>&1 | sed 's|^nginx version: nginx/||'; } ||
        echo none ;;
    go) go version 2>/dev/null | awk '{ sub(/^go/, "", $3); print $3 }' || echo none ;;
    wrk) wrk -v 2>&1 | head -1 | awk '{ print $2 }' ;;
    esac
}

T0=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
note "server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; ${ROUNDS} x (${WARMUP}s warm-up +" \
    "${DURATION}s) per peer, $CONNS connections"
BACKENDS=
[ -n "$PROXY_PEERS" ] && start_backends
for peer in $PEERS $PROXY_PEERS; do start_peer "$peer"; done
MEASURED=()
for peer in $PEERS $PROXY_PEERS; do
    if [ -n "${PORT[$peer]:-}" ]; then MEASURED+=("$peer"); fi
done
# Even rounds run the peers in reverse order, so no peer always follows the same one (a peer
# right after another inherits its after-effects: dirty log pages being written back, a backend
# pool just left warm) and drift within a round weighs on every peer alike.
for round in $(seq 1 "$ROUNDS"); do
    ORDER=("${MEASURED[@]}")
    if [ $((round % 2)) = 0 ]; then
        ORDER=()
        for ((i = ${#MEASURED[@]} - 1; i >= 0; i--)); do ORDER+=("${MEASURED[$i]}"); done
    fi
    for peer in "${ORDER[@]}"; do
        if [ -n "${PORT[$peer]:-}" ]; then measure "$peer" "$round"; fi
    done
done

LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

# The overload section (bench/overload.sh): goodput with the shedder on and off at 2x capacity.
OVERLOAD_MD=$TMP/overload.md
: >"$OVERLOAD_MD"
if [ "${BENCH_OVERLOAD:-1}" = 1 ]; then
    BENCH_SERVER_CPU=$SERVER_CPU BENCH_CLIENT_CPU=$CLIENT_CPU bash "$HERE/overload.sh" "$BUILD" \
        >"$OVERLOAD_MD" || echo "(bench/overload.sh failed: see the bench's stderr)" >"$OVERLOAD_MD"
fi

# The TLS section (bench/tls.sh): keep-alive HTTPS and handshakes per second against nginx ssl.
TLS_MD=$TMP/tls.md
: >"$TLS_MD"
if [ "${BENCH_TLS:-1}" != 0 ]; then
    BENCH_SERVER_CPU=$SERVER_CPU BENCH_CLIENT_CPU=$CLIENT_CPU BENCH_SECONDS=$DURATION \
        BENCH_WARMUP=$WARMUP BENCH_ROUNDS=$ROUNDS BENCH_CONNS=$CONNS BENCH_NICE=$NICE \
        BENCH_RAW=$RAW bash "$HERE/tls.sh" "$BUILD" >"$TLS_MD" ||
        echo "(bench/tls.sh failed: see the bench's stderr)" >>"$TLS_MD"
fi

# Micro benchmarks: every line each <build>/bench_* prints. Not pinned: some measure two threads
# contending on purpose (bench_core's _2t lines).
MICRO=$TMP/micro.md
: >"$MICRO"
shopt -s nullglob
for b in "$BUILD"/bench_*; do
    if [ ! -f "$b" ] || [ ! -x "$b" ]; then continue; fi
    name=$(basename "$b")
    rc=0
    timeout "$MICRO_TIMEOUT" "$b" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    {
        echo "### $name"
        echo
        echo '```'
        cat "$TMP/$name.out"
        echo '```'
        if [ "$rc" = 124 ]; then
            echo; echo "(stopped after the ${MICRO_TIMEOUT} s timeout; lines above are partial)"
        elif [ "$rc" != 0 ]; then
            echo; echo "(exited with status $rc: $(tail -1 "$TMP/$name.err"))"
        fi
        echo
    } >>"$MICRO"
done
[ -s "$MICRO" ] || echo "No micro benchmark executables (bench_*) in $BUILD." >"$MICRO"

# Each workload's rows go to its own table (a peer belongs to exactly one list).
rows_of() { awk -F'\t' -v list="$1" 'BEGIN { n = split(list, l, " "); for (i = 1; i <= n; i++) want[l[i]] = 1 }
    ($1 in want)' "$RESULTS"; }
TABLE=$(rows_of "$PEERS" | awk -v peers="$PEERS" -f "$HERE/report.awk") || die "report.awk failed"
PTABLE=
if [ -n "$PROXY_PEERS" ]; then
    PTABLE=$(rows_of "$PROXY_PEERS" | awk -v peers="$PROXY_PEERS" -v subject=czero-gateway \
        -v base=nginx-proxy -f "$HERE/report.awk") || die "report.awk failed"
fi
ELAPSED=$(($(date +%s) - T0))
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)

mkdir -p "$(dirname "$OUT")"
{
    echo "# czero benchmarks"
    echo
    echo "Generated by \`make bench\` (\`bash bench/run.sh $1\`); do not edit by hand."
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); czero commit $COMMIT; harness took ${ELAPSED} s"
    echo "- Machine: $NPROC CPUs, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r);" \
        "load average $LOADAVG at start, $LOADAVG_END after the HTTP runs (anything else running" \
        "on the machine shows up as noise)"
    echo "- Versions: nginx $(version_of nginx), go $(version_of go), wrk $(version_of wrk)"
    if [ -n "$BASE_BUILD" ]; then
        echo "- Baseline (BENCH_BASELINE): the @base rows run $BASE_BUILD (commit $BASE_COMMIT)" \
            "with the same configs, measured in the same rounds as the current build"
    fi
    echo
    echo "## HTTP: GET /hello"
    echo
    echo "Each server runs pinned to CPU $SERVER_CPU (\`taskset -c $SERVER_CPU\`), wrk to CPU" \
        "$CLIENT_CPU, both at nice $NICE. Per peer and round: ${WARMUP} s warm-up, then" \
        "\`wrk -t1 -c$CONNS -d${DURATION}s --latency\`; $ROUNDS round(s), peers interleaved" \
        "(in reverse order on even rounds), each column is the median over the rounds. Server" \
        "CPU is the server's own CPU time over the measured run ($CPU_METHOD: all threads of" \
        "the process tree) divided by the requests wrk completed; server CPU % is the same" \
        "time over wrk's run length (100 % = one core saturated, so lower means wrk or the" \
        "machine was the limit). p99 is from wrk's latency distribution. A run during which" \
        "the hypervisor took more than $STEAL_MAX % of the two pinned CPUs (steal, /proc/stat)" \
        "is measured again, up to $STEAL_TRIES tries; the per-round list gives each counted" \
        "run's steal. Each peer's access log is emptied after its run, so the kernel's" \
        "write-back of one run's log does not fall into another peer's run."
    echo
    echo "- nginx: \`return 200\` with the same JSON, one process (master_process off)," \
        "access log to a file with a 64 KiB buffer (bench/nginx.conf.in)."
    echo "- go: Go net/http, GOMAXPROCS=1, bare handler (bench/go/hello.go)."
    echo "- go-chain: the same, wrapped in a go-zero-like default chain: trace ids, JSON" \
        "access log to a file, counters/histogram, max-conns, breaker, shedding," \
        "http.TimeoutHandler, recover, metrics, MaxBytesReader, gunzip check (\`hello -chain\`)."
    echo "- czero: \`czero-demo -f bench/czero-bench.yaml\` (Workers: 1, JSON access log to a" \
        "file, every Middlewares switch on as in go-zero's defaults; the row measures as much of" \
        "that chain as the demo implements at this commit)."
    echo
    echo "$TABLE"
    echo
    if [ -n "$PROXY_PEERS" ]; then
        echo "## Proxy: GET /hello through a reverse proxy to three backends"
        echo
        echo "Same method and pinning as above; the measured server is the proxy. The three" \
            "backends are one nginx process listening on three ports (bench/nginx-backends.conf.in)," \
            "pinned to wrk's CPU $CLIENT_CPU, so they load both proxies alike and are not counted."
        echo
        echo "- nginx-proxy: nginx, one process, \`proxy_pass\` to an upstream of the three" \
            "backends (round robin) with \`keepalive 64\`, HTTP/1.1 upstream, X-Forwarded-* and" \
            "X-Request-Id set, the same JSON access log (bench/nginx-proxy.conf.in)."
        echo "- czero-gateway: \`czero-gateway -f bench/czero-gateway-bench.yaml\`: one worker," \
            "the whole default middleware chain, JSON access log to a file, p2c_ewma over the three" \
            "backends with an upstream keep-alive pool."
        echo
        echo "$PTABLE"
        echo
    fi
    if [ -s "$TLS_MD" ]; then cat "$TLS_MD"; fi
    if [ -s "$OVERLOAD_MD" ]; then cat "$OVERLOAD_MD"; fi
    echo "## Micro benchmarks"
    echo
    echo "Every line printed by each \`$1/bench_*\` (not pinned, ${MICRO_TIMEOUT} s timeout" \
        "each), run after the HTTP table on the same machine."
    echo
    cat "$MICRO"
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

echo
echo "$TABLE"
echo
if [ -n "$PTABLE" ]; then echo "$PTABLE"; echo; fi
if [ -s "$TLS_MD" ]; then grep -E '^### |^\| |^\*\*Acceptance' "$TLS_MD"; echo; fi
if [ -s "$OVERLOAD_MD" ]; then grep -E '^\| |^Goodput' "$OVERLOAD_MD"; echo; fi
grep -v '^```' "$MICRO" | grep -v '^$' || true
echo
echo "bench: wrote $OUT (raw wrk output in $RAW) in ${ELAPSED} s"
[ ${#MEASURED[@]} -gt 0 ] || die "no server could be measured"
exit 0
