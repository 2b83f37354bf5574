#!/bin/sh
# Runs each test binary, prints its output, and ends with one line "N passed, N failed"
# summed over all of them. With VALGRIND=1 each binary runs under valgrind's leak checker,
# except those named in VALGRIND_SKIP (binaries that train conv nets take most of an hour
# under valgrind; LeakSanitizer checks them for leaks in the SAN=1 run).
passed=0; failed=0; status=0
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
    line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "  $t: no tally line (exit $rc)"; failed=$((failed + 1)); status=1; continue
    fi
    p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  $t: exit $rc"; failed=$((failed + 1))
    fi
    [ "$rc" -ne 0 ] && status=1
done
echo "$passed passed, $failed failed"
exit $status
