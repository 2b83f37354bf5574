#!/bin/sh
# Issue 22, item 4: does the search's choice hold on another data set? The search's best
# recipes (scripts/recipe_top.py: TOP, default 3, across all its stages) beside the default
# recipe, on stacked Fashion-MNIST (three garments as three channels, 1,000 class triples:
# configs/dcgan-stacked-fmnist.ini, the default recipe but for its data), at the same budget
# as steps (timed on this data: a 3-channel step costs a little more), SEEDS seeds (default 3),
# each scored on the protocol's 26,000 samples: triples covered, reverse KL, and the quality of
# the channels as Fashion-MNIST images (channel FID, KID, precision, recall).
#
#   sh scripts/recipe_generalize.sh OUT SEARCH_DIR
#
# Through scripts/timed_ablate.sh (BEFORE_TIMING and AFTER_TIMING pause other work around the
# timings); GANTRY, BUDGET (default 10m), TIMING (default 120), JOBS (default 2), SEEDS and
# EVAL_N (default 26000) override. Rerunning continues.
set -eu
[ $# -eq 2 ] || { echo "usage: sh scripts/recipe_generalize.sh OUT SEARCH_DIR" >&2; exit 2; }
out=$1 search=$2
gantry=${GANTRY:-build/gantry} budget=${BUDGET:-10m} seeds=${SEEDS:-3}
timing=${TIMING:-120} jobs=${JOBS:-2} python=${PYTHON:-python3}
recipes=$(mktemp)
trap 'rm -f "$recipes"' EXIT
"$python" "$(dirname "$0")/recipe_top.py" --choose "$search" "${TOP:-3}" > "$recipes"
set --
while IFS= read -r alternative; do
    set -- "$@" --choose "$alternative"
done < "$recipes"
GANTRY=$gantry JOBS=$jobs sh "$(dirname "$0")/timed_ablate.sh" \
    --config configs/dcgan-stacked-fmnist.ini --choose recipe=default: "$@" \
    --seeds "$seeds" --budget "$budget" --budget-as-steps "$timing" --eval-n "${EVAL_N:-26000}" \
    --set train.eval_every=0 --set train.sample_every=0 --out "$out"
