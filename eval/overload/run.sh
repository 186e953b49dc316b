#!/usr/bin/env bash
# Overload: many edges send whole frames (the cloud planner: every node on
# the server) to one `cleave serve` on loopback, as fast as they can. Run
# twice: with a memory budget and the default queue bound (the server
# sheds: BUSY, the edges back off and run those frames themselves), and
# with both bounds lifted (everything queues, as before they existed).
# Prints the server's peak RSS and budget peak, frames done and shed, and
# the latency of the frames the server answered (p50, p99, from the
# edges' traces), one row per run.
#   bash eval/overload/run.sh [BUILD_DIR]      # 40 edges x 20 frames, resnet18
#   QUICK=1 bash eval/overload/run.sh          # 4 edges x 6 frames, lenet
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cleave=$build/cleave
[ -x "$cleave" ] || { echo "run.sh: build cleave first ($cleave)" >&2; exit 1; }
. "$root/eval/lib.sh"
eval_init overload

if [ "${QUICK:-0}" = 1 ]; then
  model=zoo:lenet edges=4 frames=6 budget=64M
else
  model=zoo:resnet18 edges=40 frames=20 budget=1G
fi

run() { # NAME SERVE-OPTIONS...
  local name=$1; shift
  start_server "$model" --threads 2 "$@"
  local pids=()
  for i in $(seq 1 "$edges"); do
    # the edges stand for other machines: here they share the server's
    # cores, so they yield to it (nice) instead of starving it
    timeout 900 nice -n 19 "$cleave" edge --model "$model" --server "127.0.0.1:$port" \
      --planner cloud --frames "$frames" --audit 0 --quiet --json \
      --trace "$work/trace.$i.json" >"$work/edge.$i.json" &
    pids+=($!)
  done
  local rss=0
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null; do
      r=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status" 2>/dev/null || echo 0)
      [ "${r:-0}" -gt "$rss" ] && rss=$r
      sleep 0.2
    done
    wait "$p"
  done
  r=$(awk '/VmHWM/ {print $2}' "/proc/$srv/status" 2>/dev/null || echo 0)
  [ "${r:-0}" -gt "$rss" ] && rss=$r
  stop_server
  python3 - "$name" "$rss" "$edges" "$work" <<'PY'
import glob, json, re, sys
name, rss_kib, edges, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lat, ok, busy, frames = [], 0, 0, 0
for i in range(1, edges + 1):
    e = json.load(open(f"{work}/edge.{i}.json"))
    ok += e["ok"]; busy += e["busy"]; frames += e["frames"]
    ev = json.load(open(f"{work}/trace.{i}.json"))
    split = {x["args"]["frame"] for x in ev if x["name"] == "cloud"}
    lat += [x["dur"] / 1e3 for x in ev if x["name"] == "frame" and x["args"]["frame"] in split]
log = open(f"{work}/serve.log").read()
m = re.search(r"(\d+) frames done, \d+ failed, (\d+) shed.*memory peak ([\d.]+) of ([\d.]+) MiB", log)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")
assert ok == frames, f"{name}: {ok} of {frames} frames ok"
print(f"| {name} | {frames} | {m.group(1)} | {m.group(2)} | {busy} | "
      f"{rss_kib / 1024:.0f} | {float(m.group(3)):.0f} of {float(m.group(4)):.0f} | "
      f"{q(0.5):.0f} | {q(0.99):.0f} |")
PY
}

echo "$edges edges x $frames frames of $model, every node on the server (2 workers)"
echo
echo "| server | frames | done by server | shed (BUSY) | edge saw BUSY | peak RSS MiB | budget peak MiB | p50 ms | p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|"
run "budget $budget, queue 32" --max-memory "$budget"
run "no bounds" --max-memory 1T --max-queue 100000
