#!/bin/sh
# The codec benchmark: builds bench_codec against a release build of
# libcleave (with Debian's liblz4 as a peer) and runs it; see the comment
# at the top of bench/codec/bench_codec.c for what it prints.
#
# usage: bench/codec/run.sh [BUILD_DIR [RUNS [MODEL ...]]]  (default:
#        build-bench, configured here as Release if missing; 21 runs)
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build-bench}
RUNS=${2:-21}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j2 --target cleave >/dev/null
OUT="$BUILD/bench-codec"
mkdir -p "$OUT"
cc -std=c11 -O2 -Wall -Wextra -pedantic -I"$ROOT/include" -I"$ROOT/src" \
    -DCLEAVE_SOURCE_DIR="\"$ROOT\"" \
    "$ROOT/bench/codec/bench_codec.c" "$BUILD/libcleave.a" \
    $(pkg-config --libs libcjson libprotobuf-c openblas libcrypto libzstd stb zlib liblz4) \
    -lglpk -lpthread -lm -o "$OUT/bench_codec"
"$OUT/bench_codec" "$RUNS" "$@"
