#!/usr/bin/env python3
"""Compares two raw float32 output files (cleave run --output) the way the
peer tests do: every value within rtol * the reference's largest magnitude
(default 1e-3), same length, no NaN on one side only. Prints one line and
exits 1 when they differ.

    compare_outputs.py LABEL REFERENCE.bin OTHER.bin [RTOL]
"""
import array
import math
import sys


def read(path):
    a = array.array("f")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 4:
        sys.exit(f"{path}: {len(data)} bytes is not a whole number of float32")
    a.frombytes(data)
    if sys.byteorder != "little":
        a.byteswap()
    return a


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    label, ref_path, other_path = sys.argv[1:4]
    rtol = float(sys.argv[4]) if len(sys.argv) == 5 else 1e-3
    ref, other = read(ref_path), read(other_path)
    if len(ref) != len(other) or not ref:
        print(f"{label}: {len(ref)} values against {len(other)}")
        return 1
    scale = max(abs(v) for v in ref if not math.isnan(v)) or 1.0
    worst, at, nan_mismatch = 0.0, 0, 0
    for i, (a, b) in enumerate(zip(ref, other)):
        if math.isnan(a) or math.isnan(b):
            nan_mismatch += math.isnan(a) != math.isnan(b)
            continue
        d = abs(a - b)
        if d > worst:
            worst, at = d, i
    rel = worst / scale
    ok = rel <= rtol and nan_mismatch == 0
    print(f"{label}: {len(ref)} values, largest difference {worst:.3g} "
          f"({rel:.2g} of the largest magnitude {scale:.3g}, at {at})"
          f"{', NaN on one side only: %d' % nan_mismatch if nan_mismatch else ''}"
          f" -> {'ok' if ok else 'DIFFERENT'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
