#!/usr/bin/python3
"""A fixed-delay line between two network namespaces, for kernels without
tc's netem (CONFIG_NET_SCH_NETEM unset, no loadable modules).

    delayline.py EDGE_NS CLOUD_NS DELAY_MS [READY_FILE [PACKET_LOG]]

Creates a tun device in each namespace (`clv-tun` in both; raw IP packets,
no GSO, so every packet is at most the MTU), then moves every packet read
from one device into the other DELAY_MS milliseconds after it was read, in
both directions, in order. Addresses, routes and qdiscs (tbf on the edge's
device shapes the uplink before the delay) are the caller's business: the
devices exist once READY_FILE has been written. Runs until SIGTERM/SIGINT;
the devices vanish with the process (they are not persistent).
PACKET_LOG gets a line per packet: the time it was read (seconds,
monotonic), the direction (> edge to cloud, < back) and its IP length.

Packets leave a tun device's queue only as fast as this process reads them,
so the tbf in front of it sets the rate; the delay line adds the fixed
delay, like a link's propagation delay. Python's timer granularity adds
well under a millisecond of jitter at the rates used here (<= 50 Mbit/s,
about 4200 packets a second).
"""
import collections
import ctypes
import fcntl
import os
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
DEVICE = "clv-tun"

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns(%s): %s" % (name, os.strerror(e)))
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def main():
    if len(sys.argv) not in (4, 5, 6):
        sys.exit(__doc__.split("\n\n")[1])
    edge_ns, cloud_ns = sys.argv[1], sys.argv[2]
    delay = float(sys.argv[3]) / 1e3
    if not delay >= 0:
        sys.exit("delayline.py: DELAY_MS must be >= 0")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    enter_netns(edge_ns)
    fd_e = open_tun(DEVICE)
    enter_netns(cloud_ns)
    fd_c = open_tun(DEVICE)
    libc.setns(home, CLONE_NEWNET)
    os.close(home)

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    log = open(sys.argv[5], "w") if len(sys.argv) == 6 else None
    if len(sys.argv) >= 5:
        with open(sys.argv[4], "w") as f:
            f.write("%d\n" % os.getpid())

    # one FIFO per direction: (due time, packet); constant delay keeps order
    queue = {fd_e: collections.deque(), fd_c: collections.deque()}
    peer = {fd_e: fd_c, fd_c: fd_e}
    poller = select.poll()
    poller.register(fd_e, select.POLLIN)
    poller.register(fd_c, select.POLLIN)
    moved = dropped = 0
    while not stop:
        now = time.monotonic()
        due = min((q[0][0] for q in queue.values() if q), default=None)
        timeout = None if due is None else max(0.0, due - now) * 1e3
        try:
            ready = poller.poll(timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd, _ in ready:
            while True:
                try:
                    pkt = os.read(fd, 65536)
                except BlockingIOError:
                    break
                queue[fd].append((now + delay, pkt))
                if log:
                    log.write("%.6f %s %d\n" % (now, ">" if fd == fd_e
                                                 else "<", len(pkt)))
        now = time.monotonic()
        for src, q in queue.items():
            while q and q[0][0] <= now:
                _, pkt = q.popleft()
                try:
                    os.write(peer[src], pkt)
                    moved += 1
                except OSError:
                    dropped += 1  # the other side is down or full: a loss
    if log:
        log.close()
    sys.stderr.write("delayline: %d packets moved, %d dropped\n"
                     % (moved, dropped))


if __name__ == "__main__":
    main()
