#!/bin/sh
# The cost of unrolling against K (issue 8): gantry bench's MLP ring and DCGAN-28 steps with G's
# loss through K = 0, 1, 5, 10 unrolled D updates, exact and surrogate; median ms per step and
# peak RSS. Usage: sh bench/unrolled_cost.sh [THREADS]   (GANTRY: the binary, build/gantry)
set -eu
GANTRY=${GANTRY:-build/gantry}
THREADS=${1:-2}
field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p"; }
printf '%-9s %3s %-9s %10s %8s\n' workload K mode "ms/step" "RSS MB"
for w in mlp-ring dcgan-28; do
    if [ "$w" = mlp-ring ]; then steps=30 warm=3; else steps=3 warm=1; fi
    for k in 0 1 5 10; do
        for mode in exact surrogate; do
            [ "$k" = 0 ] && [ "$mode" = surrogate ] && continue
            extra=""
            [ "$k" != 0 ] && extra="--unrolled $k"
            [ "$mode" = surrogate ] && extra="$extra --surrogate"
            # shellcheck disable=SC2086
            line=$("$GANTRY" bench "$w" --threads "$THREADS" --steps "$steps" --warmup "$warm" $extra | tail -n 1)
            printf '%-9s %3s %-9s %10.1f %8.1f\n' "$w" "$k" "$mode" \
                "$(echo "$line" | field ms_per_step)" "$(echo "$line" | field peak_rss_mb)"
        done
    done
done
