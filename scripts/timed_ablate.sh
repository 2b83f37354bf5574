#!/bin/sh
# gantry ablate with a budget turned into steps (--budget-as-steps, docs/search.md), in two
# calls: first the timing alone (--time-only), with BEFORE_TIMING and AFTER_TIMING (shell
# commands) run around it to pause other work so that the timings see the machine idle; then the
# runs, JOBS at a time (default 2). GANTRY (default build/gantry) names the binary.
#
#   sh scripts/timed_ablate.sh ABLATE_OPTIONS...    (with --budget Nm --budget-as-steps S among them)
set -eu
gantry=${GANTRY:-build/gantry}
# hook NAME COMMAND: run a shell command; a failing one stops the script, saying which
hook() {
    sh -c "$2" || { echo "timed_ablate.sh: $1 ($2) failed; add '|| true' if that is expected" >&2; exit 1; }
}
hook BEFORE_TIMING "${BEFORE_TIMING:-:}"
status=0
"$gantry" ablate "$@" --time-only || status=$?
hook AFTER_TIMING "${AFTER_TIMING:-:}"
[ "$status" -eq 0 ] || exit "$status"
exec "$gantry" ablate "$@" --jobs "${JOBS:-2}"
