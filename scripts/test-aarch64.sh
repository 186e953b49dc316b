#!/usr/bin/env bash
# The edge's real architecture: cross-builds cleave for aarch64 (Debian's
# gcc-aarch64-linux-gnu and arm64 multiarch libraries, installed here when
# missing), runs the graph, engine, plan and net tests under
# qemu-user-static, and checks that the engine's outputs on aarch64 equal
# those of the x86-64 build (BUILD, default build/) on the zoo's networks,
# within the tolerance of the peer tests (rtol 1e-3 of the largest
# magnitude). qemu's timings mean nothing; its results do.
#   AARCH64_JOBS=N  parallel test jobs (default: nproc)
# Run from scripts/test.sh after the x86-64 build; alone:
#   bash scripts/test-aarch64.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
host_build=${1:-build}
out=build-aarch64
jobs=${AARCH64_JOBS:-$(nproc)}

bash scripts/install-deps.sh --aarch64

echo "== cross-build for aarch64 ($out)"
cmake -S . -B "$out" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLEAVE_WERROR=ON >/dev/null
cmake --build "$out" -j"$jobs"
file "$out/cleave" | grep -q 'ARM aarch64' ||
  { echo "test-aarch64: $out/cleave is not an aarch64 program" >&2; exit 1; }

echo "== tests under qemu-aarch64"
# ctest runs them through CMAKE_CROSSCOMPILING_EMULATOR (qemu, with
# CLEAVE_TEST_EMULATED=1: no timing assertions, the largest models left out)
ctest --test-dir "$out" --output-on-failure -j"$jobs" \
  -R '^test_(graph|shape|engine|engine_split|engine_simd|plan|plan_problem|plan_engine|plan_jalad|net|codec|dataset)$'

echo "== aarch64 outputs against x86-64"
qemu() { env OPENBLAS_NUM_THREADS=1 qemu-aarch64-static -L / "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in lenet:28 resnet18:64 mobilenet-v2:64 googlenet:64 tiny-yolov2:96; do
  name=${spec%%:*} size=${spec##*:}
  "$host_build/cleave" zoo "$name" -o "$tmp/$name.onnx" --seed 5 --size "$size" >/dev/null
  "$host_build/cleave" run "$tmp/$name.onnx" --seed 9 --repeat 1 --output "$tmp/$name.x86" >/dev/null
  qemu "$out/cleave" run "$tmp/$name.onnx" --seed 9 --repeat 1 --output "$tmp/$name.arm" >/dev/null
  python3 scripts/compare_outputs.py "$name" "$tmp/$name.x86" "$tmp/$name.arm"
done
