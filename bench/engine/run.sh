#!/usr/bin/env bash
# The engine benchmark: cleave against ONNX Runtime, PyTorch and darknet,
# in one run, on the same machine, input and thread counts.
#
#   bench/engine/run.sh [BUILD_DIR]
#
# Builds a Release cleave in BUILD_DIR (default build-bench), installs the
# peers when missing (scripts/install-peers.sh --torch: onnxruntime-node in
# tools/node_modules, Debian's python3-torch), compiles the darknet driver
# against Debian's libdarknet, and runs bench/engine/bench.py, which prints a
# Markdown table of medians and ratios to ONNX Runtime (docs/performance.md,
# "Engine"). Environment:
#   MODELS          models (default: resnet18 mobilenet-v2 alexnet vgg16
#                   googlenet tiny-yolov2)
#   THREADS         thread counts (default "1 2")
#   REPEAT          timed runs per measurement after one warm-up (default 10)
#   DARKNET_REPEAT  timed runs of darknet (default 3; it is slow)
#   ROUNDS          rounds per measurement, the runners in alternating order;
#                   each figure is the lowest per-round median (default 2)
#   NO_TORCH=1      skip PyTorch
#   JSON_OUT=FILE   also write every measurement as JSON
#   INPROC=1        instead: cleave and ONNX Runtime in one process, runs
#                   alternating (bench/engine/inproc.sh, which reads MODELS,
#                   RUNS, ROUNDS and THREADS, there by default 1)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${INPROC:-0}" = 1 ]; then
  exec bash "$root/bench/engine/inproc.sh" "$@"
fi
build=${1:-$root/build-bench}
jobs=$(( $(nproc) < 2 ? $(nproc) : 2 ))

echo "== build (Release) in $build" >&2
log=$(mktemp /tmp/cleave_bench_build.XXXXXX)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" -j"$jobs" --target cleave_cli; } >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"

echo "== peers" >&2
if [ "${NO_TORCH:-0}" = 1 ]; then
  bash "$root/scripts/install-peers.sh" >&2
else
  bash "$root/scripts/install-peers.sh" --torch >&2
fi

work=$(mktemp -d /tmp/cleave_bench_engine.XXXXXX)
trap 'rm -rf "$work"' EXIT
dk_args=()
if [ -f /usr/lib/darknet/include/darknet.h ] && [ -f /usr/lib/darknet/libdarknet.so ]; then
  cc -O2 -std=c11 -I/usr/lib/darknet/include "$root/bench/engine/darknet_bench.c" \
    -L/usr/lib/darknet -Wl,-rpath,/usr/lib/darknet -ldarknet -lm -o "$work/darknet_bench"
  dk_args=(--darknet-bench "$work/darknet_bench")
else
  echo "bench: no libdarknet (Debian package darknet): darknet column skipped" >&2
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
extra=()
[ "${NO_TORCH:-0}" = 1 ] && extra+=(--no-torch)
[ -n "${JSON_OUT:-}" ] && extra+=(--json-out "$JSON_OUT")
/usr/bin/python3 "$root/bench/engine/bench.py" --cleave "$build/cleave" --root "$root" \
  --work "$work" "${dk_args[@]}" "${extra[@]}" \
  --models "${MODELS:-resnet18 mobilenet-v2 alexnet vgg16 googlenet tiny-yolov2}" \
  --threads "${THREADS:-1 2}" --repeat "${REPEAT:-10}" \
  --darknet-repeat "${DARKNET_REPEAT:-3}" --rounds "${ROUNDS:-2}"
