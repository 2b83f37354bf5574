# Sourced by tests/mpi_*.sh: the launcher, a scratch folder removed at exit, and check NAME CMD...
# (CMD must succeed), which counts into the "N passed, N failed, N skipped" line that tally prints.
mpirun="mpirun --oversubscribe --allow-run-as-root -np 2"
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
passed=0; failed=0
check() { # what, then a command that must succeed
    what=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "  ok   $what"
    else failed=$((failed + 1)); echo "  FAIL $what"; fi
}
tally() { # the suite's line, and the status
    echo "$passed passed, $failed failed, 0 skipped"
    [ "$failed" -eq 0 ]
}
