#!/usr/bin/env python3
"""Modes covered and % high quality against steps, as Markdown tables, from the in-training
evaluations (train.eval_every) of 2-D mixture runs: each run folder's metrics.jsonl.

    python3 scripts/modes_over_steps.py [--every N] [--columns C] LABEL=RUN_DIR [LABEL=RUN_DIR ...]

Steps across (the union of the runs' evaluations, every N steps; default: all of them), at most
C columns a table (default 10), two rows a run: "LABEL: modes" and "LABEL: % high quality". Used for docs/results.md's issue 18
curves (PacGAN's setup at 400,000 steps).
"""
import argparse
import json
import sys


def evaluations(run_dir):
    """(step, modes, % high quality) of each evaluation line of run_dir/metrics.jsonl."""
    rows = []
    with open(run_dir + "/metrics.jsonl") as f:
        for line in f:
            if not line.strip():
                continue
            j = json.loads(line)
            if "modes_covered" in j:
                rows.append((j["step"], j["modes_covered"], j["pct_high_quality"]))
    return rows


def steps_label(step):
    return "%dk" % (step // 1000) if step % 1000 == 0 else "{:,}".format(step)


def tables(runs, columns):
    """runs: [(label, {step: (modes, quality)})]; the union of their steps across."""
    steps = sorted({s for _, by_step in runs for s in by_step})
    out = []
    for at in range(0, len(steps), columns):
        part = steps[at:at + columns]
        out.append("| steps | %s |" % " | ".join(steps_label(s) for s in part))
        out.append("|---|" + "---:|" * len(part))
        for label, by_step in runs:
            cells = [by_step.get(s) for s in part]
            out.append("| %s: modes | %s |" % (label, " | ".join("%d" % c[0] if c else "" for c in cells)))
            out.append("| %s: %% high quality | %s |" %
                       (label, " | ".join("%.1f" % c[1] if c else "" for c in cells)))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--every", type=int, default=0, help="keep evaluations at multiples of N steps")
    ap.add_argument("--columns", type=int, default=10, help="columns a table")
    ap.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    a = ap.parse_args()
    runs = []
    for spec in a.runs:
        if "=" not in spec:
            sys.exit("modes_over_steps.py: '%s' is not LABEL=RUN_DIR" % spec)
        label, run_dir = spec.split("=", 1)
        try:
            rows = evaluations(run_dir)
        except OSError as e:
            sys.exit("modes_over_steps.py: %s: %s" % (run_dir, e.strerror))
        if a.every > 0:
            rows = [r for r in rows if r[0] % a.every == 0]
        if not rows:
            sys.exit("modes_over_steps.py: %s/metrics.jsonl has no mode evaluations "
                     "(train.eval_every = 0?)" % run_dir)
        runs.append((label, {s: (m, q) for s, m, q in rows}))
    print(tables(runs, a.columns))

if __name__ == "__main__":
    main()
