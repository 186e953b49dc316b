#!/usr/bin/python3
"""Measured against predicted: for each model, link preset and planner, run
`cleave edge` against a `cleave serve` on loopback and compare

  * the mean latency of frames run one at a time (--sequential: one frame
    in the system, so its latency is the unpipelined T_e + T_t + T_c the
    plan predicts; frame 0, the warm-up, is left out by the edge), with
    the plan's predicted latency, and
  * the pipelined throughput (the frames after the sequential ones, back to
    back; the steady rate between completions) with 1 / max stage.

Usage:
  eval/measured_vs_predicted.py [--cleave build-rel/cleave]
      [--models resnet18,tiny-yolov2,googlenet] [--links cat1,3g,4g,wifi]
      [--planners edge,cloud,neurosurgeon,dads]
      [--slowdown 0.25 | --cpu-quota 0.25]
      [--seq 5] [--piped 10] [--max-run-s 40] [--port 7941] [--rows F.json]

The plan is learned first from a run of 0 frames (the edge profiles the
model, plans and stops); a combination that would take longer than
--max-run-s (predicted latency * seq + max stage * piped) runs with fewer
frames (down to 3 sequential and 3 pipelined), and one that would still
take longer is skipped and listed as such (e.g. cloud-only over cat1: 588
KiB of resnet18 input per frame at 0.13 Mbit/s is 37 s). The plan of the
measured run is the one reported (each run profiles again, so on a busy
machine a planner may choose a different cut than in the 0-frame run).
The slow edge is the duty-cycle --slowdown (default 0.25) or, with
--cpu-quota F (root), a CPU-quota cgroup around the edge process.
Exit status 0 when every row ran.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

LINKS = {"cat1": 0.13, "3g": 1.1, "4g": 5.85, "wifi": 18.88}


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def start_server(cleave, model, port):
    """Starts `cleave serve` and waits until it listens (it first measures
    its own per-node times, which the edges then plan with)."""
    p = subprocess.Popen([cleave, "serve", "--model", "zoo:" + model,
                          "--listen", "127.0.0.1:%d" % port, "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    while b" on port " not in seen:
        line = p.stderr.readline()
        if not line:
            sys.exit("cleave serve failed: " + seen.decode())
        seen += line
    return p


def predict(cleave, model, port, planner, link, slow):
    """No frame: the edge profiles, plans and stops."""
    return run_edge(cleave, model, port, planner, link, slow, 0, 0, 600)


def run_edge(cleave, model, port, planner, link, slow, seq, frames,
             timeout):
    """`slow`: the edge's slow-down arguments, e.g. ["--slowdown", "0.25"]."""
    cmd = [cleave, "edge", "--model", "zoo:" + model, "--server",
           "127.0.0.1:%d" % port, "--planner", planner, "--link", link,
           *slow, "--frames", str(frames),
           "--sequential", str(seq), "--no-adapt", "--json", "--quiet"]
    t0 = time.time()
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, " ".join(cmd), time.time() - t0
    if out.returncode != 0:
        sys.stderr.write(out.stderr.decode())
        return None, " ".join(cmd), time.time() - t0
    return json.loads(out.stdout), " ".join(cmd), time.time() - t0


def err(meas, pred):
    return 100.0 * (meas - pred) / pred if pred else float("nan")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--cleave", default=os.path.join(here, "..",
                                                     "build-rel", "cleave"))
    ap.add_argument("--models", default="resnet18,tiny-yolov2,googlenet")
    ap.add_argument("--links", default="cat1,3g,4g,wifi")
    ap.add_argument("--planners", default="edge,cloud,neurosurgeon,dads")
    ap.add_argument("--slowdown", type=float, default=None,
                    help="duty-cycle slowdown of the edge (default 0.25)")
    ap.add_argument("--cpu-quota", type=float, default=None,
                    help="run the edge in a cgroup limited to this share "
                    "of a core instead (root)")
    ap.add_argument("--seq", type=int, default=5)
    ap.add_argument("--piped", type=int, default=10)
    ap.add_argument("--max-run-s", type=float, default=40)
    ap.add_argument("--port", type=int, default=7941)
    ap.add_argument("--rows", default=None, help="write every row as JSON")
    a = ap.parse_args()
    if a.cpu_quota is not None and a.slowdown is not None:
        ap.error("give --slowdown or --cpu-quota, not both")
    if a.cpu_quota is not None:
        slow = ["--cpu-quota", str(a.cpu_quota)]
    else:
        slow = ["--slowdown", str(0.25 if a.slowdown is None else a.slowdown)]

    rows = []
    print("# load average at start: %.2f (%d CPUs); edge: %s" %
          (loadavg(), os.cpu_count(), " ".join(slow)))
    hdr = ("%-11s %-5s %-12s %-22s %9s %9s %7s %8s %8s %7s %6s" %
           ("model", "link", "planner", "cut", "lat pred", "lat meas",
            "err %", "fps pred", "fps meas", "err %", "load"))
    print(hdr)
    sys.stdout.flush()
    ok = True
    for mi, model in enumerate(a.models.split(",")):
        port = a.port + mi
        srv = start_server(a.cleave, model, port)
        try:
            for link in a.links.split(","):
                bps = LINKS[link] * 1e6
                for planner in a.planners.split(","):
                    # the plan (and its cost) first: one frame
                    r, cmd, _ = predict(a.cleave, model, port, planner, link,
                                        slow)
                    if r is None:
                        print("%-11s %-5s %-12s failed: %s" %
                              (model, link, planner, cmd))
                        ok = False
                        continue
                    pl = r["plan"]
                    lat, stage = pl["latency_ms"], pl["max_stage_ms"]
                    seq, piped = a.seq, a.piped
                    budget = a.max_run_s * 1000
                    while (seq * lat + piped * stage > budget and
                           (seq > 3 or piped > 3)):
                        if seq > 3:
                            seq -= 1
                        if piped > 3:
                            piped -= 1
                    if seq * lat + piped * stage > budget:
                        print("%-11s %-5s %-12s skipped: predicted %.0f ms "
                              "per frame, %.0f s for 3+3 frames" %
                              (model, link, planner, lat,
                               (3 * lat + 3 * stage) / 1000))
                        rows.append(dict(model=model, link=link,
                                         planner=planner, skipped=True,
                                         lat_pred=lat))
                        continue
                    la = loadavg()
                    r, cmd, wall = run_edge(a.cleave, model, port, planner,
                                            link, slow, seq,
                                            seq + piped, budget / 1000 * 3)
                    if r is None:
                        print("%-11s %-5s %-12s failed or timed out: %s" %
                              (model, link, planner, cmd))
                        ok = False
                        continue
                    la = (la + loadavg()) / 2
                    pl = r["plan"]
                    st = r.get("stage_ms", {})
                    lat_p, fps_p = pl["latency_ms"], pl["fps"]
                    cut = pl.get("cut", "")
                    if pl["cut_bytes"]:
                        cut += " %.0fK" % (pl["cut_bytes"] / 1024.0)
                    cut = cut[:22]
                    lat_m = r["latency_ms"]["mean"]
                    fps_m = r["fps"]
                    row = dict(model=model, link=link, planner=planner,
                               cut=cut, lat_pred=lat_p, lat_meas=lat_m,
                               lat_err=err(lat_m, lat_p), fps_pred=fps_p,
                               fps_meas=fps_m, fps_err=err(fps_m, fps_p),
                               load=la, seq=seq, piped=piped, wall_s=wall,
                               stage_ms=st, plan=pl, cmd=cmd)
                    rows.append(row)
                    flag = ""
                    if abs(row["lat_err"]) > 15:
                        flag += " LAT"
                    if abs(row["fps_err"]) > 10:
                        flag += " FPS"
                    print("%-11s %-5s %-12s %-22s %9.1f %9.1f %+7.1f %8.2f "
                          "%8.2f %+7.1f %6.2f%s" %
                          (model, link, planner, cut, lat_p, lat_m,
                           row["lat_err"], fps_p, fps_m, row["fps_err"], la,
                           flag))
                    if st:
                        print("%-31s stages: pred T_e %.1f T_t %.1f T_c %.1f;"
                              " meas edge %.1f send %.1f cloud %.1f "
                              "(queue %.1f) ms; %d+%d frames" %
                              ("", pl["edge_ms"], pl["transfer_ms"],
                               pl["cloud_ms"], st.get("edge", 0),
                               st.get("send", 0), st.get("cloud", 0),
                               st.get("cloud_queue", 0), seq, piped))
                    sys.stdout.flush()
        finally:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
    print("# load average at end: %.2f" % loadavg())
    if a.rows:
        with open(a.rows, "w") as f:
            json.dump(rows, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
