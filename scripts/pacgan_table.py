#!/usr/bin/env python3
"""Issue 18's table of PacGAN's setup (docs/results.md): GAN and PacGAN2-4 on the ring and the
grid, mean +- standard error over the finished seeds of each setting, beside PacGAN's Table 1.

    python3 scripts/pacgan_table.py OUT

OUT holds the ablation folders of scripts/pacgan_evidence.sh short (ring-m1 ... grid-m4); each
run's score is read from its ablate.json (gantry ablate's state file), so the table can be made
while seeds are still running: a cell says (n=K) where fewer than the most seeds counted, and
"-" where no seed has finished.
"""
import glob
import json
import math
import os
import sys

# PacGAN's Table 1 (Lin et al. 2018, 400 epochs, 10 seeds), the rows the issue quotes
PUBLISHED = [
    ("published GAN (PacGAN Table 1)", {"ring": (6.3, 98.2, 0.45), "grid": (17.3, 94.8, 0.70)}),
    ("published PacGAN4", {"ring": (7.8, 95.9, 0.07), "grid": (24.8, 93.6, 0.04)}),
]
METRICS = ("modes_covered", "pct_high_quality", "reverse_kl")


def scores(folder):
    """The result of every finished run of one ablation folder."""
    out = []
    for state in sorted(glob.glob(os.path.join(folder, "runs", "*", "ablate.json"))):
        with open(state) as f:
            j = json.load(f)
        if j.get("trained") and isinstance(j.get("result"), dict):
            out.append(j["result"])
    return out


def mean_se(values):
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


DECIMALS = {"modes_covered": 1, "pct_high_quality": 1, "reverse_kl": 2}


def cell(results, metric, most):
    if not results:
        return "-"
    mean, se = mean_se([r[metric] for r in results])
    d = DECIMALS[metric]
    text = "%.*f" % (d, mean) + ("" if math.isnan(se) else " ± %.*f" % (d, se))
    return text + ("" if len(results) == most else " (n=%d)" % len(results))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    runs = {(data, m): scores(os.path.join(out, "%s-m%d" % (data, m)))
            for data in ("ring", "grid") for m in (1, 2, 3, 4)}
    most = max(len(r) for r in runs.values())
    if most == 0:
        sys.exit("%s: no finished run in ring-m1 ... grid-m4" % out)
    print("| | ring: modes (of 8) | ring: % high quality | ring: reverse KL "
          "| grid: modes (of 25) | grid: % high quality | grid: reverse KL |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for m in (1, 2, 3, 4):
        name = "gantry GAN (m = 1)" if m == 1 else "gantry PacGAN%d" % m
        cells = [cell(runs[(data, m)], metric, most) for data in ("ring", "grid") for metric in METRICS]
        print("| %s | %s |" % (name, " | ".join(cells)))
    for name, rows in PUBLISHED:
        cells = ["%.*f" % (DECIMALS[metric], v) for data in ("ring", "grid")
                 for metric, v in zip(METRICS, rows[data])]
        print("| %s | %s |" % (name, " | ".join(cells)))


if __name__ == "__main__":
    main()
