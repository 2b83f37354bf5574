#!/bin/sh
# Issue 18's evidence (docs/results.md, "PacGAN's setup"): the runs behind each table, through
# gantry ablate, so that every part is resumable (a rerun keeps finished runs and continues an
# interrupted one).
#
#   sh scripts/pacgan_evidence.sh short OUT [DATA:M ...]   10 seeds x 20,000 steps of each
#                                                           setting (default all eight), two
#                                                           seeds of every setting at a time
#   sh scripts/pacgan_evidence.sh full OUT DATA:M           seed 0 at the full 400,000 steps
#   sh scripts/pacgan_evidence.sh stacked OUT               DCGAN and PacDCGAN2-4 on stacked
#                                                           Fashion-MNIST, 3 seeds x 2,000 steps
#   sh scripts/pacgan_evidence.sh stacked-long OUT          DCGAN and PacDCGAN2, seed 0 x 10,000
#                                                           steps, modes every 2,000
#   sh scripts/pacgan_evidence.sh combos OUT                packing with WGAN-GP on the grid and
#                                                           with exact unrolling (K = 5) on the
#                                                           ring, 10 seeds x 2,000 steps
#
# Each setting has its own ablation folder under OUT (DATA-mM, stacked, stacked-long, combo-...).
# A pack of m keeps the recipes' number of packs per batch, so train.batch is m times the
# recipe's. GANTRY (default build/gantry) names the binary, THREADS (default 1) the threads of
# each run, JOBS (default 1) the stacked runs trained at a time; the numbers do not depend on any
# of them.
# scripts/keep_ablation.sh copies a folder's finished runs without their checkpoints, to commit
# them or carry them to another machine.
set -eu
[ $# -ge 2 ] || { sed -n '5,16p' "$0" >&2; exit 2; }
part=$1 out=$2
shift 2
gantry=${GANTRY:-build/gantry} threads=${THREADS:-1}

# pacgan DATA M STEPS SEEDS EVAL_EVERY CHECKPOINT_EVERY: one setting of configs/pacgan-DATA.ini
pacgan() {
    "$gantry" ablate --config "configs/pacgan-$1.ini" --seeds "$4" --budget "$3" \
        --mode-metric pacgan --set "model.d.pack=$2" --set "train.batch=$((100 * $2))" \
        --set "train.threads=$threads" --set "train.eval_every=$5" --set train.sample_every=0 \
        --set "train.checkpoint_every=$6" --out "$out/$1-m$2"
}

case $part in
short)
    [ $# -gt 0 ] || set -- ring:1 ring:4 grid:1 grid:4 ring:2 grid:2 ring:3 grid:3
    for seeds in 2 4 6 8 10; do
        for setting in "$@"; do
            pacgan "${setting%%:*}" "${setting##*:}" 20000 "$seeds" 2000 5000
        done
    done
    ;;
full)
    [ $# -eq 1 ] || { echo "full: give one DATA:M" >&2; exit 2; }
    pacgan "${1%%:*}" "${1##*:}" 400000 1 10000 10000
    ;;
stacked)
    # 64 packs a batch, as the recipe's batch of 64; scored on the protocol's 26,000 samples
    "$gantry" ablate --config configs/dcgan-stacked-fmnist.ini --seeds 3 --budget 2000 \
        --eval-n 26000 --jobs "${JOBS:-1}" --set "train.threads=$threads" --set train.eval_every=0 \
        --set train.sample_every=0 --choose pack=1: \
        --choose 'pack=2:model.d.pack=2;train.batch=128' \
        --choose 'pack=3:model.d.pack=3;train.batch=192' \
        --choose 'pack=4:model.d.pack=4;train.batch=256' --out "$out/stacked"
    ;;
stacked-long)
    # does packing catch up with more steps? 5x the stacked budget, one seed of m = 1 and m = 2
    "$gantry" ablate --config configs/dcgan-stacked-fmnist.ini --seeds 1 --budget 10000 \
        --eval-n 26000 --jobs "${JOBS:-1}" --set "train.threads=$threads" \
        --set train.eval_every=2000 --set train.sample_every=0 --set train.checkpoint_every=1000 \
        --choose pack=1: --choose 'pack=2:model.d.pack=2;train.batch=128' --out "$out/stacked-long"
    ;;
combos)
    # each beside its recipe unpacked (docs/results.md's WGAN-GP and unrolled rows), same seeds
    "$gantry" ablate --config configs/wgan-gp-grid.ini --seeds 10 --budget 2000 \
        --mode-metric pacgan --set "train.threads=$threads" --set train.eval_every=0 \
        --set train.sample_every=0 --choose pack=1: --choose 'pack=4:model.d.pack=4;train.batch=2048' \
        --out "$out/combo-wgan-gp-grid"
    "$gantry" ablate --config configs/unrolled-ring.ini --seeds 10 --budget 2000 \
        --mode-metric pacgan --set "train.threads=$threads" --set train.eval_every=0 \
        --set train.sample_every=0 --choose pack=1: \
        --choose 'pack=4:model.d.pack=4;train.batch=2048' --out "$out/combo-unrolled-ring"
    ;;
*)
    echo "unknown part '$part': expected short, full, stacked, stacked-long or combos" >&2
    exit 2
    ;;
esac
