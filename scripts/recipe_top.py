#!/usr/bin/env python3
"""The best recipes a staged search (scripts/recipe_search.sh) has scored, across all its stages.

    python3 scripts/recipe_top.py [--choose] SEARCH_DIR [N]

Every row of every finished stage (SEARCH_DIR/K-NAME/results.json) is a whole recipe: the
stage's --set options (the winners of the stages before it) and the row's own setting. All of
them trained at the same budget, so their FIDs compare across stages. The N best distinct
recipes (default 3; a stage's baseline row is the previous winner again, and a row that sets a
key to the value it had is the same recipe: recipes are told apart by the configuration `gantry
config` resolves them to, GANTRY naming the binary, default build/gantry) are
printed one a line, tab-separated: rank, FID mean, its standard error, the stage and row, and
the recipe as --set options (the runner's own keys, threads and evaluation schedule, left out).
With --choose, each line is instead a gantry ablate --choose alternative, "recipe=topK:a=1;b=2",
to train the recipes side by side (scripts/recipe_generalize.sh).
"""
import glob
import json
import os
import re
import subprocess
import sys

RUNNER_KEYS = {"train.threads", "train.eval_every", "train.sample_every", "train.checkpoint_every"}


def assignments(text):
    """'a=1;b=2' or ['a=1', 'b=2'] as [('a', '1'), ('b', '2')]."""
    items = text.split(";") if isinstance(text, str) else text
    return [tuple(a.split("=", 1)) for a in items if a]


def stage_recipes(path):
    """(label, base config, recipe dict, fid mean, fid se) of each scored row of one stage's
    results.json."""
    with open(path) as f:
        t = json.load(f)
    base = dict(assignments(t.get("set", [])))
    choices = {key: {alt["label"]: alt["assign"] for alt in alts}
               for key, alts in t.get("choices", {}).items()}
    stage = os.path.basename(os.path.dirname(path))
    for row in t["rows"]:
        recipe = dict(base)
        labels = []
        for key, value in zip(t["keys"], row["values"]):
            labels.append("%s=%s" % (key, value))
            recipe.update(assignments(choices[key][value]) if key in choices else [(key, value)])
        fid = row["stats"].get("fid", {})
        if fid.get("mean") is None:
            continue
        recipe = {k: v for k, v in recipe.items() if k not in RUNNER_KEYS}
        yield "%s: %s" % (stage, ", ".join(labels)), t["config"], recipe, fid["mean"], fid.get("se")


def resolved(config, recipe):
    """The configuration text gantry resolves the base file and the recipe to."""
    gantry = os.environ.get("GANTRY", "build/gantry")
    args = [gantry, "config", "--config", config] + ["%s=%s" % kv for kv in sorted(recipe.items())]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def stage_number(path):
    m = re.match(r"(\d+)-", os.path.basename(os.path.dirname(path)))
    return int(m.group(1)) if m else 0


def main():
    args = sys.argv[1:]
    choose = args[:1] == ["--choose"]
    args = args[choose:]
    if len(args) not in (1, 2):
        sys.exit(__doc__)
    n = int(args[1]) if len(args) == 2 else 3
    seen, found = set(), []
    for path in sorted(glob.glob(os.path.join(args[0], "*", "results.json")), key=stage_number):
        for label, config, recipe, fid, se in stage_recipes(path):
            key = resolved(config, recipe)
            if key not in seen:
                seen.add(key)
                found.append((fid, se, label, recipe))
    if not found:
        sys.exit("%s: no stage with scored rows (results.json)" % args[0])
    found.sort(key=lambda r: r[0])
    for rank, (fid, se, label, recipe) in enumerate(found[:n], 1):
        if choose:
            print("recipe=top%d:%s" % (rank, ";".join("%s=%s" % kv for kv in sorted(recipe.items()))))
            continue
        sets = " ".join("--set %s=%s" % kv for kv in sorted(recipe.items()))
        print("%d\t%.4g\t%s\t%s\t%s" % (rank, fid, "-" if se is None else "%.2g" % se, label, sets))


if __name__ == "__main__":
    main()
