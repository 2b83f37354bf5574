#!/bin/sh
# `make demo`: installs what gantry needs from Debian (when run as root; otherwise prints the
# apt-get line), builds, and trains the default recipe (DCGAN on Fashion-MNIST) for a few minutes.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential zlib1g-dev libpng-dev libinih-dev libcjson-dev dataset-fashion-mnist"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
    else
        echo "gantry demo needs these Debian packages:$missing"
        echo "install them with:  sudo apt-get install -y$missing"
        exit 1
    fi
fi

make -j2 build/gantry
RUN=${RUN:-runs/demo}
STEPS=${STEPS:-2000}
echo "training the default recipe (configs/dcgan-fmnist.ini) for $STEPS steps into $RUN"
build/gantry train --config configs/dcgan-fmnist.ini --out "$RUN" train.steps="$STEPS" \
    train.sample_every=250
echo
echo "report:   $RUN/report.html (curves, samples, configuration; opens offline)"
echo "samples:  $RUN/samples/ (step-NNNNNN.png, one grid every 250 steps)"
echo "metrics:  $RUN/metrics.jsonl    checkpoint: $RUN/checkpoint.safetensors"
echo "more:     build/gantry sample --ckpt $RUN/checkpoint.safetensors --n 64 --out samples.png"
