#!/bin/sh
# Soak test (issue 21): trains one run and samples its resident memory as it goes, to show that a
# long run's memory stays flat (no leak per step, per evaluation or per checkpoint).
#
#   sh scripts/soak.sh GANTRY RUNDIR OUT.tsv [key=value ...]
#
# trains `GANTRY train --out RUNDIR key=value ...` (give --config through the first key=value's
# place as `--config FILE`), polls /proc/PID/status every POLL seconds (default 1) and writes
# OUT.tsv: one line per 1,000 steps, "step  rss_mb", the first sample taken at or after each
# multiple of 1,000 (the step read from the last line of RUNDIR/metrics.jsonl). At the end it
# prints the first, the middle and the last sample and the largest rise after the first 10%.
set -eu
[ $# -ge 3 ] || { echo "usage: sh scripts/soak.sh GANTRY RUNDIR OUT.tsv [train args...]" >&2; exit 2; }
gantry=$1 rundir=$2 out=$3
shift 3
poll=${POLL:-1}

"$gantry" train --out "$rundir" "$@" > "$out.log" 2>&1 &
pid=$!
printf 'step\trss_mb\n' > "$out"
next=1000
while kill -0 "$pid" 2>/dev/null; do
    sleep "$poll"
    rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss_kb" ] || continue
    step=$(tail -n 1 "$rundir/metrics.jsonl" 2>/dev/null | sed -n 's/^{"step": *\([0-9]*\).*/\1/p')
    [ -n "$step" ] || continue
    if [ "$step" -ge "$next" ]; then
        awk -v s="$step" -v k="$rss_kb" 'BEGIN { printf "%d\t%.1f\n", s, k / 1024 }' >> "$out"
        next=$(( (step / 1000 + 1) * 1000 ))
    fi
done
wait "$pid" || { echo "soak: the run failed; see $out.log" >&2; exit 1; }

# Summary: first, middle, last, and the largest rise over the first sample after warm-up.
awk -F'\t' 'NR > 1 { s[++n] = $1; r[n] = $2 }
  END {
    if (n == 0) { print "soak: no samples"; exit 1 }
    w = int(n / 10) + 1; base = r[w]; rise = 0
    for (i = w; i <= n; i++) if (r[i] - base > rise) rise = r[i] - base
    printf "samples %d: step %d %.1f MB, mid-run %.1f MB, step %d %.1f MB; largest rise after step %d: %.1f MB\n",
           n, s[1], r[1], r[int((n + 1) / 2)], s[n], r[n], s[w], rise
  }' "$out"
