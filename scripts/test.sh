#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build,
# and pass the tests — a plain build, a cross-build for aarch64 whose tests
# run under qemu, an AddressSanitizer + UndefinedBehaviorSanitizer build,
# and the loader fuzzers for a bounded time.
#   FUZZ_SECONDS=N   seconds per fuzzer (default 30; 0 skips fuzzing)
#   AARCH64=0        leaves out the aarch64 step
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash scripts/install-deps.sh
# the peers the tests compare with (ONNX Runtime through node); a missing
# peer then fails its test instead of skipping
bash scripts/install-peers.sh
export CLEAVE_REQUIRE_PEERS=1

echo "== build (strict warnings as errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLEAVE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== eval quick variants (the experiments' scripts must not rot)"
QUICK=1 bash eval/jps/table1.sh build
QUICK=1 bash eval/jalad/run.sh build
QUICK=1 bash eval/overload/run.sh build

if [ "${AARCH64:-1}" != 0 ]; then
  bash scripts/test-aarch64.sh build
fi

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLEAVE_SANITIZE=ON -DCLEAVE_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
# The peer comparisons (ONNX Runtime, libdarknet) ran in the plain build;
# under the sanitizers they would check the peers' code, not cleave's, at
# several times the cost, so they are left out here.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CLEAVE_DARKNET_PEER=0 ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '_peer$'


if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  echo "== fuzzers"
  bash scripts/run-fuzzers.sh "${FUZZ_SECONDS:-30}"
fi
