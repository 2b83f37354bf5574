#!/bin/sh
# The layers above core (nn, optim, gan, train, eval, data, io, report, base) reach tensors only
# through the public header and core/engine.h: they never see a tensor's memory pointer (gantry.h
# hides it unless GT_BACKEND_SIDE is defined) and never call a backend's kernels directly.
# Checks the sources' includes and defines, and the built objects' undefined symbols.
#   usage: scripts/check_layers.sh BUILD_DIR
build=${1:-build}
upper="nn optim gan train eval data io report base export"
status=0
fail() { echo "check_layers: $*"; status=1; }

for layer in $upper; do
    [ -d "src/$layer" ] || continue
    for f in src/$layer/*.c src/$layer/*.h; do
        [ -f "$f" ] || continue
        if grep -nE '#include "(core/(internal|backend|context)\.h|cpu/|ref/)' "$f"; then
            fail "$f includes a header private to core or to a backend (use core/engine.h)"
        fi
        if grep -n 'GT_BACKEND_SIDE' "$f"; then
            fail "$f defines GT_BACKEND_SIDE (only core and the backends see tensor memory)"
        fi
    done
    for o in "$build"/src/$layer/*.o; do
        [ -f "$o" ] || continue
        bad=$(nm -u "$o" | awk '{print $2}' | grep -E '^gt_(cpu|ref)_' | tr '\n' ' ')
        [ -z "$bad" ] || fail "$o calls backend kernels directly: $bad"
    done
done
[ $status -eq 0 ] && echo "check_layers: the layers above core use neither tensor memory nor kernels"
exit $status
