#!/bin/sh
# Checks that the public headers are closed under #include "...": each quoted include of a
# public header must name another public header (include/gantry.h as "gantry.h", src/DIR/FILE
# as "DIR/FILE", the installed layout), never a private one (core/internal.h, cpu/cpu.h, ...),
# which is not installed and would break every program that includes it.
#
#   scripts/check-headers.sh HEADER...     (run from the repository root)
set -eu

[ $# -gt 0 ] || { echo "usage: $0 HEADER..." >&2; exit 2; }

# The name each public header is included by: include/X as X, src/X as X.
names=""
for h in "$@"; do
    case $h in
        include/*) names="$names ${h#include/}" ;;
        src/*) names="$names ${h#src/}" ;;
        *) echo "check-headers: $h is neither under include/ nor under src/" >&2; exit 1 ;;
    esac
done

status=0
for h in "$@"; do
    for inc in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$h"); do
        case " $names " in
            *" $inc "*) ;;
            *) echo "check-headers: public header $h includes \"$inc\", which is not public" >&2
               status=1 ;;
        esac
    done
done
[ $status -eq 0 ] && echo "check-headers: the $# public headers include only each other"
exit $status
