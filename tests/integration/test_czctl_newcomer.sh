#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_czctl_newcomer.sh BUILD_DIR: a newcomer's first edits to a `czctl api new` project,
# built with the project's own CMakeLists.txt against an installed czero.
#
# 1. Their logic has an unused variable: the build warns and succeeds (the scaffolded
#    CMakeLists.txt does not force -Werror on the user's code; czero's own CI adds it to the
#    generated code in test_czctl_gen.sh).
# 2. Their logic returns an error with a message: `return cz_logic_error(req, 409, 1001,
#    "name %s taken", ...)`. Without an error handler it answers 409 with the message as text;
#    with cz_http_set_error_handler in main it answers {"code":1001,"msg":"name me taken"}
#    (409, application/json), and a binding error goes through the same handler.
# 3. They add `jwt: Auth` to the .api and regenerate: the project builds (the generated
#    api_sections.h gives config_t its `auth` member), czctl prints the YAML section the user's
#    etc/greet.yaml lacks; the test pastes exactly what was printed, and the service starts and
#    answers 401 without a token and 200 with one.
# 4. A config.h scaffolded by an older czctl (no api_sections.h): czctl prints the lines to
#    add; pasting them gives a project that builds and serves the jwt route.
set -euo pipefail
B=$(cd "$1" && pwd)
T=$(mktemp -d /tmp/czctl-newcomer.XXXXXX)
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$B" --prefix "$T/pfx" >/dev/null
CZCTL=$T/pfx/bin/czctl
GEN_FLAGS=""
if grep -q '^CZ_SANITIZE:BOOL=ON' "$B/CMakeCache.txt"; then
    GEN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fi

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
build() { # dir: the project's own CMakeLists.txt, flags only for a sanitized build
    cmake -S "$1" -B "$1/build" -DCMAKE_C_FLAGS="$GEN_FLAGS" \
        -DCMAKE_EXE_LINKER_FLAGS="$GEN_FLAGS" >"$1/build.log" 2>&1 &&
        cmake --build "$1/build" >>"$1/build.log" 2>&1
}
serve() { # dir
    PORT=$(free_port)
    sed -i "s/^Port: .*/Port: $PORT/; s/^Host: .*/Host: 127.0.0.1/" "$1/etc/greet.yaml"
    (cd "$1" && DEV_PORT=$(free_port) exec ./build/greet -f etc/greet.yaml) >"$1/server.log" 2>&1 &
    SPID=$!
    for _ in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$PORT/" && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$1/server.log"
    fail "$1: not serving"
}
stop() {
    kill -TERM "$SPID"
    local rc=0
    wait "$SPID" || rc=$?
    SPID=
    [ "$rc" = 0 ] || fail "server exit $rc after SIGTERM"
}
call() { # path [header] -> STATUS BODY CTYPE
    local args=(-s -o "$T/body" -D "$T/head" -w '%{http_code}')
    [ -n "${2:-}" ] && args+=(-H "$2")
    STATUS=$(curl "${args[@]}" "http://127.0.0.1:$PORT$1")
    BODY=$(cat "$T/body")
    CTYPE=$(sed -n 's/^[Cc]ontent-[Tt]ype: \([^\r]*\).*/\1/p' "$T/head")
}

# ---- 1 + 2: an unused variable, a logic error with a message ----
cd "$T"
"$CZCTL" api new greet >/dev/null
P=$T/greet
cat >"$P/internal/logic/greet_logic.c" <<'C'
#include <string.h>
#include "internal/logic/logic.h"

int greet_logic(service_context_t *svc, cz_req_t *req, const request_t *in, response_t *out)
{
    int unused = 42; /* a newcomer's leftover */
    (void)svc;
    if (!strcmp(in->name, "me"))
        return cz_logic_error(req, 409, 1001, "name %s taken", in->name);
    out->message = cz_arena_sprintf(cz_req_arena(req), "hello %s", in->name);
    return 0;
}
C
build "$P" || { tail -30 "$P/build.log"; fail "an unused variable stops the build"; }
grep -q "unused variable .unused." "$P/build.log" ||
    fail "no -Wall warning shown for the unused variable: $(tail -5 "$P/build.log")"
echo "ok: an unused variable in the user's logic warns and builds"

serve "$P"
call /from/you
[ "$STATUS" = 200 ] && [ "$BODY" = '{"message":"hello you"}' ] || fail "/from/you: $STATUS $BODY"
call /from/me
[ "$STATUS" = 409 ] && [ "$BODY" = "name me taken" ] && [ "$CTYPE" = "text/plain; charset=utf-8" ] ||
    fail "/from/me without an error handler: $STATUS [$CTYPE] $BODY"
stop

# the user's main sets go-zero's {code,msg} error handler
python3 - "$P/greet.c" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
handler = '''static int code_msg(cz_req_t *req, const cz_errx_t *e, json_t **body, void *ud)
{
    (void)req, (void)ud;
    *body = json_pack("{s:i,s:s}", "code", e->code, "msg", e->msg);
    return e->status;
}

int main('''
load = "    cz_conf_must_load(file, config_fields, &c);\n"
assert "int main(" in s and load in s
s = s.replace("int main(", handler, 1).replace(load, load + "    cz_http_set_error_handler(code_msg, NULL);\n", 1)
open(p, "w").write(s)
PY
build "$P" || { tail -30 "$P/build.log"; fail "greet.c with an error handler does not build"; }
serve "$P"
call /from/me
[ "$STATUS" = 409 ] && [ "$BODY" = '{"code":1001,"msg":"name me taken"}' ] &&
    [ "$CTYPE" = "application/json; charset=utf-8" ] ||
    fail "/from/me with the error handler: $STATUS [$CTYPE] $BODY"
call /from/them # not in options=you|me: the binding error, through the same handler
[ "$STATUS" = 400 ] && [ "$CTYPE" = "application/json; charset=utf-8" ] &&
    echo "$BODY" | grep -q '^{"code":0,"msg":"value \\"them\\" for field \\"name\\"' ||
    fail "/from/them with the error handler: $STATUS [$CTYPE] $BODY"
call /from/you
[ "$STATUS" = 200 ] && [ "$BODY" = '{"message":"hello you"}' ] || fail "/from/you: $STATUS $BODY"
stop
echo "ok: a logic error with a message answers as text, then as {code,msg} through the handler"

# ---- 3: jwt: Auth added to the .api, regenerate, build ----
SECRET=newcomer-secret-0123456789abcdef0123
export AUTH_SECRET=$SECRET
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt() {
    local h p s
    h=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
    p=$(printf '{"uid":7,"exp":%d}' $(( $(date +%s) + 3600 )) | b64url)
    s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -hmac "$1" -binary | b64url)
    echo "$h.$p.$s"
}
add_jwt() { # dir
    sed -i 's/^service greet-api {/@server (\n\tjwt: Auth\n)\nservice greet-api {/' "$1/greet.api"
    grep -q "jwt: Auth" "$1/greet.api" || fail "could not add jwt: Auth"
}
paste_printed() { # file-with-czctl-stderr yaml: the lines after "add:" up to the next czctl line
    awk '/^czctl: .*etc\/greet.yaml has no Auth section/ { on = 1; next }
         /^czctl: / { on = 0 } on' "$1" >>"$2"
}
cp -r "$P" "$T/old" && rm -rf "$T/old/build" # for step 4, before the jwt
add_jwt "$P"
"$CZCTL" api c -api "$P/greet.api" -dir "$P" -q 2>"$T/regen.err" || fail "regeneration failed"
grep -q "etc/greet.yaml has no Auth section" "$T/regen.err" ||
    fail "czctl did not say what etc/greet.yaml lacks: $(cat "$T/regen.err")"
build "$P" || { tail -30 "$P/build.log"; fail "jwt: Auth added and regenerated: the build fails"; }
grep -q "auth" "$P/internal/config/api_sections.h" || fail "api_sections.h lacks the Auth member"
(cd "$P" && timeout 5 ./build/greet -f etc/greet.yaml >/dev/null 2>"$T/start.err") &&
    fail "the service started without the Auth section"
grep -q "Auth" "$T/start.err" || fail "start without Auth: $(cat "$T/start.err")"
paste_printed "$T/regen.err" "$P/etc/greet.yaml"
grep -q '^  AccessSecret: ${AUTH_SECRET:-' "$P/etc/greet.yaml" || fail "nothing pasted: $(cat "$T/regen.err")"
"$CZCTL" api c -api "$P/greet.api" -dir "$P" -q 2>"$T/regen2.err"
[ ! -s "$T/regen2.err" ] || fail "czctl still complains after the paste: $(cat "$T/regen2.err")"
serve "$P"
call /from/you
[ "$STATUS" = 401 ] || fail "jwt route without a token: $STATUS $BODY"
call /from/you "Authorization: Bearer $(jwt "$SECRET")"
[ "$STATUS" = 200 ] && [ "$BODY" = '{"message":"hello you"}' ] || fail "with a token: $STATUS $BODY"
stop
echo "ok: jwt: Auth added, regenerated, built; the printed YAML section pasted; 401 / 200"

# ---- 4: a config.h from an older czctl: czctl prints what to add ----
O=$T/old
cat >"$O/internal/config/config.h" <<'C'
/* Scaffolded by czctl. Safe to edit. */
/*
 * config.h: as czctl wrote it before api_sections.h (the jwt types always, no sections).
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <czero/config.h>

/* go-zero's Auth section: the JWT secret and token lifetime (seconds) */
typedef struct jwt_auth_conf {
    char *access_secret; /* AccessSecret */
    int64_t access_expire; /* AccessExpire */
} jwt_auth_conf_t;

/* go-zero's jwtTransition section: during a secret rotation both are accepted */
typedef struct jwt_trans_conf {
    char *secret; /* Secret */
    char *prev_secret; /* PrevSecret */
} jwt_trans_conf_t;

typedef struct config {
    cz_rest_conf_t rest; /* Name, Host, Port, Log, ... */
} config_t;

extern const cz_conf_field_t config_fields[];

#endif
C
cat >"$O/internal/config/config.c" <<'C'
/* Scaffolded by czctl. Safe to edit. */
#include <stddef.h>
#include "internal/config/config.h"

const cz_conf_field_t config_fields[] = {
    {.key = "", .type = CZ_CONF_INLINE, .offset = offsetof(config_t, rest),
     .sub = cz_rest_conf_fields},
    {0},
};
C
add_jwt "$O"
"$CZCTL" api c -api "$O/greet.api" -dir "$O" -q 2>"$T/old.err" || fail "regeneration failed"
grep -q "config.h predates api_sections.h" "$T/old.err" ||
    fail "czctl did not say what the old config.h lacks: $(cat "$T/old.err")"
python3 - "$T/old.err" "$O/internal/config" <<'PY'
import sys
err, d = open(sys.argv[1]).read().split("\n"), sys.argv[2]
i = next(k for k, l in enumerate(err) if "predates api_sections.h" in l)
inc = err[i + 1]
j = err.index("and in config_t:", i)
k = next(n for n in range(j, len(err)) if err[n].startswith("and in config_fields"))
members, fields = err[j + 1:k], [l for l in err[k + 1:] if l.startswith("    ")]
h = open(d + "/config.h").read()
h = h.replace("#include <czero/config.h>\n", "#include <czero/config.h>\n" + inc + "\n", 1)
h = h.replace("} config_t;", "\n".join(members) + "\n} config_t;", 1)
open(d + "/config.h", "w").write(h)
c = open(d + "/config.c").read()
c = c.replace("    {0},\n};", "\n".join(fields) + "\n    {0},\n};", 1)
open(d + "/config.c", "w").write(c)
PY
paste_printed "$T/old.err" "$O/etc/greet.yaml"
build "$O" || { tail -30 "$O/build.log"; fail "the old config.h with the printed lines does not build"; }
serve "$O"
call /from/you
[ "$STATUS" = 401 ] || fail "old config: jwt route without a token: $STATUS"
call /from/you "Authorization: Bearer $(jwt "$SECRET")"
[ "$STATUS" = 200 ] || fail "old config: with a token: $STATUS $BODY"
stop
echo "ok: an older config.h: the printed lines pasted, built, 401 / 200"
