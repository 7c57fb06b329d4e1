#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Self-test of the `make bench` harness's pure parts, run by bench/run.sh before it measures
# anything (and runnable alone: `bash bench/selftest.sh`): the wrk output parser on recorded wrk
# outputs (every time unit, errors, a run without a distribution), the table writer's medians,
# ratios and PASS/FAIL verdicts, and the templates' placeholders. Prints each failure and exits 1
# if there is any.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0

expect() {  # expect <name> <expected> <actual>
    if [ "$2" == "$3" ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: expected [$2], got [$3]"
        fails=$((fails + 1))
    fi
}
expect_grep() {  # expect_grep <name> <regex> <text>
    if grep -qE -- "$2" <<<"$3"; then echo "ok   $1"; else
        echo "FAIL $1: no line matches [$2] in:"; echo "$3"; fails=$((fails + 1)); fi
}
parse() { awk -f "$HERE/parse_wrk.awk"; }

# A real wrk 4.1 --latency output (microsecond p99, no errors).
expect "parse us" "$(printf '%s\t%s\t%s\t%s\t%s' 412345 41234.50 812.5 0 10)" "$(parse <<'W'
Running 10s test @ http://127.0.0.1:18180/hello
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.55ms  113.22us   4.01ms   91.00%
    Req/Sec    41.45k   612.33    42.40k    78.00%
  Latency Distribution
     50%    1.53ms
     75%    1.58ms
     90%    1.65ms
     99%  812.50us
  412345 requests in 10.00s, 59.77MB read
Requests/sec:  41234.50
Transfer/sec:      5.98MB
W
)"

# Millisecond and second units, socket errors and non-2xx answers all count as errors.
expect "parse ms+errors" "$(printf '%s\t%s\t%s\t%s\t%s' 1000 99.90 2340 10 10.01)" "$(parse <<'W'
  Latency Distribution
     50%    1.00ms
     75%    1.50ms
     90%    2.00ms
     99%    2.34ms
  1000 requests in 10.01s, 1.00MB read
  Socket errors: connect 1, read 2, write 3, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:     99.90
W
)"
p99_of() { printf '  Latency Distribution\n     99%%    %s\n' "$1" | parse | cut -f3; }
expect "parse s" "1500000" "$(p99_of 1.50s)"
expect "parse m" "120000000" "$(p99_of 2.00m)"
# wrk failed to connect: nothing measured must read "-", never 0.
expect "parse empty" "$(printf '%s\t%s\t%s\t%s\t%s' - - - 0 -)" \
    "$(echo 'unable to connect to 127.0.0.1:1 Connection refused' | parse)"

report() { awk -f "$HERE/report.awk"; }
# row <peer> <round> <requests> <req/s> <p99 µs> <cpu ns> <errors> [<seconds>, default 10]
#     [<steal %>, default 0.<round>]
row() {
    printf '%s\trun\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" \
        "${8:-10}" "${9:-0.$2}"
}

# Medians per column over 3 rounds; czero cheaper and faster than nginx -> PASS.
out=$(report <<R
$(row nginx 1 100000 10000 900 300000000 0)
$(row nginx 2 100000 12000 700 200000000 0)
$(row nginx 3 100000 11000 800 250000000 0)
$(row go 1 100000 9000 1500 400000000 0)
$(row czero 1 100000 20000 400 150000000 0)
$(row czero 2 100000 21000 500 160000000 0)
$(row czero 3 100000 19000 450 170000000 0)
R
)
expect_grep "report nginx medians" \
    '^\| nginx \| 11000 \| 800 \| 2\.50 \| 2\.5 \| 1\.00 \| 1\.00 \| 0 \| 3 \|$' "$out"
expect_grep "report czero row" \
    '^\| czero \| 20000 \| 450 \| 1\.60 \| 1\.6 \| 0\.64 \| 0\.56 \| 0 \| 3 \|$' "$out"
expect_grep "report go ratio" \
    '^- czero/go: server CPU per request 0\.40, p99 0\.30, req/s 2\.22$' "$out"
expect_grep "report rounds" \
    '^- nginx: 10000, 900, 3\.00, 0\.1; 12000, 700, 2\.00, 0\.2; 11000, 800, 2\.50, 0\.3$' "$out"
expect_grep "report pass" '^\*\*Acceptance: PASS\*\*$' "$out"

# Cheaper but slower p99 than nginx -> FAIL on p99 only.
out=$(report <<R
$(row nginx 1 1000 100 500 2000000 0)
$(row czero 1 1000 100 600 1000000 0)
R
)
expect_grep "report cpu pass" '^- CPU per request czero/nginx = 0\.50 .*: PASS$' "$out"
expect_grep "report p99 fail" '^- p99 czero 600 µs vs nginx 500 µs .*: FAIL$' "$out"
expect_grep "report fail" '^\*\*Acceptance: FAIL\*\*$' "$out"

# More CPU per request than nginx -> FAIL.
out=$(report <<R
$(row nginx 1 1000 100 500 2000000 0)
$(row czero 1 1000 100 400 2100000 0)
R
)
expect_grep "report cpu fail" '^- CPU per request czero/nginx = 1\.05 .*: FAIL$' "$out"

# czero not built, a broken run (no requests) is ignored, not read as zero.
out=$(report <<R
$(row nginx 1 1000 100 500 2000000 0)
$(row go 1 - - - 5000 0)
czero	skip	czero-demo not built
R
)
expect_grep "report skip row" '^\| czero \| - .*czero-demo not built' "$out"
expect_grep "report broken row" '^\| go \| - .*1 broken' "$out"
expect_grep "report not evaluated" \
    '^\*\*Acceptance: NOT EVALUATED\*\* \(czero-demo not built\)' "$out"

# Rows follow the given peer order, even when a skipped peer was recorded first.
out=$(awk -v peers="nginx go czero" -f "$HERE/report.awk" <<R
czero	skip	czero-demo not built
$(row go 1 1000 100 500 2000000 0)
$(row nginx 1 1000 100 500 2000000 0)
R
)
expect "report row order" "nginx go czero" \
    "$(awk -F' [|] ' '/^[|] [a-z]/ && !/^[|] server/ { sub(/^[|] /, "", $1); print $1 }' \
        <<<"$out" | tr '\n' ' ' | sed 's/ $//')"

# A demo that exists but does not answer correctly fails the acceptance.
out=$(report <<R
$(row nginx 1 1000 100 500 2000000 0)
czero	skip	wrong answer: status 404
R
)
expect_grep "report built but broken" \
    '^\*\*Acceptance: FAIL\*\* \(wrong answer: status 404\)' "$out"

# A run without czero at all (BENCH_PEERS) has no verdict.
out=$(awk -v peers="nginx go" -f "$HERE/report.awk" <<R
$(row nginx 1 1000 100 500 2000000 0)
R
)
expect_grep "report no subject" '^\*\*Acceptance: NOT EVALUATED\*\* \(czero was not among' "$out"

# Templates: every placeholder is one run.sh fills.
expect "nginx.conf.in placeholders" "@DIR@ @PORT@" \
    "$(grep -o '@[A-Z]*@' "$HERE/nginx.conf.in" | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect "czero-bench.yaml keys" "Host Log Name Path Port Workers" \
    "$(grep -oE '^(Name|Host|Port|Workers|Log):|^  Path:' "$HERE/czero-bench.yaml" | tr -d ' :' |
        sort | tr '\n' ' ' | sed 's/ $//')"
placeholders() { grep -o '@[A-Z0-9]*@' "$1" | sort -u | tr '\n' ' ' | sed 's/ $//'; }
expect "nginx-proxy.conf.in placeholders" "@B1@ @B2@ @B3@ @DIR@ @PORT@" \
    "$(placeholders "$HERE/nginx-proxy.conf.in")"
expect "nginx-backends.conf.in placeholders" "@B1@ @B2@ @B3@ @DIR@" \
    "$(placeholders "$HERE/nginx-backends.conf.in")"
expect "czero-gateway-bench.yaml placeholders" "@B1@ @B2@ @B3@" \
    "$(placeholders "$HERE/czero-gateway-bench.yaml")"
expect "czero-gateway-bench.yaml one worker" "Workers: 1" \
    "$(grep -E '^Workers:' "$HERE/czero-gateway-bench.yaml")"
# ---- the TLS section (bench/tls.sh) ----
# czero-tls-handshake's line; resumption failures count as errors; no line reads "-".
phs() { awk -f "$HERE/parse_handshake.awk"; }
expect "parse handshake" "$(printf '%s\t%s\t%s\t%s\t%s' 5732 2866.0 71820 0 2.00)" "$(phs <<'H'
connections=5732 seconds=2.00 rate=2866.0 full=32 resumed=5700 unresumed=0 unexpected_reuse=0 errors=0 p50_us=7567 p99_us=71820
H
)"
expect "parse handshake unresumed" "$(printf '%s\t%s\t%s\t%s\t%s' 100 50.0 900 13 2.00)" "$(phs <<'H'
czero-tls-handshake: handshake: Connection refused
connections=100 seconds=2.00 rate=50.0 full=100 resumed=0 unresumed=10 unexpected_reuse=1 errors=2 p50_us=500 p99_us=900
H
)"
expect "parse handshake empty" "$(printf '%s\t%s\t%s\t%s\t%s' - - - 0 -)" \
    "$(echo 'usage: czero-tls-handshake -p PORT' | phs)"
tlsreport() { awk -v peers="nginx-tls czero-tls" -v subject=czero-tls -v base=nginx-tls \
    -v open_re='not built|no TLS' "$@" -f "$HERE/report.awk"; }
# Handshakes: czero-tls spends 1.10x nginx's CPU per connection: 0.91x the rate per core, PASS;
# its worse p99 is shown, not judged.
out=$(tlsreport -v unit=conn -v check_p99=0 -v min_rate=0.9 <<R
$(row nginx-tls 1 1000 100 500 100000000 0)
$(row czero-tls 1 1000 100 900 110000000 0)
R
)
expect_grep "tls header per conn" '^\| server \| conn/s \| p99 µs \| server CPU µs/conn \|' "$out"
expect_grep "tls rate per core pass" \
    '^- handshakes per second per core czero-tls/nginx-tls = 0\.91 \(1e6 / CPU µs per conn: 9091 vs 10000; must be >= 0\.90\): PASS$' "$out"
expect_grep "tls p99 not judged" '^- p99 czero-tls 900 µs vs nginx-tls 500 µs \(ratio 1\.80; shown' "$out"
expect_grep "tls pass" '^\*\*Acceptance: PASS\*\*$' "$out"
out=$(tlsreport -v unit=conn -v check_p99=0 -v min_rate=0.9 <<R
$(row nginx-tls 1 1000 100 500 100000000 0)
$(row czero-tls 1 1000 100 400 120000000 0)
R
)
expect_grep "tls rate per core fail" '^- handshakes per second per core .* = 0\.83 .*: FAIL$' "$out"
expect_grep "tls fail" '^\*\*Acceptance: FAIL\*\*$' "$out"
# Keep-alive: CPU per request only.
out=$(tlsreport -v check_p99=0 <<R
$(row nginx-tls 1 1000 100 500 2000000 0)
$(row czero-tls 1 1000 100 900 2000000 0)
R
)
expect_grep "tls keep-alive cpu" '^- CPU per request czero-tls/nginx-tls = 1\.00 \(must be <= 1\.00\): PASS$' "$out"
expect_grep "tls keep-alive pass" '^\*\*Acceptance: PASS\*\*$' "$out"
# A demo without TLS leaves the verdict open; one whose TLS fails does not.
out=$(tlsreport <<R
$(row nginx-tls 1 1000 100 500 2000000 0)
czero-tls	skip	no TLS at this commit: czero-demo's config refuses the TLS keys (CertFile: unknown key)
R
)
expect_grep "tls no TLS row" '^\| czero-tls \| - .*no TLS at this commit' "$out"
expect_grep "tls nginx row kept" '^\| nginx-tls \| 100 \| 500 \|' "$out"
expect_grep "tls no TLS open" '^\*\*Acceptance: NOT EVALUATED\*\* \(no TLS at this commit' "$out"
out=$(tlsreport <<R
$(row nginx-tls 1 1000 100 500 2000000 0)
czero-tls	skip	no HTTPS answer: status 000
R
)
expect_grep "tls broken TLS fails" '^\*\*Acceptance: FAIL\*\* \(no HTTPS answer' "$out"
# Templates: tls.sh turns nginx.conf.in's listen line into TLS and fills these placeholders.
expect "nginx.conf.in plain listen line" "1" \
    "$(grep -c '^ *listen 127\.0\.0\.1:@PORT@;$' "$HERE/nginx.conf.in")"
expect "nginx-tls.conf.in placeholders" "@CERT@ @KEY@" "$(placeholders "$HERE/nginx-tls.conf.in")"
expect "czero-tls-bench.yaml placeholders" "@CERT@ @KEY@" "$(placeholders "$HERE/czero-tls-bench.yaml")"
expect "czero-tls-bench.yaml TLS keys" "CertFile KeyFile Tls" \
    "$(grep -oE '^(CertFile|KeyFile|Tls):' "$HERE/czero-tls-bench.yaml" | tr -d ':' | sort |
        tr '\n' ' ' | sed 's/ $//')"
expect "czero-tls-bench.yaml adds no key czero-bench.yaml has" "" \
    "$(grep -oE '^[A-Za-z]+:' "$HERE/czero-tls-bench.yaml" | grep -Fxf - <(grep -oE '^[A-Za-z]+:' \
        "$HERE/czero-bench.yaml"))"
# nginx-tls must negotiate what czero does by default: once include/czero/tls.h exists, its
# default cipher list, TLS 1.3 suites and groups must be bench/nginx-tls.conf.in's.
TLS_H=$HERE/../include/czero/tls.h
cz_default() { awk -v m="$1" '$0 ~ "^#define " m "([ \\\\]|$)" { on = 1 }
    on { s = $0; while (match(s, /"[^"]*"/)) { out = out substr(s, RSTART + 1, RLENGTH - 2)
        s = substr(s, RSTART + RLENGTH) } if ($0 !~ /\\$/) exit } END { print out }' "$TLS_H"; }
ng() { awk -v d="$1" '$1 == d { v = $NF; sub(/;$/, "", v); print v }' "$HERE/nginx-tls.conf.in"; }
if [ -f "$TLS_H" ]; then
    expect "nginx-tls ciphers = czero's default" "$(cz_default CZ_TLS_DEFAULT_CIPHERS)" "$(ng ssl_ciphers)"
    expect "nginx-tls suites = czero's default" "$(cz_default CZ_TLS_DEFAULT_CIPHER_SUITES)" \
        "$(ng ssl_conf_command)"
    expect "nginx-tls groups = czero's default" "$(cz_default CZ_TLS_DEFAULT_CURVES)" "$(ng ssl_ecdh_curve)"
else
    echo "skip nginx-tls settings vs czero's defaults (no include/czero/tls.h at this commit)"
fi

# A proxy table names its own baseline.
out=$(awk -v peers="nginx-proxy czero-gateway" -v subject=czero-gateway -v base=nginx-proxy \
    -f "$HERE/report.awk" <<R
$(row nginx-proxy 1 1000 100 500 4000000 0)
$(row czero-gateway 1 1000 100 400 3000000 0)
R
)
expect_grep "report proxy header" '\| CPU vs nginx-proxy \| p99 vs nginx-proxy \|' "$out"
expect_grep "report proxy verdict" '^- CPU per request czero-gateway/nginx-proxy = 0\.75 .*: PASS$' "$out"
expect "czero-bench.yaml one worker" "Workers: 1" "$(grep -E '^Workers:' "$HERE/czero-bench.yaml")"
# BENCH_BASELINE: the @base row has its own ratio to the baseline peer, and the current build's
# ratio to it is listed (before/after in one table); the verdict stays the current build's.
out=$(awk -v peers="nginx-proxy czero-gateway czero-gateway@base" -v subject=czero-gateway \
    -v base=nginx-proxy -f "$HERE/report.awk" <<R
$(row nginx-proxy 1 1000 100 500 4000000 0)
$(row czero-gateway 1 1000 100 400 3000000 0)
$(row czero-gateway@base 1 1000 100 450 3600000 0)
R
)
expect_grep "report baseline row" '^\| czero-gateway@base \| 100 \| 450 \| 3\.60 \| .* \| 0\.90 \| 0\.90 \| 0 \| 1 \|$' "$out"
expect_grep "report baseline ratio" \
    '^- czero-gateway/czero-gateway@base: server CPU per request 0\.83, p99 0\.89' "$out"
expect_grep "report baseline verdict" '^- CPU per request czero-gateway/nginx-proxy = 0\.75 .*: PASS$' "$out"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all bench self-tests passed"
