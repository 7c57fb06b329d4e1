#!/usr/bin/env bash
# The build step of `make run` / `make run-gateway` is quiet unless it fails (issue 13, point 8):
# `make build` on an up-to-date build directory prints fewer than 5 lines (make's directory
# chatter and cmake's progress go to BUILD/build.log), and a build that fails prints its errors
# and exits non-zero. Runs the real Makefile on the build directory under test, with that
# directory's own CMAKE_BUILD_TYPE so its configuration is left as it was.
set -u
BUILD=${1:?build dir}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
[ -n "$type" ] || fail "no CMAKE_BUILD_TYPE in $BUILD/CMakeCache.txt"
# as a newcomer's shell runs it: not a sub-make of `make test` (which would print directories)
mk() { (cd "$ROOT" && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make "$@"); }

mk build BUILD="$BUILD" BUILD_TYPE="$type" > "$tmp/out" 2>&1 || fail "make build: $(cat "$tmp/out")"
n=$(wc -l < "$tmp/out")
[ "$n" -lt 5 ] || fail "make build printed $n lines (want < 5):
$(head -20 "$tmp/out")"
echo "ok: make build printed $n line(s): $(cat "$tmp/out")"
[ -s "$BUILD/build.log" ] || fail "no $BUILD/build.log"

CC=false mk build BUILD="$tmp/b" > "$tmp/bad" 2>&1 && fail "a failing build exited 0"
grep -q 'CMake Error' "$tmp/bad" || fail "a failing build does not show the error: $(cat "$tmp/bad")"
grep -q 'make: the build failed' "$tmp/bad" || fail "no failure line: $(tail -3 "$tmp/bad")"
echo "ok: a failing build shows its errors ($(wc -l < "$tmp/bad") lines) and exits non-zero"
echo PASS
