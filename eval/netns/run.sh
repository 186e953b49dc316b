#!/bin/sh
# Split inference across two network namespaces joined by a veth pair whose
# edge->cloud direction is shaped by tc (tbf rate + netem delay). Root only;
# not run by CI. Cleans up after itself (namespaces, and with them the veth
# pair and qdiscs), also on errors and Ctrl-C.
#
#   sudo eval/netns/run.sh [-b BUILD] [-m MODEL] [-r RATE] [-d DELAY] [-- EDGE ARGS]
#
#   -b BUILD  build directory holding `cleave` (default build)
#   -m MODEL  default zoo:tiny-yolov2
#   -r RATE   tc rate of the uplink, e.g. 5.85mbit (default 18.88mbit)
#   -d DELAY  netem one-way delay (default 10ms)
# Any arguments after -- go to `cleave edge` (e.g. --planner dsl --frames 20).
# The edge is NOT paced by cleave here (no --link): tc does the shaping, and
# the edge's probe and passive estimate should read within 10% of RATE.
set -eu
BUILD=build MODEL=zoo:tiny-yolov2 RATE=18.88mbit DELAY=10ms
while getopts b:m:r:d: o; do
  case $o in
    b) BUILD=$OPTARG ;; m) MODEL=$OPTARG ;; r) RATE=$OPTARG ;; d) DELAY=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (ip netns, tc)" >&2; exit 2; }
CLEAVE=$(cd "$BUILD" && pwd)/cleave
[ -x "$CLEAVE" ] || { echo "run.sh: no $CLEAVE" >&2; exit 2; }
EDGE=clv-edge-$$ CLOUD=clv-cloud-$$
SRV=
cleanup() {
  [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null || true
  ip netns del "$EDGE" 2>/dev/null || true
  ip netns del "$CLOUD" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns add "$EDGE"
ip netns add "$CLOUD"
ip link add veth-e$$ netns "$EDGE" type veth peer name veth-c$$ netns "$CLOUD"
ip -n "$EDGE" addr add 10.77.0.1/24 dev veth-e$$
ip -n "$CLOUD" addr add 10.77.0.2/24 dev veth-c$$
ip -n "$EDGE" link set lo up
ip -n "$CLOUD" link set lo up
ip -n "$EDGE" link set veth-e$$ up
ip -n "$CLOUD" link set veth-c$$ up
# uplink (edge -> cloud): delay, then a token bucket at RATE
tc -n "$EDGE" qdisc add dev veth-e$$ root handle 1: netem delay "$DELAY"
tc -n "$EDGE" qdisc add dev veth-e$$ parent 1: handle 2: tbf rate "$RATE" burst 32kbit latency 400ms
# downlink: the same delay only
tc -n "$CLOUD" qdisc add dev veth-c$$ root netem delay "$DELAY"
ip netns exec "$CLOUD" "$CLEAVE" serve --model "$MODEL" --listen 10.77.0.2:7878 &
SRV=$!
sleep 1
ip netns exec "$EDGE" "$CLEAVE" edge --model "$MODEL" --server 10.77.0.2:7878 "$@"
