#!/bin/sh
# Issue 22's last comparison: whole recipes side by side at equal cost, 5 seeds, on the whole
# machine (ten minutes on every core) and on one core (ten minutes, one thread), then one table
# of FID, KID, precision, recall and class coverage with standard errors.
#
#   sh scripts/recipe_compare.sh OUT NAME=CONFIG [NAME=CONFIG ...]
#
# Each recipe and budget is a gantry ablate with --budget-as-steps (docs/search.md): timed alone
# for TIMING seconds (default 120) on every core, or on one thread for the one-core budget
# (--timing-threads 1), then trained JOBS runs at a time (default 2) by steps, so the runs are
# reproducible to the bit (scripts/timed_ablate.sh: BEFORE_TIMING and AFTER_TIMING, shell
# commands, run around each timing, to pause other work). GANTRY, BUDGET (default 10m), SEEDS (default 5) and EVAL_N
# override; BUDGET=0.05m TIMING=2 SEEDS=1 EVAL_N=200 is a dry run. Rerunning continues.
# REUSE, a space-separated list of ablation folders (a staged search's stages), is passed on as
# --reuse: a recipe whose resolved configuration a search already timed and trained takes that
# rate (no timing: the search's speed) and links those seeds' runs instead of training them.
set -eu
[ $# -ge 2 ] || { echo "usage: sh scripts/recipe_compare.sh OUT NAME=CONFIG [NAME=CONFIG ...]" >&2; exit 2; }
out=$1
shift
gantry=${GANTRY:-build/gantry} budget=${BUDGET:-10m} seeds=${SEEDS:-5}
timing=${TIMING:-120} jobs=${JOBS:-2} python=${PYTHON:-python3}
eval_n=${EVAL_N:+--eval-n $EVAL_N}
reuse=""
for dir in ${REUSE:-}; do
    [ -d "$dir" ] || { echo "recipe_compare.sh: REUSE names '$dir', which is not a folder" >&2; exit 2; }
    reuse="$reuse --reuse $dir"
done
mkdir -p "$out"

# one recipe at one budget: CONFIG DIR [extra ablate options]
compare() {
    config=$1 dir=$2
    shift 2
    # shellcheck disable=SC2086  # eval_n and reuse are lists of options
    GANTRY=$gantry JOBS=$jobs sh "$(dirname "$0")/timed_ablate.sh" --config "$config" \
        --seeds "$seeds" --budget "$budget" --budget-as-steps "$timing" \
        --set train.eval_every=0 --set train.sample_every=0 $eval_n $reuse --out "$dir" "$@"
}

tables=""
for spec in "$@"; do
    name=${spec%%=*} config=${spec#*=}
    [ "$name" != "$spec" ] && [ -f "$config" ] || { echo "recipe_compare.sh: '$spec' is not NAME=CONFIG (an existing file)" >&2; exit 2; }
    compare "$config" "$out/$name-machine"
    compare "$config" "$out/$name-1thread" --timing-threads 1 --set train.threads=1
    tables="$tables $name=$out/$name-machine/results.json $name=$out/$name-1thread/results.json"
done

# shellcheck disable=SC2086
"$python" - $tables <<'EOF'
import json, sys
metrics = [("fid", "FID"), ("kid", "KID x 1000"), ("precision", "precision"), ("recall", "recall"),
           ("classes_covered", "classes covered")]
print("| recipe | budget | steps | " + " | ".join(label for _, label in metrics) + " | seeds |")
print("|---|---|---:|" + "---:|" * len(metrics) + "---:|")
for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    t = json.load(open(path))
    row = t["rows"][0]
    stats = row["stats"]
    steps = sorted({r.get("steps") for r in t["runs"] if r.get("steps")})
    cells = []
    for key, _ in metrics:
        s = stats.get(key)
        if s is None or s["mean"] is None:
            cells.append("-")
        elif s.get("se") is None:
            cells.append("%.4g" % s["mean"])
        else:
            cells.append("%.4g +- %.2g" % (s["mean"], s["se"]))
    budget = "one thread" if path.rstrip("/").endswith("1thread/results.json") else "every core"
    print("| %s | %s, %s | %s | %s | %d |" % (name, t["budget"], budget, ",".join(map(str, steps)),
                                             " | ".join(cells), row["scored"]))
EOF
