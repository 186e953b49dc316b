#!/usr/bin/python3
"""The bandwidth estimates and the plan's predictions on a tc-shaped link:
for each rate and delay, eval/netns/run.sh runs `cleave serve` and `cleave
edge` in two network namespaces (tbf on the uplink, a fixed delay each
way; the edge is not paced by cleave) and this collects

  * the set rate and the goodput it allows: tbf counts whole packets
    (IP header, plus a 14-byte Ethernet header on a veth), so a TCP stream
    of 1448-byte segments gets rate x 1448 / 1514 (veth) or 1448 / 1500
    (tun) of it, 4.4% or 3.5% less than the set rate;
  * the edge's active probe (two sizes, the difference of the response
    times), the receiver's timing of the large probe, the passive EWMA
    that drives re-planning (seeded by the probe, fed by the FRAMEs and
    idle-time PROBEs), and the frames' own rate (mean FRAME payload /
    the server's mean receive time; split plans only);
  * the plan's cut, predicted latency and fps, and the measured ones
    (--sequential frames for latency, the rest pipelined for fps).

Usage (root):
  eval/netns/sweep.py [--build build] [--model tiny-yolov2]
      [--rates 1.1,5.85,18.88,50] [--delays 0,10,40] [--planner dads]
      [--slowdown 0.25] [--seq 5] [--frames 12] [--repeats 1]
      [--rows F.json]

Estimates more than 10% from the set rate are flagged EST (the probe),
PAS (the EWMA) or FRM (the frames' rate). Exit status 0 when every run
finished.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MSS = 1448  # TCP payload of a 1500-byte IP packet with timestamps


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def err(x, ref):
    return 100.0 * (x - ref) / ref if x and ref else float("nan")


def run_one(a, rate, delay):
    cmd = ["sh", os.path.join(HERE, "run.sh"), "-b", a.build,
           "-m", "zoo:" + a.model, "-r", "%gmbit" % rate, "-d", str(delay),
           "--", "--planner", a.planner, "--slowdown", str(a.slowdown),
           "--frames", str(a.frames), "--sequential", str(a.seq), "--json"]
    t0 = time.time()
    load0 = loadavg()
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=a.timeout)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return None
    r = json.loads(out.stdout)
    log = out.stderr
    m = re.search(r"probe: ([\d.e+]+) Mbit/s \(receiver ([\d.e+]+)\), "
                  r"rtt ([\d.]+) ms", log)
    r["recv_probe"] = float(m.group(2)) if m else 0.0
    r["rtt_ms"] = float(m.group(3)) if m else 0.0
    m = re.search(r"plan 1 \([^)]*\): .*?(?:cut ([^,]+), ([\d.]+) KiB|"
                  r"(\d+) edge / 0 cloud)", log)
    r["cut"] = (m.group(1) if m and m.group(1) else "all edge")
    r["rate"], r["delay"] = rate, delay
    r["load"] = (load0 + loadavg()) / 2
    r["secs"] = time.time() - t0
    r["cmd"] = " ".join(cmd)
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default="build")
    p.add_argument("--model", default="tiny-yolov2")
    p.add_argument("--rates", default="1.1,5.85,18.88,50")
    p.add_argument("--delays", default="0,10,40")
    p.add_argument("--planner", default="dads")
    p.add_argument("--slowdown", type=float, default=0.25)
    p.add_argument("--seq", type=int, default=5)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--rows")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("sweep.py: needs root (run.sh makes network namespaces)")

    rows, failed = [], 0
    print("%-6s %5s %5s %7s %6s %6s %6s %6s %6s %-16s %8s %8s %6s %6s "
          "%6s %4s %s" % ("rate", "delay", "rtt", "goodput", "probe",
                          "recv", "ewma", "frames", "err%", "cut",
                          "lat pr", "lat me", "err%", "fps pr", "fps me",
                          "load", "flags"))
    print("%-6s %5s %5s %7s %6s %6s %6s %6s %6s %-16s %8s %8s %6s %6s "
          "%6s %4s" % ("Mbit/s", "ms", "ms", "Mbit/s", "Mbit/s", "Mbit/s",
                       "Mbit/s", "Mbit/s", "probe", "", "ms", "ms", "", "",
                       "", ""))
    for rate in [float(x) for x in a.rates.split(",")]:
        for delay in [float(x) for x in a.delays.split(",")]:
            for _ in range(a.repeats):
                try:
                    r = run_one(a, rate, delay)
                except subprocess.TimeoutExpired:
                    r = None
                if r is None:
                    failed += 1
                    print("%-6g %5g  run failed" % (rate, delay))
                    continue
                bw, pl, st = r["bandwidth_mbit"], r["plan"], r["stage_ms"]
                wire = 1500 + (14 if delay == 0 else 0)
                r["goodput"] = rate * MSS / wire
                r["frames_mbit"] = (pl["cut_bytes"] * 8 / st["cloud_recv"]
                                    / 1e3 if st["cloud_recv"] > 0 and
                                    pl["cut_bytes"] else 0.0)
                flags = []
                for key, val in (("EST", bw["probe"]),
                                 ("PAS", bw["estimate"]),
                                 ("FRM", r["frames_mbit"])):
                    if val and abs(err(val, rate)) > 10:
                        flags.append(key)
                lat_e = err(r["latency_ms"]["mean"], pl["latency_ms"])
                fps_e = err(r["fps"], pl["fps"])
                if abs(lat_e) > 15:
                    flags.append("LAT")
                if abs(fps_e) > 10:
                    flags.append("FPS")
                if r["switches"]:
                    flags.append("%dsw" % len(r["switches"]))
                r["flags"] = flags
                rows.append(r)
                print("%-6g %5g %5.1f %7.2f %6.2f %6.2f %6.2f %6.2f %+6.1f "
                      "%-16s %8.1f %8.1f %+6.1f %6.2f %6.2f %4.1f %s" % (
                          rate, delay, r["rtt_ms"], r["goodput"],
                          bw["probe"], r["recv_probe"], bw["estimate"],
                          r["frames_mbit"], err(bw["probe"], rate),
                          r["cut"][:16], pl["latency_ms"],
                          r["latency_ms"]["mean"], lat_e, pl["fps"],
                          r["fps"], r["load"], " ".join(flags)),
                      flush=True)
                if r["frames_mbit"]:
                    print("%-6s %5s T_e/T_t/T_c pred %.0f/%.0f/%.0f, meas "
                          "%.0f/%.0f/%.0f ms (T_t: the server's receive time)" % (
                              "", "", pl["edge_ms"], pl["transfer_ms"],
                              pl["cloud_ms"], st["edge"], st["cloud_recv"],
                              st["cloud"]), flush=True)
    if a.rows:
        with open(a.rows, "w") as f:
            json.dump(rows, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
