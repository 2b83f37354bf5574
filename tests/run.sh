#!/bin/sh
# Runs each test binary, prints its output, and ends with one line "N passed, N failed,
# N skipped" summed over all of them (a skipped case printed why it could not run here; with
# GANTRY_CI_NO_SKIPS=1, as CI sets it, a case skipped for want of data or a tool CI installs
# fails instead). With VALGRIND=1 each binary runs under valgrind's leak checker, except those
# named in VALGRIND_SKIP (binaries that train conv nets take most of an hour under valgrind;
# LeakSanitizer checks them for leaks in the SAN=1 run).
passed=0; failed=0; skipped=0; status=0
for t in "$@"; do
    if [ -n "$VALGRIND" ] && printf ' %s ' "$VALGRIND_SKIP" | grep -q " $(basename "$t") "; then
        echo "== $t: not run under valgrind (VALGRIND_SKIP; leak-checked by the SAN=1 run)"
        continue
    fi
    echo "== $t"
    if [ -n "$VALGRIND" ]; then
        out=$(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
              --error-exitcode=99 "$t" 2>&1); rc=$?
    else
        out=$("$t" 2>&1); rc=$?
    fi
    printf '%s\n' "$out"
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "  $t: no tally line (exit $rc)"; failed=$((failed + 1)); status=1; continue
    fi
    p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3); s=$(echo "$line" | cut -d' ' -f5)
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  $t: exit $rc"; failed=$((failed + 1))
    fi
    [ "$rc" -ne 0 ] && status=1
done
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
