#!/bin/sh
# gantry bench for each workload and, when Debian's python3-torch imports, the same PyTorch step
# in the same run (machines here are noisy: only ratios measured together mean something).
# Prints each run, then a table: both medians, torch/gantry, gantry's GFLOP/s and its share of
# the FMA peak, and both peak RSS.
# Environment (defaults in brackets):
#   GANTRY [build/gantry]   PYTHON [/usr/bin/python3]
#   BENCH_ARGS []           extra arguments for both sides, e.g. "--steps 5 --warmup 1"
#   PEAK_GFLOPS [425]       FP32 FMA peak for the share column (protocols.md, two cores)
#   GANTRY_THREADS [1 2]    thread counts gantry's GAN steps are timed at (the fastest counts,
#                           as for PyTorch, which torch_step.py times at 1 and 2 threads)
#   TORCH_BLAS_DIR []       a folder holding libblas.so.3 for PyTorch alone, e.g.
#                           /usr/lib/x86_64-linux-gnu/openblas-pthread (see docs/benchmarks.md)
set -eu

GANTRY=${GANTRY:-build/gantry}
PYTHON=${PYTHON:-/usr/bin/python3}
BENCH_ARGS=${BENCH_ARGS:-}
PEAK_GFLOPS=${PEAK_GFLOPS:-425}
TORCH_BLAS_DIR=${TORCH_BLAS_DIR:-}
GANTRY_THREADS=${GANTRY_THREADS:-1 2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# field NAME FILE: a number or string field of the JSON object on FILE's last line ("-" if none).
field() {
    tail -n 1 "$2" | sed -n "s/.*\"$1\": \"\{0,1\}\([^,\"}]*\).*/\1/p" | grep . || echo -
}

torch_step() {
    if [ -n "$TORCH_BLAS_DIR" ]; then
        LD_LIBRARY_PATH="$TORCH_BLAS_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "$PYTHON" bench/torch_step.py "$@"
    else
        "$PYTHON" bench/torch_step.py "$@"
    fi
}

have_torch=no
if "$PYTHON" -c 'import torch' 2>/dev/null; then have_torch=yes; fi
[ "$have_torch" = yes ] || echo "PyTorch not importable by $PYTHON: gantry figures only"

# gantry_best WORKLOAD THREADS...: runs gantry at each thread count and keeps the fastest run
# in $out/WORKLOAD.gantry. Each run's output goes to a file first, so that its exit status is
# not lost in a pipe.
gantry_best() {
    w=$1 best=
    shift
    for t in "$@"; do
        # shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments
        if ! "$GANTRY" bench "$w" --threads "$t" $BENCH_ARGS >"$out/$w.$t"; then
            cat "$out/$w.$t"
            exit 1
        fi
        cat "$out/$w.$t"
        if [ -z "$best" ] || awk -v a="$(field ms_per_step "$out/$w.$t")" \
            -v b="$(field ms_per_step "$best")" 'BEGIN { exit !(a < b) }'; then
            best=$out/$w.$t
        fi
    done
    cp "$best" "$out/$w.gantry"
}

status=0
cores=$(getconf _NPROCESSORS_ONLN)
for w in sgemm dcgan-28 wgangp-28 mlp-ring; do
    # sgemm's figure is the all-core one (issue 5's target); the steps get the same best-of
    # threads as PyTorch, which also keeps a busy shared core from deciding the ratio.
    if [ "$w" = sgemm ]; then
        gantry_best "$w" "$cores"
    else
        # shellcheck disable=SC2086 # a list of thread counts
        gantry_best "$w" $GANTRY_THREADS
    fi
    if [ "$w" = sgemm ] || [ "$have_torch" = no ]; then continue; fi
    # shellcheck disable=SC2086
    if ! torch_step "$w" $BENCH_ARGS >"$out/$w.torch"; then
        status=1
        echo "PyTorch $w failed"
    fi
    cat "$out/$w.torch"
done

echo
printf '%-9s %15s %15s %8s %9s %8s %10s %9s\n' workload "gantry ms (thr)" "torch ms (thr)" \
    torch/g GFLOP/s "% peak" "gantry MB" "torch MB"
for w in sgemm dcgan-28 wgangp-28 mlp-ring; do
    g=$out/$w.gantry t=$out/$w.torch
    gms=$(field ms_per_step "$g") gthr=$(field threads "$g") gf=$(field gflops "$g")
    tms=- thr=- tmb=-
    if [ -s "$t" ] && [ "$(field ms_per_step "$t")" != - ]; then
        tms=$(field ms_per_step "$t") thr=$(field threads "$t") tmb=$(field peak_rss_mb "$t")
    fi
    awk -v w="$w" -v g="$gms" -v gthr="$gthr" -v t="$tms" -v thr="$thr" -v gf="$gf" \
        -v pk="$PEAK_GFLOPS" -v gmb="$(field peak_rss_mb "$g")" -v tmb="$tmb" 'BEGIN {
        tcol = t == "-" ? "-" : sprintf("%.2f (%s)", t, thr)
        ratio = t == "-" ? "-" : sprintf("%.2fx", t / g)
        gcol = sprintf("%.2f (%s)", g, gthr)
        printf "%-9s %15s %15s %8s %9.1f %7.1f%% %10s %9s\n", w, gcol, tcol, ratio, gf,
               100 * gf / pk, gmb, tmb }'
done
if [ "$have_torch" = yes ] && [ -s "$out/dcgan-28.torch" ]; then
    echo "PyTorch BLAS: $(field blas "$out/dcgan-28.torch")"
    case $(field blas "$out/dcgan-28.torch") in
    */blas/libblas.so*) echo "warning: PyTorch runs on the reference BLAS here, far slower than" \
        "protocols.md's OpenBLAS; see docs/benchmarks.md (TORCH_BLAS_DIR)" ;;
    esac
fi
exit $status
