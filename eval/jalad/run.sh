#!/usr/bin/env bash
# The JALAD paper's claims on cleave, with the trained Fashion-MNIST model
# (models/fashion-mnist) and Debian's dataset-fashion-mnist:
#   1. the table: A_i(c) and S_i(c) of every cut and width, on calibration
#      images 0..CAL-1 of the test split (per tensor and per channel);
#   2. compression against the float32 cut tensor (the paper: 1/10 to
#      1/100 with Huffman), and accuracy loss against c (the paper: c >= 4
#      within 10%);
#   3. Table II's shape: JALAD's speedup over Origin2Cloud (the 8-bit
#      frame) and PNG2Cloud (the frame as PNG) at 300 KB/s and 1 MB/s,
#      with the paper's Table III devices (times from FLOPs: Tegra X2 and
#      K1 edges, a 12 TFLOP/s cloud, the paper's fitting factors) and a
#      1 GFLOP/s edge (a Raspberry Pi Zero class board);
#   (full run only) the compression of cut tensors of zoo networks
#      (seeded weights, random pixels: sizes only);
#   4. end to end: cleave serve + cleave edge --planner jalad on held-out
#      images (from 5000 on), the measured accuracy loss against the bound,
#      the bytes per frame against S_i(c), the latency against the plan.
# Prints Markdown (docs/jalad.md quotes a full run).
#
#   bash eval/jalad/run.sh [BUILD_DIR]      # full: 2000 + 2000 images (~15 min)
#   QUICK=1 bash eval/jalad/run.sh          # 60 calibration, 200 held-out
#
# Environment: CAL (2000), HELD (2000), DROP (0.01), OUT (a directory to
# keep the tables in; default: a temporary one).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
cleave=$build/cleave
model=$root/models/fashion-mnist/fmnist-resnet.onnx
[ -x "$cleave" ] || { echo "jalad: no $cleave; build first" >&2; exit 1; }
if [ -n "${QUICK:-}" ]; then
  CAL=${CAL:-60} HELD=${HELD:-200}
fi
cal=${CAL:-2000}
held=${HELD:-2000}
drop=${DROP:-0.01}
py=/usr/bin/python3
[ -x $py ] || py=python3

. "$root/eval/lib.sh"
eval_init jalad
out=${OUT:-$work}
mkdir -p "$out"

echo "## 1. Tables ($cal calibration images)"
echo
timeout 7200 "$cleave" jalad-table "$model" --dataset fashion-mnist --images "$cal" \
  --per-channel --quiet -o "$out/table.json"
echo

echo "## 2. Compression and accuracy against c"
echo
$py - "$out/table.json" <<'EOF'
import json, statistics, sys
t = json.load(open(sys.argv[1]))
print("Uncompressed top-1 accuracy on the calibration images: %.2f%%\n" % (100 * t["base_accuracy"]))
cuts = [c for c in t["cuts"] if c["after"] is not None]
def entry(c, name):
    for e in c["codecs"]:
        if e["codec"] == name:
            return e
print("| c | Huffman: float32 / encoded (min / median / max over %d cuts) | zstd median | packed | A_i(c) max over cuts | A_i(c) median | per channel: A max / median |" % len(cuts))
print("|---:|---|---:|---:|---:|---:|---:|")
first_ok = None
for b in range(1, 17):
    r = [c["raw_bytes"] / entry(c, "q%d+huffman" % b)["bytes_mean"] for c in cuts]
    z = [c["raw_bytes"] / entry(c, "q%d+zstd" % b)["bytes_mean"] for c in cuts]
    p = [c["raw_bytes"] / entry(c, "q%d+packed" % b)["bytes_mean"] for c in cuts]
    a = [entry(c, "q%d+huffman" % b)["accuracy_loss"] for c in cuts]
    ac = [entry(c, "q%dc+huffman" % b)["accuracy_loss"] for c in cuts if entry(c, "q%dc+huffman" % b)]
    if first_ok is None and max(a) <= 0.10:
        first_ok = b
    print("| %d | %.1f / %.1f / %.1f | %.1f | %.1f | %.2f%% | %.2f%% | %s |" % (
        b, min(r), statistics.median(r), max(r), statistics.median(z), statistics.median(p),
        100 * max(a), 100 * statistics.median(a),
        "%.2f%% / %.2f%%" % (100 * max(ac), 100 * statistics.median(ac)) if ac else "-"))
print("\nThe smallest c with every cut within a 10%% loss: %s (the paper: c >= 4)." % first_ok)
cloud = [c for c in t["cuts"] if c["after"] is None][0]
print("\nThe frame (%d float32 bytes):" % cloud["raw_bytes"], ", ".join(
    "%s %.0f B (loss %.2f%%)" % (e["codec"], e["bytes_mean"], 100 * e["accuracy_loss"])
    for e in cloud["codecs"]))
EOF
echo

echo "## 3. Speedup over Origin2Cloud and PNG2Cloud (Table II's shape)"
echo
# The paper's Table III devices: T = w * FLOPs / F; edge Tegra X2 (2
# TFLOP/s) or K1 (300 GFLOP/s) with w_e = 1.1176, cloud 12 TFLOP/s with
# w_c = 2.1761. As GFLOP/s for cleave plan: F / w.
for dev in "X2 1789.5" "K1 268.4" "1GFLOP/s 1"; do
  set -- $dev
  for bw in "300KB/s 2.4" "1MB/s 8"; do
    set -- $dev $bw
    for d in 0.10 "$drop"; do
      "$cleave" plan "$model" --edge-gflops "$2" --cloud-gflops 5514.5 --bandwidth "$4" \
        --planner jalad --table "$out/table.json" --accuracy-drop "$d" --json \
        >"$work/jalad.json"
      "$cleave" plan "$model" --edge-gflops "$2" --cloud-gflops 5514.5 --bandwidth "$4" \
        --planner cloud --json >"$work/cloud.json"
      echo "$1 $3 $4 $d" >>"$work/rows"
      $py - "$out/table.json" "$work/jalad.json" "$work/cloud.json" "$1" "$3" "$4" "$d" \
        >>"$work/table2.md" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1])); j = json.load(open(sys.argv[2])); c = json.load(open(sys.argv[3]))
dev, label, mbps, d = sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7])
frame = [x for x in t["cuts"] if x["after"] is None][0]
size = {e["codec"]: e["bytes_mean"] for e in frame["codecs"]}
tc = c["cloud_ms"]
origin = tc + size["u8"] * 8 / (mbps * 1e3)
png = tc + size["png"] * 8 / (mbps * 1e3)
lat = j["latency_ms"]
cut = ",".join(x["node"] for x in j["cut"]) or "(edge only)"
print("| %s | %s | %.0f%% | %s, %s | %.3f | %.2fx | %.2fx |" % (
    dev, label, 100 * d, cut, j.get("codec", "raw"), lat, png / lat, origin / lat))
EOF
    done
  done
done
echo "| edge | link | bound | JALAD's cut, codec | latency ms | vs PNG2Cloud | vs Origin2Cloud |"
echo "|---|---|---:|---|---:|---:|---:|"
cat "$work/table2.md"
echo

if [ -z "${QUICK:-}" ]; then
  echo "## Compression of zoo networks' cut tensors (random weights and pixels)"
  echo
  echo "| model | cuts | q4+huffman: float32 / encoded (min / median / max) | q8+huffman |"
  echo "|---|---:|---|---|"
  for m in resnet18 vgg16 mobilenet-v2; do
    timeout 3600 "$cleave" jalad-table "zoo:$m" --images 3 --max-bits 8 --quiet \
      -o "$out/zoo-$m.json" >/dev/null
    $py - "$out/zoo-$m.json" "$m" <<'EOF'
import json, statistics, sys
t = json.load(open(sys.argv[1]))
cuts = [c for c in t["cuts"] if c["after"] is not None]
def ratios(name):
    r = [c["raw_bytes"] / [e for e in c["codecs"] if e["codec"] == name][0]["bytes_mean"] for c in cuts]
    return "%.1f / %.1f / %.1f" % (min(r), statistics.median(r), max(r))
print("| %s | %d | %s | %s |" % (sys.argv[2], len(cuts), ratios("q4+huffman"), ratios("q8+huffman")))
EOF
  done
  echo
fi

echo "## 4. End to end: $held held-out frames through cleave serve and cleave edge"
echo
start_server "$model"
echo "| link | bound | plan | frames | top-1 (uncompressed) | loss | within the bound | bytes/frame (S_i(c)) | latency p50 ms (predicted) |"
echo "|---|---:|---|---:|---|---:|---|---|---|"
for bw in 2.4mbit 0.5mbit; do
  timeout 1800 "$cleave" edge --model "$model" --server "127.0.0.1:$port" \
    --planner jalad --table "$out/table.json" --accuracy-drop "$drop" \
    --dataset fashion-mnist --first 5000 --frames "$held" --sequential "$held" \
    --bandwidth "$bw" --slowdown 0.1 --cloud-times local --no-adapt --json --quiet \
    >"$work/edge.json"
  $py - "$work/edge.json" "$bw" "$drop" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); bw, d = sys.argv[2], float(sys.argv[3])
a = r["accuracy"]; p = r["plan"]
ok = a["loss"] <= d
# a plan with a cloud part must have sent its frames (an edge that drops
# its server quietly runs everything itself and still reports its accuracy)
assert p.get("cut") == "(all edge)" or a["data_bytes_mean"] > 0, \
    "%s: the plan cuts at %s but no frame was sent" % (bw, p.get("cut"))
print("| %s | %.0f%% | %s | %d | %.2f%% (%.2f%%) | %.2f points | %s | %.0f (%.0f, %+.1f%%) | %.2f (%.2f) |" % (
    bw, 100 * d, "%s %s" % (p.get("cut", "?"), p.get("codec", "?")), a["frames"], 100 * a["top1"],
    100 * a["uncompressed_top1"], 100 * a["loss"], "yes" if ok else "NO",
    a["data_bytes_mean"], a["plan_bytes"],
    100 * (a["data_bytes_mean"] / a["plan_bytes"] - 1) if a["plan_bytes"] else 0,
    r["latency_ms"]["p50"], p["latency_ms"]))
EOF
done
