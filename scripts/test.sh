#!/usr/bin/env bash
# Runs every czero test: the release build's suite, the same suite under ASan+UBSan, and each
# libFuzzer target for a bounded time; a gcc -O3 Release build is compiled too (not run). Exits
# non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}      # the HTTP request parser (issue: at least 60 s)
FUZZ_OTHER_SECONDS=${FUZZ_OTHER_SECONDS:-30}  # every other parser

stage() { printf '\n==== %s ====\n' "$*"; }

stage "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$JOBS"

stage "sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCZ_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"

# Compiled only, not run: gcc's -O3 sees through more inlining and warns where -O2 does not
# (-Wmaybe-uninitialized, -Wformat-truncation, -Wstringop-overread), and -Werror turns that into
# a Release build that refuses to compile.
stage "Release build (-O3, compile only)"
cmake -S . -B build-o3 -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-o3 -j "$JOBS"

stage "fuzz build (clang, libFuzzer)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCZ_FUZZ=ON -DCZ_TESTS=OFF >/dev/null
cmake --build build-fuzz -j "$JOBS"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

stage "fuzz targets"
shopt -s nullglob
for f in build-fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  secs=$FUZZ_OTHER_SECONDS
  [ "$name" = fuzz_http ] && secs=$FUZZ_SECONDS
  echo "$name: ${secs}s"
  "$f" -max_total_time="$secs" -artifact_prefix="build-fuzz/$name-" "$work" \
    >"build-fuzz/$name.log" 2>&1 || {
    echo "$name found a problem:"; tail -60 "build-fuzz/$name.log"; exit 1; }
  rm -rf "$work"
done

stage "tests under ASan + UBSan"
(cd build-asan && ctest --output-on-failure -j "$JOBS")

stage "tests (release build)"
(cd build && ctest --output-on-failure -j "$JOBS")
