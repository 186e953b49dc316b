#!/usr/bin/env python3
"""Leave-one-out evaluation of cleave's latency predictor on the model zoo.

For every zoo model M: measure its profile on this machine (`cleave
profile`), fit a predictor to the profiles of all the other models
(`cleave profile --fit`), predict M's profile (`cleave profile --predict`)
and compare with the measurement: the error of the predicted total, and the
median relative error over M's nodes. Prints a Markdown table (the one in
docs/profiling.md).

    python3 eval/profile_predictor.py --cleave build-rel/cleave [--runs 5]
        [--out /tmp/cleave-predictor] [--models a,b,...] [--reuse]
        [--cpu-quota F | --slowdown F] [--fit-args '...']

The measured total is the sum of the node medians (what a planner adds up),
with the median whole-run time shown beside it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

ZOO = ["lenet", "alexnet", "vgg16", "nin", "resnet18", "resnet50",
       "googlenet", "mobilenet-v2", "tiny-yolov2"]
VIEWS = {"Reshape", "Flatten", "Identity", "Dropout", "Squeeze", "Unsqueeze"}


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cleave", default="build/cleave")
    ap.add_argument("--out", default="/tmp/cleave-predictor")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--models", default=",".join(ZOO))
    ap.add_argument("--reuse", action="store_true",
                    help="keep profiles already measured in --out")
    ap.add_argument("--cpu-quota", type=float)
    ap.add_argument("--slowdown", type=float)
    ap.add_argument("--fit-args", default="",
                    help="extra options for cleave profile --fit, e.g. "
                    "'--absolute' or '--no-intercept --floor-ms 0.001'")
    a = ap.parse_args()
    models = a.models.split(",")
    os.makedirs(a.out, exist_ok=True)
    cond = []
    if a.cpu_quota:
        cond = ["--cpu-quota", str(a.cpu_quota)]
    elif a.slowdown:
        cond = ["--slowdown", str(a.slowdown)]

    prof = {}
    for m in models:
        path = os.path.join(a.out, m + ".profile.json")
        if not (a.reuse and os.path.exists(path)):
            print("measuring", m, file=sys.stderr)
            run([a.cleave, "profile", "zoo:" + m, "--device", "eval",
                 "-o", path, "--runs", str(a.runs), "--top", "0"] + cond)
        prof[m] = path

    rows = []
    for m in models:
        pred = os.path.join(a.out, "predictor-without-" + m + ".json")
        out = os.path.join(a.out, m + ".predicted.json")
        train = [prof[x] for x in models if x != m]
        run([a.cleave, "profile", "--fit", pred] + train +
            a.fit_args.split())
        run([a.cleave, "profile", "--predict", pred, "zoo:" + m, "-o", out,
             "--top", "0"])
        meas, pr = load(prof[m]), load(out)
        pms = {n["name"]: n["ms"] for n in pr["nodes"]}
        meas_sum = sum(n["ms"] for n in meas["nodes"])
        rel = []
        for n in meas["nodes"]:
            if n["op"] in VIEWS:
                continue
            rel.append(abs(pms[n["name"]] - n["ms"]) / max(n["ms"], 1e-3))
        rows.append((m, len(meas["nodes"]), meas_sum, meas["total_ms"],
                     pr["total_ms"], (pr["total_ms"] - meas_sum) / meas_sum,
                     statistics.median(rel)))

    print("| held-out model | nodes | measured ms (sum of nodes) | "
          "whole run ms | predicted ms | total error | median node error |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %d | %.2f | %.2f | %.2f | %+.0f%% | %.0f%% |" %
              (r[0], r[1], r[2], r[3], r[4], 100 * r[5], 100 * r[6]))
    errs = [abs(r[5]) for r in rows]
    print("\nmean |total error| %.0f%%, median %.0f%%, worst %.0f%% (%s)" %
          (100 * statistics.mean(errs), 100 * statistics.median(errs),
           100 * max(errs), rows[errs.index(max(errs))][0]))


if __name__ == "__main__":
    main()
