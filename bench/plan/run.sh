#!/bin/sh
# Planning-time benchmark: builds bench_plan against a release build of
# libcleave, runs it on the zoo and the large darknet graphs, then times
# networkx's boykov_kolmogorov on the same min-cut networks. Also builds
# bench_dsh (BUILD/bench-plan/bench_dsh RUNS [MODEL ...]: dsh alone).
#
# usage: bench/plan/run.sh [BUILD_DIR [MODEL ...]]  (default: build-bench,
#        configured here as Release if missing; MODEL as for bench_plan)
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-bench}
[ $# -gt 0 ] && shift
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j2 --target cleave >/dev/null
OUT="$BUILD/bench-plan"
mkdir -p "$OUT"
rm -f "$OUT"/*.net
# each benchmark against the release libcleave.a
build() {
    cc -std=c11 -O2 -Wall -Wextra -pedantic -I"$ROOT/include" -I"$ROOT/src" \
        "$ROOT/bench/plan/$1.c" "$BUILD/libcleave.a" \
        $(pkg-config --libs libcjson libprotobuf-c openblas libcrypto libzstd stb zlib) \
        -lglpk -lpthread -lm -o "$OUT/$1"
}
build bench_plan
# bench_dsh: dsh alone, median and a fingerprint of the plan (to compare
# two builds: same plans, which is faster); not run here
build bench_dsh
# bench_jps: JPS for 100 jobs (frontier and chain); run below
build bench_jps
# bench_jalad: JALAD's planner, enumeration and GLPK; run below
build bench_jalad
"$OUT/bench_jps" 51 100
echo
"$OUT/bench_jalad" 101
echo
"$OUT/bench_plan" "$OUT" "$@"
echo
python3 "$ROOT/bench/plan/nx_peer.py" "$OUT"
