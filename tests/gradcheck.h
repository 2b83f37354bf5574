/* Gradient checks for ops: first-order gradients against central finite differences of
 * <f(x), v>, and second order against finite differences of <grad_x <f(x), v>, u>. */
#ifndef GT_GRADCHECK_H
#define GT_GRADCHECK_H

#include "gantry.h"

/* f builds the op under test from its inputs; ctx carries options. */
typedef gt_tensor *(*gc_fn)(gt_tensor *const *in, const void *ctx);

typedef struct {
    double eps;    /* finite-difference step */
    double atol;   /* absolute tolerance */
    double rtol;   /* relative tolerance */
} gc_tol;

gc_tol gc_tol_default(void);
/* Checks gradients of f at the given inputs (contiguous leaves that require grad, not in the
 * step arena: the check ends steps between evaluations). second: also check second order.
 * Returns the number of mismatches (each printed with the op name). */
int gc_check(const char *name, int n_in, gt_tensor *const *in, gc_fn f, const void *ctx,
             bool second, gc_tol tol);

#endif
