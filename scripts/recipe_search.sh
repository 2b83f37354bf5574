#!/bin/sh
# Issue 22: the best Fashion-MNIST generator in ten minutes of this machine, chosen by a staged
# search with gantry ablate. Each stage varies one part of the recipe on top of the winners of
# the stages before it (carried as --set), 3 seeds, a budget in minutes on the whole machine
# (one run at a time, every core); --reuse links the runs an earlier stage already trained (a
# stage's baseline is the last stage's winner, the same configuration and seeds).
#
#   sh scripts/recipe_search.sh OUT [FIRST_STAGE [LAST_STAGE]]
#
# A budget in minutes is turned into steps (gantry ablate --budget-as-steps TIMING, through
# scripts/timed_ablate.sh): each stage first times its new combinations alone on every core for
# TIMING seconds (default 120; BEFORE_TIMING and AFTER_TIMING, shell commands, run around it to
# pause other work so that the timings see the machine idle), then trains the runs JOBS at a
# time (default 2, one thread each; THREADS, when set, gives each run that many threads
# instead): the same runs as ten minutes on the whole machine would make, reproducible to the bit.
# From the second stage on, --timing-calibrate times the stage's baseline (the last winner) again
# first and scales the stage's new rates by its old rate over its new one, so that a search
# whose stages are timed on different days or machines keeps the first stage's speed.
#
# Rerunning continues: gantry ablate keeps finished runs and resumes an interrupted one, and the
# winners are read again from each finished stage's results.json. GANTRY (default build/gantry),
# BUDGET (default 10m), SEEDS (default 3), BASE (default configs/dcgan-fmnist.ini) and EVAL_N
# (samples per score; default gantry eval's 10,000) override; BUDGET=2 EVAL_N=200 SEEDS=1 is a
# dry run that checks every stage's settings train.
set -eu
[ $# -ge 1 ] || { echo "usage: sh scripts/recipe_search.sh OUT [FIRST_STAGE [LAST_STAGE]]" >&2; exit 2; }
out=$1 first=${2:-1} last=${3:-99}
gantry=${GANTRY:-build/gantry} budget=${BUDGET:-10m} seeds=${SEEDS:-3}
base=${BASE:-configs/dcgan-fmnist.ini}
eval_n=${EVAL_N:+--eval-n $EVAL_N}
jobs=${JOBS:-2} timing=${TIMING:-120}
case $budget in *m) as_steps="--budget-as-steps $timing" ;; *) as_steps="" ;; esac
python=${PYTHON:-python3}
mkdir -p "$out"

# The best row of a finished stage as --set options: a --vary value as key=value, a --choose
# label as the assignments it stands for (results.json's "choices").
winner_sets() {
    "$python" - "$1/results.json" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
best = min(t["rows"], key=lambda r: r["rank"])
choices = {key: {alt["label"]: alt["assign"] for alt in alts}
           for key, alts in t.get("choices", {}).items()}
sets = []
for key, value in zip(t["keys"], best["values"]):
    if key in choices:
        sets += [a for a in choices[key][value].split(";") if a]
    else:
        sets.append("%s=%s" % (key, value))
print(" ".join("--set " + a for a in sets))
EOF
}

sets="--set train.eval_every=0 --set train.sample_every=0${THREADS:+ --set train.threads=$THREADS}"
reuse=""
n=0
# stage NAME --vary ... : one ablation; its winner joins the sets of the stages after it.
stage() {
    name=$1
    shift
    n=$((n + 1))
    dir="$out/$n-$name"
    if [ "$n" -ge "$first" ] && [ "$n" -le "$last" ]; then
        echo "== stage $n: $name" >&2
        # shellcheck disable=SC2086  # sets, reuse and as_steps are lists of options
        if [ -n "$as_steps" ]; then
            calibrate=${reuse:+--timing-calibrate}
            GANTRY=$gantry JOBS=$jobs sh "$(dirname "$0")/timed_ablate.sh" --config "$base" $sets "$@" \
                --seeds "$seeds" --budget "$budget" $as_steps $calibrate $reuse $eval_n --out "$dir"
        else
            "$gantry" ablate --config "$base" $sets "$@" --seeds "$seeds" --budget "$budget" \
                --jobs "$jobs" $reuse $eval_n --out "$dir"
        fi
    fi
    [ -f "$dir/results.json" ] || { echo "stage $n ($name) has no results yet" >&2; exit 0; }
    sets="$sets $(winner_sets "$dir")"
    reuse="$reuse --reuse $dir"
}

# The family first: a later stage may not choose a key an earlier winner sets, and resnet's D
# needs model.d.norm = none (SNGAN's D: spectral norm, no batch norm), which d-norm varies.
# Then precision: bf16 makes a step cheaper at the same quality (docs/results.md, issue 17), so
# if it wins it gives every later stage more steps, and they are tuned in that regime. Then
# losses, penalties (R3GAN's gamma for 28x28 gray images, configs/r3gan-fmnist.ini, its decay
# over each run's steps), D's normalization (spectral: SNGAN's, without batch norm), the
# optimizer, the batch, the widths, EMA, augmentation. The stages whose settings leave a step's
# arithmetic as it is (learning rates, betas, EMA's decay) give every row the baseline's rate
# (--equal-step-cost), not a timing of its own: two timings of the same arithmetic differ by the
# machine's noise (7.6% between two learning rates here), which would buy one row free steps.
# The learning rates bracket the best: 5e-4, at the edge of the first grid (base 2e-4, 5e-4,
# TTUR's 1e-4/4e-4), beat DCGAN's 2e-4 on every seed, so 1e-3 was added to the stage; 1e-3
# won on its first two seeds (5.25, 5.22), at the edge again, so 2e-3 was added too.
stage family --choose family=dcgan: \
    --choose 'family=resnet32:data.resolution=32;model.g.family=resnet;model.d.family=resnet;model.d.norm=none;model.d.spectral_norm=true'
stage precision --vary train.precision=fp32,bf16
stage loss --vary loss.type=bce,hinge,rpgan
stage penalty --choose penalty=none: --choose 'penalty=r1:penalty.r1=0.1' \
    --choose 'penalty=r3gan:penalty.r1=0.1;penalty.r2=0.1;penalty.decay=cosine'
stage d-norm --choose d-norm=batch: --choose d-norm=layer:model.d.norm=layer \
    --choose d-norm=none:model.d.norm=none \
    --choose 'd-norm=spectral:model.d.norm=none;model.d.spectral_norm=true'
stage lr --equal-step-cost --choose lr=base: --choose 'lr=5e-4:optim.g.lr=5e-4;optim.d.lr=5e-4' \
    --choose 'lr=ttur:optim.g.lr=1e-4;optim.d.lr=4e-4' --choose 'lr=1e-3:optim.g.lr=1e-3;optim.d.lr=1e-3' \
    --choose 'lr=2e-3:optim.g.lr=2e-3;optim.d.lr=2e-3'
stage betas --equal-step-cost --choose betas=base: \
    --choose 'betas=zero-beta1:optim.g.beta1=0;optim.g.beta2=0.99;optim.d.beta1=0;optim.d.beta2=0.99'
stage batch --vary train.batch=32,64,128
stage width --choose width=base: --choose 'width=48:model.g.width=48;model.d.width=48' \
    --choose 'width=96:model.g.width=96;model.d.width=96'
stage ema --equal-step-cost --vary train.ema_decay=0.999,0.9999
stage augment --choose augment=none: --choose augment=diffaugment:augment.policy=diffaugment
echo "winners: $sets" >&2
