#!/usr/bin/python3
"""Compares two CBEDNet checkpoints dataset by dataset: for every floating-point dataset present in both, the largest
absolute difference relative to the largest magnitude in the first. Prints one line per dataset above --show and the
worst one last; exits 1 when the worst exceeds --tolerance (when given). Used for "P x D reproduces 1 x 1" checks on
machines where the test suite cannot run, e.g. the GPU run in scripts/gpu-run.sh.
Needs h5py and numpy (Debian: python3-h5py; run with /usr/bin/python3)."""
import argparse
import sys

import h5py
import numpy as np


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("first")
    p.add_argument("second")
    p.add_argument("--tolerance", type=float, help="fail when the worst relative difference exceeds this")
    p.add_argument("--show", type=float, default=float("inf"), help="print datasets whose difference exceeds this")
    a = p.parse_args()
    first, second = datasets(a.first), datasets(a.second)
    worst, worst_name, compared = 0.0, None, 0
    for name, x in sorted(first.items()):
        y = second.get(name)
        if y is None or not hasattr(x, "dtype") or x.dtype.kind != "f" or x.size == 0:
            continue
        if np.shape(x) != np.shape(y):
            print(f"{name}: shapes differ {np.shape(x)} vs {np.shape(y)}")
            return 1
        scale = max(float(np.max(np.abs(x))), 1e-30)
        rel = float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))) / scale
        compared += 1
        if rel > a.show:
            print(f"{name}: {rel:.3g}")
        if rel > worst:
            worst, worst_name = rel, name
    print(f"{compared} datasets compared; worst relative difference {worst:.3g} in {worst_name}")
    return 1 if a.tolerance is not None and worst > a.tolerance else 0


if __name__ == "__main__":
    sys.exit(main())
