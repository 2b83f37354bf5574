#!/bin/sh
# FP32 against bf16 (issue 17): `gantry bench WORKLOAD --precision P --threads T` for P in fp32,
# bf16 and T in 1, 2, alternated ROUNDS times (default 3) so that a busy spell of a shared
# machine hits both sides; prints, per workload and precision, the best median ms per step over
# threads and rounds, its GFLOP/s and peak RSS, the best one-thread median CPU ms per step (what
# a step costs when other processes take time slices), the FP32 / bf16 ratios of both, and the
# step memory (the step arena's peak) of bf16 against FP32.
# With TORCH=1, each round also times PyTorch's FP32 step of the workload (bench/torch_step.py,
# the best of 1 and 2 threads, Debian's python3-torch on the system BLAS) for the ratio of
# PyTorch FP32 to gantry bf16 measured in the same run (dcgan-28 and wgangp-28 only).
# Usage: sh bench/bf16_bench.sh [WORKLOAD ...]   (default: dcgan-28 wgangp-28)
# Reads GANTRY (default build/gantry), ROUNDS, BENCH_ARGS (e.g. "--steps 10 --warmup 2"),
# TORCH, PYTHON (default /usr/bin/python3).
GANTRY=${GANTRY:-build/gantry}
ROUNDS=${ROUNDS:-3}
TORCH=${TORCH:-0}
PYTHON=${PYTHON:-/usr/bin/python3}
[ $# -eq 0 ] && set -- dcgan-28 wgangp-28
out=$(mktemp)
for w in "$@"; do
    r=0
    while [ "$r" -lt "$ROUNDS" ]; do
        for t in 1 2; do
            for p in fp32 bf16; do
                # shellcheck disable=SC2086
                "$GANTRY" bench "$w" --precision "$p" --threads "$t" $BENCH_ARGS | tail -n 1 >> "$out" || exit 1
            done
        done
        if [ "$TORCH" = 1 ]; then
            # shellcheck disable=SC2086
            "$PYTHON" bench/torch_step.py "$w" $BENCH_ARGS | tail -n 1 |
                sed 's/^{/{"precision": "torch-fp32", /' >> "$out" || exit 1
        fi
        r=$((r + 1))
    done
done
python3 - "$out" "$@" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for w in sys.argv[2:]:
    best = {}
    for r in rows:
        if r["workload"] != w: continue
        p = r["precision"]
        if p not in best or r["ms_per_step"] < best[p]["ms_per_step"]: best[p] = r
    cpu = {}
    for r in rows:
        if r["workload"] == w and r["threads"] == 1 and "cpu_ms_per_step" in r:
            p = r["precision"]
            cpu[p] = min(cpu.get(p, 1e99), r["cpu_ms_per_step"])
    f, b = best.get("fp32"), best.get("bf16")
    for p, r in (("fp32", f), ("bf16", b)):
        if r: print(f"{w:12s} {p}: {r['ms_per_step']:8.2f} ms ({r['threads']} thr)  {r['gflops']} GFLOP/s  RSS {r['peak_rss_mb']} MB  CPU 1 thr {cpu.get(p, 0):.2f} ms")
    if f and b: print(f"{w:12s} fp32 / bf16 = {f['ms_per_step'] / b['ms_per_step']:.2f}x (wall), {cpu['fp32'] / cpu['bf16']:.2f}x (CPU, 1 thread)")
    if f and b and "step_peak_mb" in f and "step_peak_mb" in b:
        print(f"{w:12s} step memory: bf16 {b['step_peak_mb']} MB / fp32 {f['step_peak_mb']} MB = {100 * b['step_peak_mb'] / f['step_peak_mb']:.1f}% (target: at most 70%)")
    t = best.get("torch-fp32")
    if t:
        print(f"{w:12s} PyTorch fp32: {t['ms_per_step']:8.2f} ms ({t['threads']} thr)  RSS {t['peak_rss_mb']} MB")
        for p, r in (("fp32", f), ("bf16", b)):
            if r: print(f"{w:12s} PyTorch fp32 / gantry {p} = {t['ms_per_step'] / r['ms_per_step']:.2f}x (wall, best threads each)")
PY
rm -f "$out"
