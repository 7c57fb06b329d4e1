#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The TLS section of `make bench` (issue 14): czero's TLS listener side by side with nginx's
# `listen ... ssl`, same certificate, same ciphers, one worker, same access log. Three workloads,
# each with the server's CPU per request or connection from /proc:
#   keep-alive  HTTPS GET /hello over wrk's keep-alive connections (wrk https://...)
#   full        new connections per second, each a full handshake (czero-tls-handshake -m full)
#   resumed     the same, each resuming the slot's previous session ticket (-m resume)
# Acceptance: keep-alive CPU per request czero-tls/nginx-tls <= 1.00; handshakes per second per
# core (1e6 / server CPU µs per connection) czero-tls/nginx-tls >= 0.90, full and resumed.
#
#   bash bench/tls.sh <build-dir> [out.md]
#
# Prints the section's Markdown; with out.md it also replaces the "## TLS" section of that file
# (docs/benchmarks.md) in place, so `make bench-tls` keeps the rest of the document. Method as in
# bench/run.sh: servers pinned to BENCH_SERVER_CPU, clients to BENCH_CLIENT_CPU, a warm-up before
# each measured run, peers interleaved (reversed on even rounds), medians over the rounds, a run
# with more host steal than BENCH_STEAL_MAX % measured again (up to BENCH_STEAL_TRIES tries).
# Environment (defaults in brackets): BENCH_SECONDS [10], BENCH_WARMUP [2], BENCH_ROUNDS [5],
# BENCH_CONNS [64] wrk connections, BENCH_TLS_CONNS [32] handshake slots, BENCH_TLS_PEERS
# ["nginx-tls czero-tls"], BENCH_TLS_PORT [18380], BENCH_SERVER_CPU [0], BENCH_CLIENT_CPU [1],
# BENCH_NICE [0], BENCH_STEAL_MAX [2], BENCH_STEAL_TRIES [3], BENCH_RAW [docs/bench-raw],
# BENCH_KEEP_TMP [0], BENCH_BASELINE [none] the build dir of another checkout: adds the peer
# czero-tls@base (its czero-demo, same config).
#
# Exit status: 0 when the section was written, even if the acceptance says FAIL or czero-tls could
# not be measured (the section says why); 2 when the harness cannot work or no peer was measured.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
die() { echo "tls: $*" >&2; exit 2; }
note() { echo "tls: $*" >&2; }
[ $# -ge 1 ] || die "usage: bash bench/tls.sh <build-dir> [out.md]"
BUILD=$(cd "$1" && pwd) || die "no build dir $1"
OUTDOC=${2:-}
DURATION=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
ROUNDS=${BENCH_ROUNDS:-5}
CONNS=${BENCH_CONNS:-64}
HSCONNS=${BENCH_TLS_CONNS:-32}
PEERS=${BENCH_TLS_PEERS:-nginx-tls czero-tls}
PORT_BASE=${BENCH_TLS_PORT:-18380}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
NICE=${BENCH_NICE:-0}
STEAL_MAX=${BENCH_STEAL_MAX:-2}
STEAL_TRIES=${BENCH_STEAL_TRIES:-3}
RAW=${BENCH_RAW:-$REPO/docs/bench-raw}
for v in DURATION WARMUP ROUNDS CONNS HSCONNS PORT_BASE SCPU CCPU STEAL_TRIES; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, got '${!v}'"
done
[[ $NICE =~ ^-?[0-9]+$ ]] || die "BENCH_NICE must be an integer, got '$NICE'"
if [ "$DURATION" -lt 1 ] || [ "$ROUNDS" -lt 1 ] || [ "$CONNS" -lt 1 ] || [ "$HSCONNS" -lt 1 ]; then
    die "BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNS and BENCH_TLS_CONNS must be >= 1"
fi
if [ -n "${BENCH_BASELINE:-}" ]; then PEERS="$PEERS czero-tls@base"; fi
[ "$(nproc)" -ge 2 ] || { note "one CPU: servers and clients share CPU 0"; SCPU=0 CCPU=0; }
for tool in wrk curl openssl taskset awk; do
    command -v "$tool" >/dev/null || die "$tool is not installed (run scripts/deps.sh)"
done
HS=$BUILD/czero-tls-handshake
[ -x "$HS" ] || die "no $HS (cmake --build $1 --target czero-tls-handshake)"
NGINX=$(command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
CLK_TCK=$(getconf CLK_TCK)
# The parsers and the table writer are checked first, as bench/run.sh does (cheap; run alone by
# `make bench-tls` nothing else would check them).
bash "$HERE/selftest.sh" >/dev/null || die "bench/selftest.sh failed: the harness is broken"
if [ -r /proc/self/schedstat ]; then CPU_METHOD=schedstat; else CPU_METHOD=stat; fi

TMP=$(mktemp -d /tmp/czero-tls-bench.XXXXXX)
mkdir -p "$RAW"
declare -A PID PORT
STARTED=()
CLIENT_PID=

# The helpers below are bench/run.sh's (same names, same behaviour): alive, tree_pids, cpu_ns,
# steal_ticks, free_port; run.sh is one script with its own main, so they are repeated here.
alive() {
    local state
    state=$(awk '{ sub(/^.*\) /, ""); print $1 }' /proc/"$1"/stat 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
tree_pids() {
    local c
    echo "$1"
    # shellcheck disable=SC2013  # the children files hold space-separated pids, not lines
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
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
steal_ticks() {
    awk -v a="cpu$SCPU" -v b="cpu$CCPU" '$1 == a || $1 == b { s += $9 } END { print s + 0 }' \
        /proc/stat
}
# Busy and total ticks of the client's CPU (all of it: the client, and whatever else runs there),
# to show whether the client had headroom.
client_ticks() {
    awk -v c="cpu$CCPU" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i
        print t - $5 - $6, t }' /proc/stat
}
NEXT_PORT=$PORT_BASE
FREE_PORT=
free_port() {
    while (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; do NEXT_PORT=$((NEXT_PORT + 1)); done
    FREE_PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local p pids=()
    if [ -n "$CLIENT_PID" ]; then kill -TERM "$CLIENT_PID" 2>/dev/null || true; fi
    for p in "${STARTED[@]}"; do mapfile -t -O "${#pids[@]}" pids < <(tree_pids "${PID[$p]}"); done
    if [ ${#pids[@]} -gt 0 ]; then
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            local any=0
            for p in "${pids[@]}"; do if alive "$p"; then any=1; fi; done
            [ "$any" = 1 ] || break
            sleep 0.2
        done
        for p in "${pids[@]}"; do if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
        for p in "${STARTED[@]}"; do wait "${PID[$p]}" 2>/dev/null || true; done
    fi
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then note "kept $TMP"; else rm -rf "$TMP"; fi
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Results: one file per workload, lines as bench/report.awk reads them plus the client CPU's
# busy % and czero-tls-handshake's own CPU µs per connection ("-" for wrk) as columns 11 and 12
# (report.awk ignores them).
WORKLOADS="ka full resumed"
for w in $WORKLOADS; do : >"$TMP/results-$w.tsv"; done
: >"$TMP/resumption"
# A peer that could not be measured: the same reason in every workload's table; one line, no '|'.
skip() {
    local why w
    why=$(printf '%s' "$2" | tr '\n\t|' '  /' | tr -s ' ' | cut -c1-200)
    for w in $WORKLOADS; do printf '%s\tskip\t%s\n' "$1" "$why" >>"$TMP/results-$w.tsv"; done
    note "$1: not measured: $why"
}

# The run's certificate: one self-signed ECDSA P-256 certificate for both peers (see
# docs/benchmarks.md's TLS section for why P-256), valid for localhost and 127.0.0.1.
CERT=$TMP/cert.pem
KEY=$TMP/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$KEY" -out "$CERT" \
    >"$TMP/openssl.log" 2>&1 || die "openssl could not make the certificate: $(tail -2 "$TMP/openssl.log")"

# What a client negotiates with the peer (protocol, cipher, key exchange), for the document.
NEGOTIATED=$TMP/negotiated
: >"$NEGOTIATED"
negotiated() {
    openssl s_client -connect "127.0.0.1:${PORT[$1]}" -servername localhost -brief </dev/null 2>&1 |
        awk -F': *' '/^Protocol version/ { p = $2 } /^Ciphersuite/ { c = $2 }
            /^(Server|Peer) Temp Key/ { k = $2 } END { printf "%s, %s, %s", p, c, k }'
}

# Starts one peer pinned to SCPU; records PID/PORT or a skip reason. A czero-demo without TLS
# (before the listener lands, the config refuses CertFile; or it would answer plain HTTP) leaves
# the verdict open ("no TLS" in the reason); any other failure of a czero peer fails it.
start_peer() {
    local peer=$1 dir=$TMP/$1 port bin _ out
    mkdir -p "$dir"
    free_port
    port=$FREE_PORT
    case $peer in
    nginx-tls)
        [ -n "$NGINX" ] || { skip "$peer" "nginx not installed"; return 0; }
        sed -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" "$HERE/nginx-tls.conf.in" >"$dir/tls.conf"
        sed -e "s|@DIR@|$dir|g" \
            -e "s|listen 127.0.0.1:@PORT@;|listen 127.0.0.1:$port ssl;\n        include $dir/tls.conf;|" \
            "$HERE/nginx.conf.in" >"$dir/nginx.conf"
        grep -q "listen 127.0.0.1:$port ssl;" "$dir/nginx.conf" ||
            die "bench/nginx.conf.in has no 'listen 127.0.0.1:@PORT@;' line to turn into TLS"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SCPU" "$NGINX" -p "$dir" \
            -c "$dir/nginx.conf" -e "$dir/error.log") >"$dir/stdout.log" 2>&1 &
        ;;
    czero-tls | czero-tls@base)
        bin=$BUILD/czero-demo
        [ "$peer" = czero-tls@base ] && bin=$BENCH_BASELINE/czero-demo
        [ -x "$bin" ] || { skip "$peer" "czero-demo not built ($bin)"; return 0; }
        mkdir -p "$dir/logs"
        { sed -e "s|^Host:.*|Host: 127.0.0.1|" -e "s|^Port:.*|Port: $port|" \
            -e "s|^\([[:space:]]*Path:\).*|\1 $dir/logs|" "$HERE/czero-bench.yaml"
          sed -e "s|@CERT@|$CERT|g" -e "s|@KEY@|$KEY|g" "$HERE/czero-tls-bench.yaml"; } \
            >"$dir/czero.yaml"
        (cd "$dir" && exec nice -n "$NICE" taskset -c "$SCPU" "$bin" -f "$dir/czero.yaml") \
            >"$dir/stdout.log" 2>&1 &
        ;;
    *) skip "$peer" "unknown peer (known: nginx-tls czero-tls)"; return 0 ;;
    esac
    PID[$peer]=$!
    PORT[$peer]=$port
    STARTED+=("$peer")
    for _ in $(seq 1 100); do
        alive "${PID[$peer]}" || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.1
    done
    out=$(cat "$dir/stdout.log" "$dir/error.log" 2>/dev/null | tr '\n' ' ' | tail -c 200) || true
    if ! alive "${PID[$peer]}"; then
        unset "PORT[$peer]"
        if [[ $peer == czero* ]] && grep -qE '(CertFile|KeyFile|Tls): unknown key' "$dir/stdout.log"; then
            skip "$peer" "no TLS at this commit: czero-demo's config refuses the TLS keys ($(grep -oE \
                '(CertFile|KeyFile|Tls): unknown key' "$dir/stdout.log" | head -1))"
        else
            skip "$peer" "did not start: $out"
        fi
        return 0
    fi
    local code body
    code=$(curl -sk --max-time 3 -o "$dir/body" -w '%{http_code}' \
        "https://localhost:$port/hello" --resolve "localhost:$port:127.0.0.1") || code=000
    body=$(cat "$dir/body" 2>/dev/null || true)
    if [ "$code" = 200 ] && [ "$body" = '{"message":"hello"}' ]; then
        printf -- '  - %s: %s\n' "$peer" "$(negotiated "$peer")" >>"$NEGOTIATED"
        return 0
    fi
    unset "PORT[$peer]"
    if [[ $peer == czero* ]] && [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' \
        "http://127.0.0.1:$port/hello")" = 200 ]; then
        skip "$peer" "no TLS at this commit: czero-demo answered plain HTTP on the port configured with CertFile/KeyFile"
    else
        skip "$peer" "no HTTPS answer: status $code, body '${body:0:60}' ($out)"
    fi
}

# A client run pinned to CCPU, in the background so INT/TERM stop it at once (as run.sh's wrk).
run_client() {
    local out=$1 rc=0
    shift
    nice -n "$NICE" taskset -c "$CCPU" "$@" >"$out" 2>&1 &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    return "$rc"
}
# client <workload> <port> <seconds> [--latency]: the workload's client command line.
client_cmd() {
    case $1 in
    ka) echo wrk -t1 -c"$CONNS" -d"${3}s" "${4:-}" "https://127.0.0.1:$2/hello" ;;
    full) echo "$HS" -p "$2" -c "$HSCONNS" -d "$3" -m full ;;
    resumed) echo "$HS" -p "$2" -c "$HSCONNS" -d "$3" -m resume ;;
    esac
}

measure() {
    local peer=$1 w=$2 round=$3 raw c0 c1 s0 s1 k0 k1 steal try rc line
    raw=$RAW/$peer-$w-$round.txt
    for ((try = 1; try <= STEAL_TRIES; try++)); do
        if [ "$WARMUP" -gt 0 ]; then
            # shellcheck disable=SC2046  # the command line is split on purpose
            run_client /dev/null $(client_cmd "$w" "${PORT[$peer]}" "$WARMUP") || true
        fi
        c0=$(cpu_ns "${PID[$peer]}")
        s0=$(steal_ticks)
        k0=$(client_ticks)
        rc=0
        # shellcheck disable=SC2046
        run_client "$raw" $(client_cmd "$w" "${PORT[$peer]}" "$DURATION" --latency) || rc=$?
        k1=$(client_ticks)
        s1=$(steal_ticks)
        c1=$(cpu_ns "${PID[$peer]}")
        [ "$rc" = 0 ] || note "$peer $w round $round: the client exited with $rc: $(tail -2 "$raw" | tr '\n' ' ')"
        find "$TMP/$peer" -name '*.log' -type f -size +1M -exec truncate -s 0 {} + 2>/dev/null || true
        steal=$(awk -v t=$((s1 - s0)) -v hz="$CLK_TCK" -v d="$DURATION" \
            'BEGIN { printf "%.1f", t / hz / (2 * d) * 100 }')
        awk -v s="$steal" -v m="$STEAL_MAX" 'BEGIN { exit !(s + 0 > m + 0) }' || break
        [ "$try" -lt "$STEAL_TRIES" ] && note "$peer $w round $round: host steal $steal % > $STEAL_MAX %, measuring again"
    done
    if ! alive "${PID[$peer]}"; then
        skip "$peer" "server exited during round $round ($w): $(tail -c 200 "$TMP/$peer/stdout.log")"
        unset "PORT[$peer]"
        return 0
    fi
    if [ "$w" = ka ]; then line=$(awk -f "$HERE/parse_wrk.awk" "$raw")
    else line=$(awk -f "$HERE/parse_handshake.awk" "$raw"); fi
    if [ "$w" = resumed ]; then
        echo "$peer $round $(sed -n 's/.* unresumed=\([0-9]*\).*/\1/p' "$raw" | head -1)" >>"$TMP/resumption"
    fi
    local busy
    busy=$(awk -v a="$k0" -v b="$k1" 'BEGIN { split(a, x, " "); split(b, y, " ")
        t = y[2] - x[2]; printf "%.0f", (t > 0 ? (y[1] - x[1]) / t * 100 : 0) }')
    local req rps p99 errs secs ccpu
    IFS=$'\t' read -r req rps p99 errs secs <<<"$line"
    ccpu=$(sed -n 's/.* client_cpu_us=\([0-9.]*\).*/\1/p' "$raw" | head -1)
    printf '%s\trun\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$peer" "$round" "$req" "$rps" \
        "$p99" "$((c1 - c0))" "$errs" "$secs" "$steal" "$busy" "${ccpu:--}" >>"$TMP/results-$w.tsv"
    note "$peer $w round $round: $rps/s, p99 $p99 µs, $errs errors, server cpu $(awk \
        -v c=$((c1 - c0)) -v n="$req" 'BEGIN { if (n > 0) printf "%.1f", c / n / 1000; else printf "-" }') µs" \
        "($(awk -v c=$((c1 - c0)) -v s="$DURATION" 'BEGIN { printf "%.0f", c / s / 1e7 }') %), client CPU $busy % busy"
}

T0=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
note "servers on CPU $SCPU, clients on CPU $CCPU; $ROUNDS x (${WARMUP}s warm-up + ${DURATION}s) per peer and workload"
for peer in $PEERS; do start_peer "$peer"; done
MEASURED=()
for peer in $PEERS; do if [ -n "${PORT[$peer]:-}" ]; then MEASURED+=("$peer"); fi; done
for round in $(seq 1 "$ROUNDS"); do
    ORDER=("${MEASURED[@]}")
    if [ $((round % 2)) = 0 ]; then
        ORDER=()
        for ((i = ${#MEASURED[@]} - 1; i >= 0; i--)); do ORDER+=("${MEASURED[$i]}"); done
    fi
    for w in $WORKLOADS; do
        for peer in "${ORDER[@]}"; do
            if [ -n "${PORT[$peer]:-}" ]; then measure "$peer" "$w" "$round"; fi
        done
    done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

OPEN_RE='not built|no TLS'
table() { # workload unit [report.awk options...]
    local w=$1 u=$2
    shift 2
    awk -v peers="$PEERS" -v subject=czero-tls -v base=nginx-tls -v unit="$u" -v open_re="$OPEN_RE" \
        "$@" -f "$HERE/report.awk" "$TMP/results-$w.tsv" || die "report.awk failed"
}
# Median server CPU % and client CPU busy % per peer: is the server the limit?
headroom() {
    awk -F'\t' -v peers="$PEERS" '
        function med(s,   n, a, i, j, t) { n = split(s, a, " ")
            for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        $2 == "run" && $9 > 0 && $4 > 0 { srv[$1] = srv[$1] " " $7 / ($9 * 1e9) * 100
            cli[$1] = cli[$1] " " $11; spc[$1] = spc[$1] " " $7 / $4 / 1000
            if ($12 ~ /^[0-9.]+$/) cpc[$1] = cpc[$1] " " $12 }
        END { n = split(peers, p, " "); out = ""
            for (i = 1; i <= n; i++) if (p[i] in srv) {
                out = out sprintf("%s%s: server %.0f %% of its core, client CPU %.0f %% busy",
                    out == "" ? "" : "; ", p[i], med(srv[p[i]]), med(cli[p[i]]))
                if (p[i] in cpc) out = out sprintf(", the client spent %.0f µs of CPU per" \
                    " connection where the server spent %.0f", med(cpc[p[i]]), med(spc[p[i]]))
            }
            print (out == "" ? "nothing measured" : out) }' "$TMP/results-$1.tsv"
}
resumption() {
    awk '{ n++; if ($3 != 0) { bad++; s = s sprintf("%s%s round %s: %s", s == "" ? "" : "; ", $1, $2, $3) } }
        END { if (n == 0) print "no resumed run"
            else if (bad == 0) print "every offered session was resumed, in all " n " runs (SSL_session_reused)"
            else print "**" bad " of " n " runs had offered sessions the server did not resume** (" s ")" }' \
        "$TMP/resumption"
}
KA=$(table ka req -v check_p99=0)
FULL=$(table full conn -v check_p99=0 -v min_rate=0.9)
RES=$(table resumed conn -v check_p99=0 -v min_rate=0.9)
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
ELAPSED=$(($(date +%s) - T0))

SECTION=$TMP/section.md
{
    echo "## TLS: HTTPS GET /hello, keep-alive and new connections"
    echo
    echo "\`bash bench/tls.sh\` (also run by \`make bench\`; \`make bench-tls\` runs it alone and" \
        "rewrites only this section). Issue 14's goals: keep-alive CPU per request" \
        "czero-tls/nginx-tls <= 1.00; handshakes per second per core >= 0.90x nginx's, i.e." \
        "CPU per new connection <= 1/0.9 of nginx's. Each server pinned to CPU $SCPU, each" \
        "client to CPU $CCPU, nice $NICE; per peer, workload and round ${WARMUP} s of warm-up" \
        "then ${DURATION} s measured; $ROUNDS round(s), peers interleaved (reversed on even" \
        "rounds), medians shown; server CPU from /proc ($CPU_METHOD) over the measured run," \
        "divided by the requests or connections completed; a run with more than $STEAL_MAX %" \
        "host steal is measured again (up to $STEAL_TRIES tries). czero commit $COMMIT; harness" \
        "took ${ELAPSED} s; load average $LOADAVG before, $LOADAVG_END after."
    echo
    echo "- Certificate: one self-signed ECDSA P-256 certificate (SHA-256 signature) made per" \
        "run with the openssl CLI, for both peers. P-256 is what an operator would choose today" \
        "(every client supports it, and a P-256 signature costs the server ~20 µs where RSA-2048" \
        "costs ~1 ms, which would make the full-handshake rows measure RSA, not the servers)."
    echo "- Settings (both peers): TLS 1.2 and 1.3, Mozilla intermediate ciphers and TLS 1.3" \
        "suites in czero's order, the client's preference, groups X25519:prime256v1:secp384r1," \
        "session tickets on, no server-side session cache (bench/nginx-tls.conf.in," \
        "bench/czero-tls-bench.yaml appended to bench/czero-bench.yaml)."
    echo "- nginx-tls: bench/nginx.conf.in with \`listen ... ssl\`: one process, the same JSON" \
        "access log as the plain nginx peer. czero-tls: \`czero-demo\` with the plain czero" \
        "peer's config plus CertFile/KeyFile/Tls (one worker, JSON access log, whole chain)."
    echo "- Keep-alive: \`wrk -t1 -c$CONNS --latency https://...\` (wrk's OpenSSL client)."
    echo "- Full / resumed: \`czero-tls-handshake -c $HSCONNS -m full|resume\`" \
        "(bench/tls_handshake_main.c): $HSCONNS slots each connect, handshake, send one" \
        "\`GET /hello\` with \`Connection: close\`, read the answer and the server's close, and" \
        "start over; resumed offers the slot's newest ticket (each slot's first connection is a" \
        "full handshake, counted in the row). p99 is from connect() to the end of the answer." \
        "An offered session the server did not resume counts as an error."
    echo "- Negotiated with each peer (openssl s_client, the same library as both clients):"
    if [ -s "$NEGOTIATED" ]; then cat "$NEGOTIATED"; else echo "  - (no peer answered)"; fi
    awk -F'\t' '$2 == "skip" && !seen[$1]++ { print "- " $1 ": could not be measured (" $3 ")" }' \
        "$TMP/results-ka.tsv"
    echo
    echo "### Keep-alive HTTPS: GET /hello over wrk's connections"
    echo
    echo "$KA"
    echo
    echo "Server and client load (medians): $(headroom ka). wrk encrypts and decrypts as much" \
        "as the server, so it may be the limit: the rows then compare CPU per request at the" \
        "same offered load."
    echo
    echo "### New connections per second, full handshakes"
    echo
    echo "$FULL"
    echo
    echo "Server and client load (medians): $(headroom full). When the client spends more CPU" \
        "per connection than the server, one client core cannot saturate one server core, and" \
        "on full TLS 1.3 handshakes (X25519, ECDSA P-256) it does: besides the same X25519" \
        "exchange, the client verifies" \
        "the signature (~65 µs with \`openssl speed\`, where the server signs in ~20 µs) and" \
        "decodes the server's certificate, which OpenSSL 3.0 does slowly (d2i_X509 of this" \
        "certificate: ~60-100 µs; in perf 61 % of the client's time is libcrypto). The client" \
        "has one core (CPU $CCPU), so the rows then compare the servers at the same offered" \
        "rate: read CPU per connection (which the acceptance uses), not connections per second."
    echo
    echo "### New connections per second, resumed handshakes"
    echo
    echo "$RES"
    echo
    echo "Server and client load (medians): $(headroom resumed). Resumption check: $(resumption)."
    echo
} >"$SECTION"
cat "$SECTION"
if [ -n "$OUTDOC" ]; then
    if [ -f "$OUTDOC" ] && grep -q '^## TLS' "$OUTDOC"; then
        awk -v f="$SECTION" '
            /^## TLS/ { while ((getline l < f) > 0) print l; skip = 1; next }
            skip && /^## / { skip = 0 }
            !skip' "$OUTDOC" >"$OUTDOC.tmp"
    elif [ -f "$OUTDOC" ] && grep -qE '^## (Overload|Micro benchmarks)' "$OUTDOC"; then
        awk -v f="$SECTION" '
            !done && /^## (Overload|Micro benchmarks)/ { while ((getline l < f) > 0) print l; done = 1 }
            { print }' "$OUTDOC" >"$OUTDOC.tmp"
    else
        { if [ -f "$OUTDOC" ]; then cat "$OUTDOC"; fi; cat "$SECTION"; } >"$OUTDOC.tmp"
    fi
    mv "$OUTDOC.tmp" "$OUTDOC"
    note "wrote the section into $OUTDOC"
fi
[ ${#MEASURED[@]} -gt 0 ] || die "no TLS peer could be measured"
exit 0
