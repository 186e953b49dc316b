#!/usr/bin/env bash
# cleave's engine against ONNX Runtime in one process (bench/engine/inproc.c):
# per model, ORT median, cleave median and their ratio, the two runtimes' runs
# alternating, CPU time of the calling thread (one thread) or wall-clock time
# (several). On a shared
# machine whose speed drifts from minute to minute this is the comparison to
# trust; bench/engine/run.sh times each runtime in its own process.
#
#   bench/engine/inproc.sh [BUILD_DIR]
#
# Builds libcleave (Release) in BUILD_DIR (default build-bench), installs
# onnxruntime-node into tools/node_modules when missing
# (scripts/install-peers.sh), compiles bench/engine/inproc.c against both and
# runs it. Not part of ctest. Environment:
#   MODELS   zoo names or .onnx files (default: resnet18 mobilenet-v2 alexnet
#            vgg16 googlenet tiny-yolov2)
#   RUNS     timed runs per round of each runtime (default 15; vgg16 4 and
#            tiny-yolov2 8 unless RUNS is set)
#   ROUNDS   rounds per model (default 2)
#   THREADS  thread counts, each model run with each (default 1; ONNX
#            Runtime's intra-op threads and cleave's options.threads)
#   BASELINE a git revision: also builds libcleave at that revision (in a
#            temporary worktree) and runs its benchmark right after this
#            tree's for every model, so that a change is judged by both
#            builds' ratios to ONNX Runtime in the same run
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-bench}
jobs=$(( $(nproc) < 2 ? $(nproc) : 2 ))

echo "== build (Release) in $build" >&2
log=$(mktemp /tmp/cleave_inproc_build.XXXXXX)
if ! { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release &&
       cmake --build "$build" -j"$jobs" --target cleave; } >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"

echo "== peers" >&2
bash "$root/scripts/install-peers.sh" >&2
ort_lib=$(find "$root/tools/node_modules/onnxruntime-node/bin" -name 'libonnxruntime.so.1' \
            -path '*linux/x64*' 2>/dev/null | head -n1)
if [ -z "$ort_lib" ]; then
  echo "inproc: no libonnxruntime.so.1 under tools/node_modules/onnxruntime-node/bin" >&2
  exit 1
fi

work=$(mktemp -d /tmp/cleave_inproc.XXXXXX)
trap 'rm -rf "$work"' EXIT
# inproc.c itself comes from this tree; each build's library under it
link_inproc() { # LIBCLEAVE.a OUT
  # shellcheck disable=SC2046
  cc -O2 -std=c11 -Wall -Wextra -pedantic -I"$root/include" "$root/bench/engine/inproc.c" \
    "$1" $(pkg-config --libs libprotobuf-c libcjson openblas libcrypto libzstd stb zlib) \
    -lglpk -lpthread -lm -ldl -o "$2"
}
link_inproc "$build/libcleave.a" "$work/inproc"
if [ -n "${BASELINE:-}" ]; then
  echo "== baseline $BASELINE (Release) in $work/base" >&2
  git -C "$root" worktree add --detach "$work/base" "$BASELINE" >/dev/null 2>&1
  trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1; rm -rf "$work"' EXIT
  if ! { cmake -S "$work/base" -B "$work/base/build" -DCMAKE_BUILD_TYPE=Release &&
         cmake --build "$work/base/build" -j"$jobs" --target cleave; } >"$work/base.log" 2>&1; then
    cat "$work/base.log" >&2; exit 1
  fi
  link_inproc "$work/base/build/libcleave.a" "$work/inproc-base"
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
status=0
for m in ${MODELS:-resnet18 mobilenet-v2 alexnet vgg16 googlenet tiny-yolov2}; do
  runs=${RUNS:-}
  if [ -z "$runs" ]; then
    case "$m" in vgg16) runs=4 ;; tiny-yolov2) runs=8 ;; *) runs=15 ;; esac
  fi
  for t in ${THREADS:-1}; do
    [ -z "${BASELINE:-}" ] || echo "-- this tree" >&2
    "$work/inproc" "$ort_lib" --runs "$runs" --rounds "${ROUNDS:-2}" --threads "$t" "$m" || status=1
    if [ -n "${BASELINE:-}" ]; then
      echo "-- baseline $BASELINE" >&2
      "$work/inproc-base" "$ort_lib" --runs "$runs" --rounds "${ROUNDS:-2}" --threads "$t" "$m" || status=1
    fi
  done
done
exit $status
