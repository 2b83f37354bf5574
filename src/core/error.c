/* Environment errors: a message buffer filled printf-style by the failing function. */
#include <stdarg.h>
#include <stdio.h>

#include "gantry.h"

int gt_error_set(gt_error *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
