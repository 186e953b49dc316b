#!/usr/bin/python3
"""The engine benchmark's driver (bench/engine/run.sh builds and calls it).

For each model and thread count it times, one after the other in the same
process tree and on the same seeded input file:
  cleave    `cleave run MODEL.onnx --input IN --threads T --repeat K --json`
  ORT       `node scripts/ort_run.js MODEL.onnx ... --threads T`
            (onnxruntime-node, intraOpNumThreads T, interOpNumThreads 1)
  torch     `/usr/bin/python3 bench/engine/torch_run.py MODEL.onnx ...`
            (PyTorch eager, torch.set_num_threads(T))
  darknet   `darknet_bench CFG --size HW` (Debian's libdarknet, one thread
            only; darknet's own variant of the network, see DARKNET below)
and prints the medians, the ratios to ONNX Runtime and the agreement of
each output with ONNX Runtime's (max |x - ort| / max |ort|).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

MODELS = ["resnet18", "mobilenet-v2", "alexnet", "vgg16", "googlenet",
          "tiny-yolov2"]
# The zoo model -> Debian darknet cfg with the closest network. These are
# darknet's own variants: alexnet.cfg is the original 2012 AlexNet (96-256-
# 384-384-256 filters, no padding on conv1), vgg-16.cfg has a [crop] (an
# identity at 224), resnet18.cfg ends in a 1x1 conv instead of a Gemm and
# has no BN on the shortcut projections, yolov2-tiny-voc.cfg adds [region].
DARKNET = {"resnet18": "resnet18.cfg", "alexnet": "alexnet.cfg",
           "vgg16": "vgg-16.cfg", "tiny-yolov2": "yolov2-tiny-voc.cfg"}
CFG_DIR = "/usr/share/darknet/cfg"


def run_json(cmd, env=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=env)
    if p.returncode != 0:
        sys.stderr.write("bench: %s failed (%d): %s\n"
                         % (" ".join(cmd), p.returncode, p.stderr.strip()[-400:]))
        return None
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        # one JSON object on the last line
        return json.loads(p.stdout.strip().splitlines()[-1])


def rel_err(x_path, ref_path):
    try:
        x = np.fromfile(x_path, dtype="<f4")
        r = np.fromfile(ref_path, dtype="<f4")
    except OSError:
        return None
    if x.size != r.size or r.size == 0:
        return None
    den = float(np.abs(r).max())
    return float(np.abs(x - r).max()) / (den if den > 0 else 1.0)


def darknet_cfg_copy(cfg, size, path):
    """The cfg with width/height = size in [net] (as darknet_bench does), so
    that `cleave info` counts the FLOPs of what darknet runs."""
    out, section = [], 0
    for line in open(cfg):
        s = line.strip()
        if s.startswith("["):
            section += 1
            out.append(line)
            if section == 1:
                out.append("width=%d\nheight=%d\n" % (size, size))
            continue
        if section == 1 and (s.startswith("width") or s.startswith("height")):
            continue
        out.append(line)
    with open(path, "w") as f:
        f.writelines(out)


def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cleave", required=True)
    ap.add_argument("--darknet-bench")
    ap.add_argument("--root", required=True)
    ap.add_argument("--work")
    ap.add_argument("--models", default=" ".join(MODELS))
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--darknet-repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--json-out")
    a = ap.parse_args()

    work = a.work or tempfile.mkdtemp(prefix="cleave_bench_")
    os.makedirs(work, exist_ok=True)
    ort_run = os.path.join(a.root, "scripts", "ort_run.js")
    torch_run = os.path.join(a.root, "bench", "engine", "torch_run.py")
    threads = [int(t) for t in a.threads.split()]
    rows = []
    for m in a.models.split():
        onnx_path = os.path.join(work, m + ".onnx")
        subprocess.run([a.cleave, "zoo", m, "-o", onnx_path, "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        info = run_json([a.cleave, "info", onnx_path, "--json"])
        shape = info["inputs"][0]["shape"]
        flops = info["totals"]["flops"]
        in_path = os.path.join(work, m + ".in")
        np.random.default_rng(1).random(int(np.prod(shape)),
                                        dtype=np.float32).tofile(in_path)
        dk_cfg, dk_flops = None, None
        if a.darknet_bench and m in DARKNET:
            dk_cfg = os.path.join(CFG_DIR, DARKNET[m])
            tmp_cfg = os.path.join(work, "dk_" + DARKNET[m])
            darknet_cfg_copy(dk_cfg, shape[-1], tmp_cfg)
            dk_info = run_json([a.cleave, "info", tmp_cfg, "--json"])
            dk_flops = dk_info["totals"]["flops"] if dk_info else None
        for t in threads:
            o_out = os.path.join(work, m + ".ort")
            c_out = os.path.join(work, m + ".cleave")
            t_out = os.path.join(work, m + ".torch")
            cmds = {
                "cleave": [a.cleave, "run", onnx_path, "--input", in_path,
                           "--output", c_out, "--threads", str(t),
                           "--repeat", str(a.repeat), "--json"],
                "ort": ["node", ort_run, onnx_path, "--input", in_path,
                        "--output", o_out, "--threads", str(t),
                        "--repeat", str(a.repeat), "--json"],
            }
            if not a.no_torch:
                cmds["torch"] = ["/usr/bin/python3", torch_run, onnx_path,
                                 "--input", in_path, "--output", t_out,
                                 "--threads", str(t), "--repeat",
                                 str(a.repeat), "--json"]
            if dk_cfg and t == 1:
                cmds["darknet"] = [a.darknet_bench, dk_cfg, "--size",
                                   str(shape[-1]), "--repeat",
                                   str(a.darknet_repeat)]
            # R rounds, the runners' order reversed every other round; a
            # runner's figure is its lowest per-round median (the round
            # least disturbed by other jobs), and its fastest single run.
            res = {k: [] for k in cmds}
            versions = {}
            for rnd in range(a.rounds):
                order = list(cmds) if rnd % 2 == 0 else list(reversed(cmds))
                for k in order:
                    j = run_json(cmds[k])
                    if j:
                        res[k].append((j["median_ms"], j["min_ms"]))
                        versions[k] = j.get("ort") or j.get("torch")
            r = {"model": m, "threads": t, "input": shape,
                 "gflop": flops / 1e9, "load": os.getloadavg()[0]}
            for k in ("cleave", "ort", "torch", "darknet"):
                rr = res.get(k) or []
                r[k + "_ms"] = min(x[0] for x in rr) if rr else None
                r[k + "_min_ms"] = min(x[1] for x in rr) if rr else None
                r[k + "_round_medians"] = [x[0] for x in rr]
            d = r["darknet_ms"]
            r["darknet_cfg"] = DARKNET.get(m) if d else None
            r["darknet_gflop"] = dk_flops / 1e9 if (d and dk_flops) else None
            r["ort_version"] = versions.get("ort")
            r["torch_version"] = versions.get("torch")
            r["cleave_err"] = rel_err(c_out, o_out)
            r["torch_err"] = rel_err(t_out, o_out) if "torch" in cmds else None
            rows.append(r)
            sys.stderr.write("bench: %s threads %d: cleave %s, ort %s, torch %s,"
                             " darknet %s ms (load %.1f)\n"
                             % (m, t, fmt(r["cleave_ms"]), fmt(r["ort_ms"]),
                                fmt(r["torch_ms"]), fmt(r["darknet_ms"]),
                                r["load"]))
        os.remove(onnx_path)

    def ratio(x, y):
        return None if (x is None or y is None or y == 0) else x / y

    for key, title in (("ms", "median ms per inference (%d runs after a "
                        "warm-up, darknet %d; lowest of %d rounds' medians)"
                        % (a.repeat, a.darknet_repeat, a.rounds)),
                       ("min_ms", "fastest single run, ms")):
        print()
        print(title + "; ratio = x / ONNX Runtime")
        print()
        print("| model | input | threads | GFLOP | cleave | ONNX Runtime | "
              "PyTorch | darknet | cleave/ORT | PyTorch/ORT | darknet/ORT |"
              + (" cleave vs ORT output |" if key == "ms" else ""))
        print("|---|---|---|---|---|---|---|---|---|---|---|"
              + ("---|" if key == "ms" else ""))
        for r in rows:
            c, o = r["cleave_" + key], r["ort_" + key]
            p, d = r["torch_" + key], r["darknet_" + key]
            dk = fmt(d)
            if d is not None:
                dk += " (%s, %.2f GFLOP)" % (r["darknet_cfg"],
                                             r["darknet_gflop"] or 0)
            line = ("| %s | %d | %d | %.2f | %s | %s | %s | %s | %s | %s | %s |"
                    % (r["model"], r["input"][-1], r["threads"], r["gflop"],
                       fmt(c), fmt(o), fmt(p), dk, fmt(ratio(c, o), "%.2f"),
                       fmt(ratio(p, o), "%.2f"), fmt(ratio(d, o), "%.2f")))
            if key == "ms":
                line += " %s |" % fmt(r["cleave_err"], "%.1e")
            print(line)
    print()
    print("outputs against ONNX Runtime's, max |x - ort| / max |ort|: "
          + ", ".join("%s cleave %s torch %s" % (r["model"],
                                                 fmt(r["cleave_err"], "%.1e"),
                                                 fmt(r["torch_err"], "%.1e"))
                      for r in rows if r["threads"] == threads[0]))
    vers = {k: next((r[k] for r in rows if r.get(k)), None)
            for k in ("ort_version", "torch_version")}
    print()
    print("ONNX Runtime %s (onnxruntime-node), PyTorch %s (Debian python3-torch,"
          " eager), darknet: Debian libdarknet (one thread, its own gemm)"
          % (vers["ort_version"], vers["torch_version"]))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"format": "cleave-bench-engine", "version": 1,
                       "repeat": a.repeat, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
