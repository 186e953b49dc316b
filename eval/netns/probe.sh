#!/bin/sh
# Builds eval/netns/probe.c against BUILD's libcleave.a (a Release build of
# the cleave target) into BUILD/clv-netns-probe, then runs it across the
# netns testbed at each rate and delay: TRIALS probes of REPEATS pairs each.
#
#   eval/netns/probe.sh BUILD "RATES" "DELAYS" [TRIALS [REPEATS [TARGET_MS]]]
#   e.g. eval/netns/probe.sh build "1.1 5.85 18.88 50" "0 10 40" 10 1 100
#
# Prints: rate delay, then per trial: Mbit/s (pairs), Mbit/s (receiver),
# rtt ms, pairs, seconds. Root only (run.sh).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd) RATES=$2 DELAYS=$3
shift 3
[ -f "$BUILD/libcleave.a" ] || { echo "probe.sh: no $BUILD/libcleave.a" >&2; exit 2; }
cc -std=c11 -O2 -Wall -Wextra -pedantic -I"$TOP/include" "$HERE/probe.c" \
  "$BUILD/libcleave.a" -lcjson -lprotobuf-c -lcrypto -lm -lpthread \
  -o "$BUILD/clv-netns-probe"
for r in $RATES; do
  for d in $DELAYS; do
    echo "rate $r delay $d"
    sh "$HERE/run.sh" -b "$BUILD" -p "$BUILD/clv-netns-probe" -r "${r}mbit" -d "$d" -- "$@"
  done
done
