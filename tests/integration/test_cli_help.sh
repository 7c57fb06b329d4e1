#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli_help.sh BUILD_DIR: what a newcomer types first. `--help` (and -h) on czctl, on
# `czctl api`, on each czctl subcommand, on czero-demo and czero-gateway prints usage on stdout
# and exits 0, without starting anything; `--version` on each binary prints the CMake project
# version; `czctl api swagger` (goctl's name) writes the same document as `czctl api openapi`;
# `czctl api doc` is not offered (not listed, and refused as an unknown command).
set -euo pipefail
B=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/cz-cli-help.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

VERSION=$(sed -n 's/^project(czero VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$VERSION" ] || fail "no project version in CMakeLists.txt"

helps() { # want-in-output command...
    local want=$1
    shift
    local rc=0
    (cd "$T" && timeout 5 "$@") >"$T/out" 2>"$T/err" </dev/null || rc=$?
    [ "$rc" = 0 ] || fail "'$*' exit $rc (stderr: $(head -3 "$T/err"))"
    grep -q "^usage: " "$T/out" || fail "'$*' printed no usage on stdout: $(head -3 "$T/out")"
    grep -qF -- "$want" "$T/out" || fail "'$*' usage lacks '$want': $(cat "$T/out")"
}
for h in --help -h; do
    helps "api c -api FILE" "$B/czctl" $h
    helps "api validate" "$B/czctl" api $h
    helps "usage: czctl api c -api FILE [-dir DIR] [-q]" "$B/czctl" api c $h
    helps "usage: czctl api new NAME" "$B/czctl" api new $h
    helps "usage: czctl api validate" "$B/czctl" api validate $h
    helps "usage: czctl api format" "$B/czctl" api format $h
    helps "czctl api openapi -api FILE" "$B/czctl" api openapi $h
    helps "czctl api swagger -api FILE" "$B/czctl" api swagger $h
    helps "czctl docker -go" "$B/czctl" docker $h
    helps "czctl kube deploy -name" "$B/czctl" kube deploy $h
    helps "-f etc/demo.yaml" "$B/czero-demo" $h
    helps "-f etc/gateway.yaml" "$B/czero-gateway" $h
done
# the help comes first even among other flags (nothing starts, no config is read)
helps "-f etc/demo.yaml" "$B/czero-demo" -f /nonexistent.yaml --help
helps "-f etc/gateway.yaml" "$B/czero-gateway" -f /nonexistent.yaml --help
[ ! -e "$T/greet" ] || fail "'czctl api new --help' created a project"
echo "ok: --help and -h print usage and exit 0"

for v in --version -v; do
    for exe in czctl czero-demo czero-gateway; do
        out=$(timeout 5 "$B/$exe" $v </dev/null) || fail "$exe $v: exit $?"
        [ "$out" = "$exe $VERSION" ] || fail "$exe $v: '$out', want '$exe $VERSION'"
    done
done
out=$("$B/czctl" version)
[ "$out" = "czctl $VERSION" ] || fail "czctl version: $out"
echo "ok: --version prints $VERSION on each binary"

# swagger: goctl's flags, the openapi document
api=$SRC/tests/czctl/user.api
"$B/czctl" api openapi -api "$api" -o "$T/openapi.json"
"$B/czctl" api swagger --api "$api" --dir "$T/sw" >/dev/null
cmp "$T/openapi.json" "$T/sw/user.json" || fail "swagger -dir: not the openapi document"
"$B/czctl" api swagger -api "$api" -dir "$T/sw" -filename doc -yaml >/dev/null
"$B/czctl" api openapi -api "$api" -o "$T/openapi.yaml"
cmp "$T/openapi.yaml" "$T/sw/doc.yaml" || fail "swagger -yaml: not the openapi document"
echo "ok: czctl api swagger writes the openapi document"

# api doc: neither listed nor half-offered
! "$B/czctl" --help | grep -q "api doc" || fail "czctl --help lists 'api doc'"
rc=0
"$B/czctl" api doc -api "$api" -dir "$T/doc" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q "unknown command 'doc'" "$T/err" ||
    fail "czctl api doc: exit $rc: $(cat "$T/err")"
echo "ok: czctl api doc is not offered"
