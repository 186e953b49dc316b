#!/usr/bin/env bash
# The JPS paper's Table 1 on cleave's runtime: for each model and uplink,
# JOBS frames released at once, run three ways over loopback through the
# token-bucket pacer with the edge slowed to a Raspberry Pi 4 class speed:
# every job on the edge (LO), every job at DSL's cut (PO), and JPS's
# schedule. Prints each makespan, predicted and measured, and the measured
# reduction against LO, as a Markdown table.
#
#   bash eval/jps/table1.sh [BUILD_DIR]        # the full table (~20 min)
#   QUICK=1 bash eval/jps/table1.sh            # one model, one link, 5 jobs
#
# Environment: MODELS (alexnet mobilenet-v2 googlenet resnet18), LINKS (3g
# 4g wifi), JOBS (100), BURSTS (1), SLOWDOWN (0.1: the edge computes at a
# tenth of one core of this machine; docs/jps.md says why).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cleave=$build/cleave
[ -x "$cleave" ] || { echo "table1: no $cleave; build first" >&2; exit 1; }
if [ -n "${QUICK:-}" ]; then
  MODELS=${MODELS:-mobilenet-v2} LINKS=${LINKS:-4g} JOBS=${JOBS:-5}
fi
models=${MODELS:-alexnet mobilenet-v2 googlenet resnet18}
links=${LINKS:-3g 4g wifi}
jobs=${JOBS:-100}
bursts=${BURSTS:-1}
slowdown=${SLOWDOWN:-0.1}

. "$root/eval/lib.sh"
eval_init table1

echo "| model | link | LO ms (pred / meas) | PO ms (pred / meas) | JPS ms (pred / meas) | PO vs LO | JPS vs LO |"
echo "|---|---|---|---|---|---|---|"
for m in $models; do
  start_server "zoo:$m"
  for l in $links; do
    timeout 3600 "$cleave" edge --model "zoo:$m" --server "127.0.0.1:$port" \
      --planner jps --jobs "$jobs" --bursts "$bursts" --link "$l" \
      --slowdown "$slowdown" --cloud-times local --compare --json --quiet \
      --audit 0 \
      >"$work/out.json"
    python3 - "$m" "$l" "$work/out.json" <<'EOF'
import json, sys
m, l, path = sys.argv[1:4]
d = json.load(open(path))
s = {x["name"]: x for x in d["schemes"]}
lo = s["LO"]["measured_ms"]
cell = lambda k: "%.0f / %.0f" % (s[k]["predicted_ms"], s[k]["measured_ms"])
red = lambda k: "%.1f%%" % (100 * (1 - s[k]["measured_ms"] / lo))
print("| %s | %s | %s | %s | %s | %s | %s |" % (m, l, cell("LO"), cell("PO"),
      cell("JPS"), red("PO"), red("JPS")))
EOF
  done
  stop_server
done
