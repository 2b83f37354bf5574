#!/usr/bin/env python3
"""Modes covered and % high quality (2-D mixtures) or reverse KL (stacked Fashion-MNIST) against
steps, as Markdown tables, from the in-training evaluations (train.eval_every) of mode-counting
runs: each run folder's metrics.jsonl.

    python3 scripts/modes_over_steps.py [--every N] [--columns C] LABEL=DIR [LABEL=DIR ...]

DIR is one run's folder, or a gantry ablate folder, whose runs (DIR/runs/*) are averaged: the
mean over the runs that evaluated each step. Steps across (the union of the evaluations, every N
steps; default: all of them), at most C columns a table (default 10), two rows a label: "LABEL:
modes" and "LABEL: % high quality" (or "LABEL: reverse KL"). Used for docs/results.md's issue 18
curves (PacGAN's setup at 400,000 steps, the mean of 10 seeds at 20,000, stacked at 10,000).
"""
import argparse
import glob
import json
import os
import sys


# the second row of a label: the first of these an evaluation line has (name, label, format)
SECOND = (("pct_high_quality", "% high quality", "%.1f"), ("reverse_kl", "reverse KL", "%.2f"))


def second_metric(line):
    return next((m for m in SECOND if line.get(m[0]) is not None), None)


def evaluations(run_dir):
    """(step, modes, second metric) of each evaluation line of run_dir/metrics.jsonl, and which
    second metric (an entry of SECOND; None without evaluations)."""
    rows, metric = [], None
    with open(run_dir + "/metrics.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            line_metric = second_metric(j)
            if "modes_covered" in j and line_metric:
                metric = line_metric
                rows.append((j["step"], j["modes_covered"], j[metric[0]]))
    return rows, metric


def mean_evaluations(dir_):
    """{step: (modes, second)} of one run, or the mean over an ablation folder's runs, and the
    second metric (SECOND's entry)."""
    runs = sorted(glob.glob(os.path.join(dir_, "runs", "*", "metrics.jsonl")))
    if not runs:
        rows, metric = evaluations(dir_)
        return {s: (m, q) for s, m, q in rows}, metric
    by_step, metric = {}, None
    for path in runs:
        rows, run_metric = evaluations(os.path.dirname(path))
        metric = metric or run_metric
        for s, m, q in rows:
            by_step.setdefault(s, []).append((m, q))
    return {s: (sum(m for m, _ in v) / len(v), sum(q for _, q in v) / len(v))
            for s, v in by_step.items()}, metric


def modes_cell(modes):
    """A run's count as an integer, a mean over runs with one decimal."""
    return "%d" % modes if isinstance(modes, int) else "%.1f" % modes


def steps_label(step):
    return "%dk" % (step // 1000) if step % 1000 == 0 else "{:,}".format(step)


def tables(runs, columns):
    """runs: [(label, {step: (modes, second)}, second metric)]; the union of their steps across."""
    steps = sorted({s for _, by_step, _ in runs for s in by_step})
    out = []
    for at in range(0, len(steps), columns):
        part = steps[at:at + columns]
        out.append("| steps | %s |" % " | ".join(steps_label(s) for s in part))
        out.append("|---|" + "---:|" * len(part))
        for label, by_step, (_, name, fmt) in runs:
            cells = [by_step.get(s) for s in part]
            out.append("| %s: modes | %s |" % (label, " | ".join(modes_cell(c[0]) if c else "" for c in cells)))
            out.append("| %s: %s | %s |" % (label, name, " | ".join(fmt % c[1] if c else "" for c in cells)))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--every", type=int, default=0, help="keep evaluations at multiples of N steps")
    ap.add_argument("--columns", type=int, default=10, help="columns a table")
    ap.add_argument("runs", nargs="+", metavar="LABEL=DIR")
    a = ap.parse_args()
    runs = []
    for spec in a.runs:
        if "=" not in spec:
            sys.exit("modes_over_steps.py: '%s' is not LABEL=DIR" % spec)
        label, run_dir = spec.split("=", 1)
        try:
            by_step, metric = mean_evaluations(run_dir)
        except OSError as e:
            sys.exit("modes_over_steps.py: %s: %s" % (run_dir, e.strerror))
        if a.every > 0:
            by_step = {s: v for s, v in by_step.items() if s % a.every == 0}
        if not by_step:
            sys.exit("modes_over_steps.py: %s has no mode evaluations in its metrics.jsonl "
                     "(train.eval_every = 0?)" % run_dir)
        runs.append((label, by_step, metric))
    print(tables(runs, a.columns))


if __name__ == "__main__":
    main()
