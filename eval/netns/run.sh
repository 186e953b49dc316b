#!/bin/sh
# Split inference across two network namespaces whose edge->cloud direction
# is shaped by tc's tbf, with a fixed delay in both directions. Root only;
# not run by CI. Cleans up after itself (namespaces, and with them the
# devices and qdiscs; the delay line), also on errors and Ctrl-C.
#
#   eval/netns/run.sh [-b BUILD] [-m MODEL] [-r RATE] [-d DELAY] [-B BURST]
#                     [-l LOG] [-I] [-P FILE] [-p PROBE]
#                     [-- EDGE ARGS]
#
#   -b BUILD  build directory holding `cleave` (default build)
#   -m MODEL  default zoo:tiny-yolov2
#   -r RATE   tc rate of the uplink, e.g. 5.85mbit (default 18.88mbit)
#   -d DELAY  one-way delay in ms, each direction (default 0)
#   -B BURST  tbf bucket (default 32kbit: a few MTU-sized packets)
#   -l LOG    write the server's log there (default: discarded)
#   -P FILE   with a delay: log every packet there (delayline.py)
#   -p PROBE  run PROBE (eval/netns/probe.c, built by probe.sh) instead of
#             cleave: `PROBE serve` in the cloud, `PROBE ADDR EDGE ARGS` at
#             the edge (the active probe alone, many times)
#   -I        no TCP slow start after idle in either namespace
#             (sysctl net.ipv4.tcp_slow_start_after_idle=0; default: on,
#             as on a real device)
# Any arguments after -- go to `cleave edge` (e.g. --planner dsl --frames 20).
# The edge is NOT paced by cleave here (no --link): tc does the shaping, and
# the edge's probe and passive estimate should read within 10% of RATE.
#
# With DELAY 0 the namespaces are joined by a veth pair with tbf on the
# edge's end. With a delay they are joined by eval/netns/delayline.py: a
# tun device in each namespace and a process that moves every packet from
# one to the other DELAY ms after reading it (tc's netem would do this in
# the kernel, but kernels built without CONFIG_NET_SCH_NETEM lack it); tbf
# sits on the edge's tun device, so packets are shaped, then delayed.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=build MODEL=zoo:tiny-yolov2 RATE=18.88mbit DELAY=0 BURST=32kbit LOG=/dev/null SSAI=1 PLOG= PROBE=
while getopts b:m:r:d:B:l:IP:p: o; do
  case $o in
    b) BUILD=$OPTARG ;; m) MODEL=$OPTARG ;; r) RATE=$OPTARG ;;
    d) DELAY=${OPTARG%ms} ;; B) BURST=$OPTARG ;; l) LOG=$OPTARG ;; I) SSAI=0 ;;
    P) PLOG=$OPTARG ;; p) PROBE=$OPTARG ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (ip netns, tc)" >&2; exit 2; }
CLEAVE=$(cd "$BUILD" && pwd)/cleave
[ -n "$PROBE" ] && CLEAVE=$(cd "$(dirname "$PROBE")" && pwd)/$(basename "$PROBE")
[ -x "$CLEAVE" ] || { echo "run.sh: no $CLEAVE" >&2; exit 2; }
EDGE=clv-edge-$$ CLOUD=clv-cloud-$$
SRV= DL= READY=
cleanup() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  if [ -n "$DL" ]; then kill "$DL" 2>/dev/null || true; wait "$DL" 2>/dev/null || true; fi
  [ -n "$READY" ] && rm -f "$READY"
  ip netns del "$EDGE" 2>/dev/null || true
  ip netns del "$CLOUD" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$EDGE"
ip netns add "$CLOUD"
ip -n "$EDGE" link set lo up
ip -n "$CLOUD" link set lo up
for ns in "$EDGE" "$CLOUD"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_slow_start_after_idle=$SSAI; done
if [ "$DELAY" = 0 ]; then
  DEV=veth-e$$
  ip link add "$DEV" netns "$EDGE" type veth peer name veth-c$$ netns "$CLOUD"
  ip -n "$EDGE" addr add 10.77.0.1/24 dev "$DEV"
  ip -n "$CLOUD" addr add 10.77.0.2/24 dev veth-c$$
  ip -n "$EDGE" link set "$DEV" up
  ip -n "$CLOUD" link set veth-c$$ up
else
  DEV=clv-tun
  READY=$(mktemp)
  rm -f "$READY"
  /usr/bin/python3 "$HERE/delayline.py" "$EDGE" "$CLOUD" "$DELAY" "$READY" ${PLOG:+"$PLOG"} &
  DL=$!
  i=0
  while [ ! -s "$READY" ]; do
    kill -0 "$DL" 2>/dev/null || { echo "run.sh: delayline.py failed" >&2; exit 1; }
    i=$((i + 1)); [ $i -lt 100 ] || { echo "run.sh: delayline.py not ready" >&2; exit 1; }
    sleep 0.05
  done
  ip -n "$EDGE" addr add 10.77.0.1 peer 10.77.0.2 dev "$DEV"
  ip -n "$CLOUD" addr add 10.77.0.2 peer 10.77.0.1 dev "$DEV"
  ip -n "$EDGE" link set "$DEV" up
  ip -n "$CLOUD" link set "$DEV" up
fi
# uplink (edge -> cloud): a token bucket at RATE
tc -n "$EDGE" qdisc add dev "$DEV" root handle 1: tbf rate "$RATE" burst "$BURST" latency 400ms
if [ -n "$PROBE" ]; then
  ip netns exec "$CLOUD" "$CLEAVE" serve 10.77.0.2:7878 >"$LOG" 2>&1 &
else
  # --insecure: the two namespaces are this machine's own, but the edge's
  # address (10.77.0.1) is not loopback, so protected mode would refuse it
  ip netns exec "$CLOUD" "$CLEAVE" serve --model "$MODEL" --listen 10.77.0.2:7878 --insecure >"$LOG" 2>&1 &
fi
SRV=$!
i=0
until ip netns exec "$CLOUD" ss -Hltn 2>/dev/null | grep -q 10.77.0.2:7878; do
  kill -0 "$SRV" 2>/dev/null || { echo "run.sh: cleave serve failed (see -l LOG)" >&2; exit 1; }
  i=$((i + 1)); [ $i -lt 200 ] || { echo "run.sh: cleave serve does not listen" >&2; exit 1; }
  sleep 0.05
done
if [ -n "$PROBE" ]; then
  ip netns exec "$EDGE" "$CLEAVE" 10.77.0.2:7878 "$@"
else
  ip netns exec "$EDGE" "$CLEAVE" edge --model "$MODEL" --server 10.77.0.2:7878 "$@"
fi
