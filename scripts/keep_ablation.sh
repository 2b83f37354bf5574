#!/bin/sh
# The small files of an ablation, without its checkpoints, samples and reports: enough to commit
# its finished runs and to go on with it on another machine (gantry ablate keeps a run whose
# ablate.json says it trained and holds its score; an unfinished run starts again there).
#
#   sh scripts/keep_ablation.sh ABLATION_DIR KEEP_DIR     copy the finished runs' files
#   cp -R KEEP_DIR/. ABLATION_DIR                          put them back before rerunning
#
# Kept: plan.json, timing.json, results.json and results.md where present, and of each finished
# run its ablate.json (signature, score), config.ini (what --reuse compares) and metrics.jsonl
# (the curves).
set -eu
[ $# -eq 2 ] || { echo "usage: sh scripts/keep_ablation.sh ABLATION_DIR KEEP_DIR" >&2; exit 2; }
src=$1 dst=$2
[ -f "$src/plan.json" ] || { echo "$src: no plan.json, not an ablation folder" >&2; exit 1; }
mkdir -p "$dst"
for f in plan.json timing.json results.json results.md; do
    [ -f "$src/$f" ] && cp "$src/$f" "$dst/$f"
done
for run in "$src"/runs/*/; do
    state=$run/ablate.json
    grep -q '"trained":[[:space:]]*true' "$state" 2>/dev/null || continue
    name=$(basename "$run")
    mkdir -p "$dst/runs/$name"
    for f in ablate.json config.ini metrics.jsonl; do
        [ -f "$run/$f" ] && cp "$run/$f" "$dst/runs/$name/$f"
    done
done
exit 0
