#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fuzz.sh (make fuzz): a fuzzing campaign over czero's libFuzzer targets, with corpora that
# persist across runs. Not part of `make test`, which runs every target briefly from its seeds
# (scripts/test.sh); this one is for long runs (docs/fuzzing.md records their figures).
#
# Builds build-fuzz (clang, ASan + UBSan + libFuzzer), then runs each target in turn:
#   corpus    build-fuzz/corpus/<name>: new inputs land there and stay for the next run;
#             fuzz/corpus/<name> (the seeds in git) is read too, never written
#   artifacts build-fuzz/artifacts/<name>/ (crash-*, leak-*, timeout-*, oom-*)
#   log       build-fuzz/logs/<name>.log (the last run)
# and prints one row per target: execs, wall time, cov and ft (libFuzzer's edge and feature
# counts at the end), the corpus size (libFuzzer's inputs, and the files on disk, which keep
# inputs that were later reduced), and what it found (artifact paths). Exits 1 when any target
# found something.
#
# Environment:
#   FUZZ_TARGETS  names to run, e.g. "http gateway_forward" (default: every fuzz_* target)
#   FUZZ_TIME     seconds per target (default 300 unless FUZZ_RUNS is given)
#   FUZZ_RUNS     execs per target (single-process mode); with FUZZ_TIME, whichever comes first
#   FUZZ_JOBS     >1: libFuzzer's fork mode with that many parallel jobs (default 1)
#   FUZZ_ARGS     more libFuzzer flags, e.g. "-max_len=8192 -only_ascii=1"
#   FUZZ_CORPUS   where the persistent corpora live (default build-fuzz/corpus)
# A target's dictionary, fuzz/<name>.dict, is used when present.
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
BUILD=build-fuzz
CORPUS_ROOT=${FUZZ_CORPUS:-$BUILD/corpus}
FUZZ_JOBS=${FUZZ_JOBS:-1}

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCZ_FUZZ=ON -DCZ_TESTS=OFF \
  >/dev/null || exit 1
cmake --build "$BUILD" -j "$JOBS" >/dev/null || { cmake --build "$BUILD" -j 1; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
  for t in $FUZZ_TARGETS; do targets+=("fuzz_${t#fuzz_}"); done
else
  for f in "$BUILD"/fuzz_*; do
    [ -x "$f" ] && [ -f "$f" ] && targets+=("$(basename "$f")")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets in $BUILD" >&2; exit 1; }

limits=()
[ -n "${FUZZ_RUNS:-}" ] && limits+=("-runs=$FUZZ_RUNS")
if [ -n "${FUZZ_TIME:-}" ] || [ -z "${FUZZ_RUNS:-}" ]; then
  limits+=("-max_total_time=${FUZZ_TIME:-300}")
fi
mode=()
[ "$FUZZ_JOBS" -gt 1 ] 2>/dev/null && mode+=("-fork=$FUZZ_JOBS")

mkdir -p "$BUILD/logs"
rows=()
found=0
for name in "${targets[@]}"; do
  bin=$BUILD/$name
  [ -x "$bin" ] || { echo "fuzz.sh: no target $bin" >&2; exit 1; }
  short=${name#fuzz_}
  corpus=$CORPUS_ROOT/$short
  seeds=fuzz/corpus/$short
  art=$BUILD/artifacts/$short
  log=$BUILD/logs/$short.log
  mkdir -p "$corpus" "$art"
  dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  dict=()
  [ -f "fuzz/$short.dict" ] && dict+=("-dict=fuzz/$short.dict")
  echo "== $name: ${limits[*]} ${mode[*]} corpus $corpus" >&2
  t0=$(date +%s)
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  "$bin" "${limits[@]}" "${mode[@]}" "${dict[@]}" -print_final_stats=1 -timeout=25 \
    -artifact_prefix="$art/" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  secs=$(($(date +%s) - t0))
  # execs: the final stats (single process) or the last status line ("#N" / "#N:" in fork mode)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(printf '%s' "$last" | sed -E 's/^#([0-9]+).*/\1/')
  cov=$(printf '%s' "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
  ft=$(printf '%s' "$last" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
  units=$(printf '%s' "$last" | sed -nE 's/.* corp: ([0-9]+).*/\1/p')
  files=$(find "$corpus" -type f | wc -l)
  arts=$(sed -nE 's/.*(Test unit|[Cc]rash|artifact) written to ([^ ]+).*/\2/p' "$log" | sort -u |
    tr '\n' ' ')
  if [ "$rc" -ne 0 ] || [ -n "$arts" ]; then
    found=1
    finding="rc $rc ${arts:-(see $log)}"
  else
    finding=none
  fi
  echo "   execs ${execs:-?} in ${secs}s, cov ${cov:-?} ft ${ft:-?}, corpus ${units:-?} inputs" \
    "($files files), findings: $finding" >&2
  size="${units:-?} ($files files)"
  rows+=("| $short | ${execs:-?} | ${secs}s | ${cov:-?} | ${ft:-?} | $size | $finding |")
done

echo
echo "| target | execs | time | cov | ft | corpus | findings |"
echo "|---|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${rows[@]}"
exit $found
