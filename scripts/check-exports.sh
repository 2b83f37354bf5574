#!/bin/sh
# Checks that a built libgantry.so exports exactly gantry's public API:
#   - every defined dynamic symbol is a gt_ name declared in the public headers;
#   - none is a backward kernel (gt_bw_*), a CPU or reference kernel (gt_cpu_*, gt_ref_*) or a
#     private name (ending in '_');
#   - every function and extern variable the public headers declare is exported, so a program
#     written against the installed headers always links.
#
#   scripts/check-exports.sh LIBGANTRY.so HEADER...     (run from the repository root)
set -eu

[ $# -ge 2 ] || { echo "usage: $0 LIBGANTRY.so HEADER..." >&2; exit 2; }
lib=$1; shift
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sh "$here/public-symbols.sh" "$@" 2>/dev/null > "$tmp/public"
# nm prints "VALUE TYPE NAME"; a versioned name would carry @VERSION.
nm -D --defined-only "$lib" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u > "$tmp/exported"

status=0
report() {  # report TITLE FILE: prints the lines of FILE under TITLE and fails the check
    if [ -s "$2" ]; then
        echo "check-exports: $lib: $1:" >&2
        sed 's/^/  /' "$2" >&2
        status=1
    fi
}
grep -v '^gt_' "$tmp/exported" > "$tmp/not_gt" || true
report "exports symbols outside the gt_ namespace" "$tmp/not_gt"
grep -E '^gt_bw_|^gt_cpu_|^gt_ref_|_$' "$tmp/exported" > "$tmp/forbidden" || true
report "exports kernels or private names (gt_bw_*, gt_cpu_*, gt_ref_*, *_)" "$tmp/forbidden"
comm -23 "$tmp/exported" "$tmp/public" | grep '^gt_' > "$tmp/extra" || true
report "exports gt_ symbols that no public header declares" "$tmp/extra"
comm -13 "$tmp/exported" "$tmp/public" > "$tmp/missing" || true
report "does not export these public declarations (a program using them cannot link)" "$tmp/missing"

if [ $status -eq 0 ]; then
    echo "check-exports: $lib exports the $(wc -l < "$tmp/public" | tr -d ' ') public symbols and nothing else"
fi
exit $status
