#!/usr/bin/env python3
"""Times networkx's boykov_kolmogorov on the min-cut networks that
bench_plan wrote (OUTDIR/*.net), checks that it finds the same maximum flow,
and prints the ratios to cleave's times.

usage: nx_peer.py OUTDIR
"""
import glob
import os
import statistics
import sys
import time

import networkx as nx
from networkx.algorithms.flow import boykov_kolmogorov


def load(path):
    with open(path) as f:
        head = f.readline().split()
        n, s, t, flow = int(head[0]), int(head[1]), int(head[2]), int(head[3])
        dsl_us, mf_us = float(head[4]), float(head[5])
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        for line in f:
            u, v, c = line.split()
            u, v = int(u), int(v)
            if c == "inf":
                g.add_edge(u, v)  # no capacity attribute: infinite
            elif g.has_edge(u, v) and "capacity" in g[u][v]:
                g[u][v]["capacity"] += int(c)
            else:
                g.add_edge(u, v, capacity=int(c))
    return g, s, t, flow, dsl_us, mf_us


def main():
    outdir = sys.argv[1]
    print("networkx %s boykov_kolmogorov on the same min-cut networks "
          "(median)\n" % nx.__version__)
    print("%-14s %6s %6s %12s %12s %12s %10s %10s %s" % (
        "model", "verts", "arcs", "cleave mf us", "cleave dsl us",
        "networkx us", "nx/mf", "nx/dsl", "same flow"))
    order = []
    for path in glob.glob(os.path.join(outdir, "*.net")):
        order.append((os.path.getmtime(path), path))
    for _, path in sorted(order):
        g, s, t, flow, dsl_us, mf_us = load(path)
        times = []
        value = None
        start = time.perf_counter()
        while len(times) < 50 and (len(times) < 3 or
                                   time.perf_counter() - start < 3.0):
            t0 = time.perf_counter()
            r = boykov_kolmogorov(g, s, t, capacity="capacity")
            times.append((time.perf_counter() - t0) * 1e6)
            value = r.graph["flow_value"]
        nx_us = statistics.median(times)
        name = os.path.basename(path)[:-4]
        print("%-14s %6d %6d %12.1f %12.1f %12.1f %10.0f %10.0f %s" % (
            name, g.number_of_nodes(), g.number_of_edges(), mf_us, dsl_us,
            nx_us, nx_us / mf_us, nx_us / dsl_us,
            "yes" if value == flow else "NO (%s vs %s)" % (value, flow)))


if __name__ == "__main__":
    main()
