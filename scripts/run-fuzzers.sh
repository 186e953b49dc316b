#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/fuzz_*.c) with clang and runs each for
# a bounded time on a scratch copy of its corpus fuzz/corpus/<name>/, so the
# committed corpus stays small. Any crash, leak or sanitizer report fails.
#   usage: scripts/run-fuzzers.sh [SECONDS_PER_FUZZER]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCLEAVE_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)"
passed=0; failed=0
for src in fuzz/fuzz_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  corpus=fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d)
  mkdir -p "$work/corpus"
  if [ -d "$corpus" ]; then cp -r "$corpus"/. "$work/corpus"/; fi
  echo "-- $name: ${secs}s on $(ls "$work/corpus" | wc -l) seed inputs"
  if (cd "$work" && "$OLDPWD/build-fuzz/fuzz/$name" -max_total_time="$secs" -max_len=65536 \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 corpus >log.txt 2>&1); then
    passed=$((passed + 1))
    grep -E "stat::number_of_executed_units" "$work/log.txt" || true
  else
    failed=$((failed + 1))
    tail -n 60 "$work/log.txt"
    mkdir -p build-fuzz/crashes && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* build-fuzz/crashes/ 2>/dev/null || true
  fi
  rm -rf "$work"
done
echo "fuzzers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
