#!/usr/bin/env python3
"""Issue 18's tables of PacGAN's setup (docs/results.md), mean +- standard error over the
finished seeds of each setting, beside the paper's.

    python3 scripts/pacgan_table.py OUT                GAN and PacGAN2-4 on the ring and the grid
                                                       (PacGAN's Table 1)
    python3 scripts/pacgan_table.py --stacked FOLDER   DCGAN and PacDCGAN2-4 on stacked
                                                       Fashion-MNIST (PacGAN's Table 2)

OUT holds the ablation folders of scripts/pacgan_evidence.sh short (ring-m1 ... grid-m4), FOLDER
is the ablation folder of its stacked part (OUT/stacked); each run's score is read from its
ablate.json (gantry ablate's state file), so a table can be made while seeds are still running:
a cell says (n=K) where fewer than the most seeds counted, and "-" where no seed has finished.
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
# PacGAN's Table 2 (stacked MNIST, VEEGAN's protocol, 10 trials): their DCGAN and PacDCGAN2
PUBLISHED_STACKED = [
    ("published DCGAN (PacGAN Table 2, stacked MNIST)", (78.9, 4.50)),
    ("published PacDCGAN2", (1000.0, 0.06)),
]
STACKED_METRICS = ("modes_covered", "reverse_kl", "channel_fid", "channel_precision",
                   "channel_recall")


def scores(folder, runs="*"):
    """The result of every finished run of one ablation folder (of those named by the glob runs)."""
    out = []
    for state in sorted(glob.glob(os.path.join(folder, "runs", runs, "ablate.json"))):
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


DECIMALS = {"modes_covered": 1, "pct_high_quality": 1, "reverse_kl": 2, "channel_fid": 1,
            "channel_precision": 3, "channel_recall": 3}


def cell(results, metric, most):
    if not results:
        return "-"
    mean, se = mean_se([r[metric] for r in results])
    d = DECIMALS[metric]
    text = "%.*f" % (d, mean) + ("" if math.isnan(se) else " ± %.*f" % (d, se))
    return text + ("" if len(results) == most else " (n=%d)" % len(results))


def stacked_table(folder):
    """DCGAN and PacDCGAN2-4 (the ablation's pack=M runs) beside PacGAN's Table 2."""
    runs = {m: scores(folder, "pack=%d-s*" % m) for m in (1, 2, 3, 4)}
    header = ("| | modes (of 1,000) | reverse KL | channel FID | channel precision "
              "| channel recall |")
    names = ["gantry DCGAN (m = 1)"] + ["gantry PacDCGAN%d" % m for m in (2, 3, 4)]
    rows = [(name, [(runs[m], metric) for metric in STACKED_METRICS])
            for name, m in zip(names, (1, 2, 3, 4))]
    published = [(name, ["%.1f" % modes, "%.2f" % kl, "", "", ""])
                 for name, (modes, kl) in PUBLISHED_STACKED]
    print_table(folder, header, rows, published)


def print_table(where, header, rows, published):
    """A markdown table: gantry's rows, each a name and its columns (runs, metric) shown as
    mean +- SE, then the paper's rows (a name and its cells as text)."""
    most = max(len(runs) for _, columns in rows for runs, _ in columns)
    if most == 0:
        sys.exit("%s: no finished run" % where)
    print(header)
    print("|---" + "|---:" * (header.count("|") - 2) + "|")
    for name, columns in rows:
        print("| %s | %s |" % (name, " | ".join(cell(runs, metric, most) for runs, metric in columns)))
    for name, cells in published:
        print("| %s | %s |" % (name, " | ".join(cells)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--stacked":
        stacked_table(sys.argv[2])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    datas = ("ring", "grid")
    runs = {(data, m): scores(os.path.join(out, "%s-m%d" % (data, m)))
            for data in datas for m in (1, 2, 3, 4)}
    header = ("| | ring: modes (of 8) | ring: % high quality | ring: reverse KL "
              "| grid: modes (of 25) | grid: % high quality | grid: reverse KL |")
    names = ["gantry GAN (m = 1)"] + ["gantry PacGAN%d" % m for m in (2, 3, 4)]
    rows = [(name, [(runs[(data, m)], metric) for data in datas for metric in METRICS])
            for name, m in zip(names, (1, 2, 3, 4))]
    published = [(name, ["%.*f" % (DECIMALS[metric], v) for data in datas
                         for metric, v in zip(METRICS, paper[data])]) for name, paper in PUBLISHED]
    print_table(out + " (ring-m1 ... grid-m4)", header, rows, published)


if __name__ == "__main__":
    main()
