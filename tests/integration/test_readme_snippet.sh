#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_readme_snippet.sh BUILD_DIR: the README's examples, taken from README.md itself so they
# cannot drift from what is tested.
#
# 1. "A service in 20 lines": its C block becomes greet.c, its YAML block etc/greet.yaml, and
#    its sh block is run line by line as written, with two substitutions: the prefix /tmp/cz
#    becomes a temporary one (and `make install PREFIX=...` is `cmake --install BUILD_DIR`, the
#    same install without rebuilding) and port 8888 a free port. Each curl line must print what
#    its comment says.
# 2. "Error answers" and "Logging and metrics from a handler": each C block compiles with
#    -Wall -Wextra -Werror against the installed czero, and runs behind a small main of this
#    test: the error handler answers {"code":1001,"msg":"name taken"} with 409, the handler's
#    log line carries the request's trace id, and the custom counter shows on the DevServer.
# 3. "Three commands": the https curl lines of its second sh block, against the demo as `make
#    run` starts it (the Makefile's scripts/demo-cert.sh step in a fresh directory, then
#    etc/demo.yaml as it is, its ports 8888, 8443 and 6060 made free ones): each must print what
#    its comment says, the self-signed certificate verifying for localhost.
set -euo pipefail
B=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
README=$SRC/README.md
T=$(mktemp -d /tmp/cz-readme.XXXXXX)
SPID=
DPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
    [ -n "$DPID" ] && kill "$DPID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

CC_EXTRA=""
if grep -q '^CZ_SANITIZE:BOOL=ON' "$B/CMakeCache.txt"; then
    CC_EXTRA="-fsanitize=address,undefined -fno-omit-frame-pointer"
    # the README's 20 lines end in cz_server_run and free nothing: not a leak worth failing on
    # appended, so it wins over the detect_leaks=1 that scripts/test.sh exports for every test
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# block SECTION LANG [N]: the Nth (default 1st) ```LANG block under the "## SECTION" heading
block() {
    awk -v sec="## $1" -v lang='```'"$2" -v want="${3:-1}" '
        /^## / { in_sec = index($0, sec) == 1; next }
        in_sec && !inb && $0 == lang { n++; inb = (n == want); next }
        inb && /^```$/ { exit }
        inb { print }' "$README"
}

# ---- 1. A service in 20 lines ----
W=$T/work
mkdir -p "$W/etc"
block "A service in 20 lines" c >"$W/greet.c"
block "A service in 20 lines" yaml >"$W/etc/greet.yaml"
block "A service in 20 lines" sh >"$T/steps.sh"
for f in "$W/greet.c" "$W/etc/greet.yaml" "$T/steps.sh"; do
    [ -s "$f" ] || fail "README: no block for $(basename "$f") under 'A service in 20 lines'"
done
grep -q 'cz_server_run' "$W/greet.c" || fail "README: the C block is not the service"
grep -q '^Port: 8888$' "$W/etc/greet.yaml" || fail "README: the YAML block has no Port: 8888"
grep -q '^curl ' "$T/steps.sh" || fail "README: no curl line to check"

PORT=$(free_port)
PFX=$T/cz
sed -i "s/^Port: 8888$/Port: $PORT/" "$W/etc/greet.yaml"
ncurl=0
cd "$W"
while IFS= read -r line; do
    [ -z "$line" ] && continue
    line=${line//\/tmp\/cz/$PFX}
    line=${line//8888/$PORT}
    case "$line" in
    "make install PREFIX="*)
        cmake --install "$B" --prefix "${line#make install PREFIX=}" >/dev/null ||
            fail "install into ${line#make install PREFIX=}"
        ;;
    "export "*)
        eval "$line"
        ;;
    cc\ *)
        eval "cc $CC_EXTRA ${line#cc }" 2>"$T/cc.err" || fail "'$line': $(cat "$T/cc.err")"
        [ ! -s "$T/cc.err" ] || fail "'$line' warns: $(cat "$T/cc.err")"
        ;;
    *" &")
        eval "exec ${line% &}" >"$T/server.log" 2>&1 &
        SPID=$!
        for _ in $(seq 200); do
            curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
            kill -0 "$SPID" 2>/dev/null || { cat "$T/server.log"; fail "'$line' exited"; }
            sleep 0.05
        done
        ;;
    curl\ *)
        want=$(echo "$line" | sed -n 's/.*#[[:space:]]*//p')
        cmd=$(echo "$line" | sed 's/[[:space:]]*#.*//')
        got=$(eval "$cmd") || fail "'$cmd' failed"
        [ "$got" = "$want" ] || fail "'$cmd' printed '$got', the README says '$want'"
        ncurl=$((ncurl + 1))
        ;;
    *)
        fail "README: a step this test does not know how to run: $line"
        ;;
    esac
done <"$T/steps.sh"
[ "$ncurl" -ge 1 ] || fail "no curl line was checked"
kill -TERM "$SPID"
rc=0
wait "$SPID" || rc=$?
SPID=
[ "$rc" = 0 ] || { cat "$T/server.log" >&2; fail "greet exit $rc after SIGTERM"; }
echo "ok: 'A service in 20 lines' built and served as the README says ($ncurl curl checked)"

# ---- 2. Error answers, Logging and metrics: compile, then serve behind a test main ----
X=$T/examples
mkdir -p "$X/etc"
block "Error answers" c >"$X/errors.c"
block "Logging and metrics from a handler" c >"$X/metrics.c"
[ -s "$X/errors.c" ] && [ -s "$X/metrics.c" ] || fail "README: missing C blocks"
cat >"$X/main.c" <<'C'
#include "czero/czero.h"
int create_user(cz_req_t *req, cz_res_t *res, void *ud);
void setup_errors(void);
int setup_metrics(void);
int greet(cz_req_t *req, cz_res_t *res, void *ud);

static const cz_conf_field_t fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = 0, .sub = cz_rest_conf_fields}, {0}};

int main(void)
{
    cz_rest_conf_t c;
    cz_conf_must_load("etc/x.yaml", fields, &c);
    cz_log_setup(&c.log, NULL);
    setup_errors();
    if (setup_metrics() != 0)
        return 1;
    cz_server_t *s = cz_server_new(&c, NULL);
    cz_route_t routes[] = {{"POST", "/users", create_user, NULL, 0},
                           {"GET", "/greet/:name", greet, NULL, 0}};
    cz_server_add_routes(s, routes, 2, NULL, NULL);
    return cz_server_run(s);
}
C
PORT=$(free_port)
DEV=$(free_port)
printf 'Name: x\nHost: 127.0.0.1\nPort: %s\nLog:\n  Encoding: json\nDevServer:\n  Enabled: true\n  Host: 127.0.0.1\n  Port: %s\n' \
    "$PORT" "$DEV" >"$X/etc/x.yaml"
cd "$X"
# shellcheck disable=SC2046
cc $CC_EXTRA -Wall -Wextra -Werror errors.c metrics.c main.c -o x \
    $(pkg-config --cflags --libs czero) -Wl,-rpath,"$(pkg-config --variable=libdir czero)" \
    2>"$T/cc.err" || fail "the README's examples do not compile: $(cat "$T/cc.err")"
./x >"$T/x.log" 2>&1 &
SPID=$!
for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    kill -0 "$SPID" 2>/dev/null || { cat "$T/x.log"; fail "the examples' server exited"; }
    sleep 0.05
done
out=$(curl -s -w ' %{http_code} %{content_type}' -X POST "http://127.0.0.1:$PORT/users?name=admin")
[ "$out" = '{"code":1001,"msg":"name taken"} 409 application/json; charset=utf-8' ] ||
    fail "error answer: $out"
out=$(curl -s -w ' %{http_code}' -X POST "http://127.0.0.1:$PORT/users?name=ann")
[ "$out" = '{"name":"ann"} 200' ] || fail "ok answer: $out"
TRACE=4bf92f3577b34da6a3ce929d0e0e4736
out=$(curl -s -H "traceparent: 00-$TRACE-00f067aa0ba902b7-01" "http://127.0.0.1:$PORT/greet/ann")
[ "$out" = "hello ann" ] || fail "greet: $out"
curl -s "http://127.0.0.1:$DEV/metrics" | grep -qx 'greet_greetings_total 1' ||
    fail "no greet_greetings_total 1 on the DevServer's /metrics"
kill -TERM "$SPID"
wait "$SPID" || true
SPID=
grep '"content":"greeting ann"' "$T/x.log" | grep -q "\"trace\":\"$TRACE\"" ||
    fail "the handler's log line lacks the request's trace: $(grep greeting "$T/x.log")"
echo "ok: the README's error, logging and metrics examples compile and behave as described"

# ---- 3. Three commands: make run's https lines ----
R=$T/run
mkdir -p "$R/etc"
# the recipe of `run:` in the Makefile, its line that makes the certificate
cert_step=$(awk '/^run:/ { r = 1; next } r && !/^\t/ { exit }
                 r && /scripts\/demo-cert.sh/ { sub(/^\t@?/, ""); print }' "$SRC/Makefile")
[ -n "$cert_step" ] || fail "Makefile: make run has no scripts/demo-cert.sh step"
block "Three commands" sh 2 | grep 'https://' >"$T/https.sh" || true
[ -s "$T/https.sh" ] || fail "README: no https curl line under 'Three commands'"
P1=$(free_port) P2=$(free_port) P3=$(free_port)
sed -e "s/^Port: 8888$/Port: $P1/" -e "s/^  Port: 8443$/  Port: $P2/" "$SRC/etc/demo.yaml" >"$R/etc/demo.yaml"
grep -q "^  Port: $P2$" "$R/etc/demo.yaml" || fail "etc/demo.yaml: no Https Port 8443"
cd "$R"
eval "${cert_step/scripts/$SRC/scripts}" >/dev/null || fail "make run's step '$cert_step'"
DEMO_DEV_PORT=$P3 "$B/czero-demo" -f etc/demo.yaml >"$T/demo.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do # the HTTPS server starts after the plain one: wait for it
    curl -sk -o /dev/null "https://127.0.0.1:$P2/hello" && break
    kill -0 "$DPID" 2>/dev/null || { cat "$T/demo.log"; fail "the demo of make run exited"; }
    sleep 0.05
done
ncurl=0
while IFS= read -r line; do
    line=${line//8443/$P2}
    want=$(echo "$line" | sed -n 's/.*#[[:space:]]*//p')
    cmd=$(echo "$line" | sed 's/[[:space:]]*#.*//')
    got=$(eval "$cmd" 2>&1) || fail "'$cmd' failed: $got"
    [ "$got" = "$want" ] || fail "'$cmd' printed '$got', the README says '$want'"
    ncurl=$((ncurl + 1))
done <"$T/https.sh"
kill -TERM "$DPID"
rc=0
wait "$DPID" || rc=$?
DPID=
[ "$rc" = 0 ] || { cat "$T/demo.log" >&2; fail "the demo exit $rc after SIGTERM"; }
echo "ok: make run's certificate step and etc/demo.yaml serve the README's https line ($ncurl curl checked)"
