/* Contexts: creation, the calling thread's current one, and the process default that a thread
 * uses until it picks its own. A context's memory (step arena, tape, workspace) is made on
 * first use and given back by gt_runtime_free or gt_ctx_free. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"
#include "core/internal.h"

static const gt_backend *const backends[] = {
#define GT_BACKEND(name) &gt_backend_##name,
#include "core/backends.def"
#undef GT_BACKEND
};
#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

int gt_backend_count(void) { return N_BACKENDS; }

const char *gt_backend_name(int i) {
    GT_CHECK(i >= 0 && i < N_BACKENDS, "backend %d out of range [0, %d)", i, N_BACKENDS);
    return backends[i]->name;
}

const gt_backend *gt_backend_find(const char *name) {
    for (int i = 0; i < N_BACKENDS; i++)
        if (strcmp(backends[i]->name, name) == 0) return backends[i];
    return NULL;
}

/* "cpu, ref" */
static void backend_list(char *buf, size_t cap) {
    buf[0] = '\0';
    for (int i = 0; i < N_BACKENDS; i++) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", backends[i]->name);
    }
}

int gt_backend_check(const char *name, gt_error *err) {
    if (gt_backend_find(name)) return 0;
    char names[256];
    backend_list(names, sizeof names);
    return gt_error_set(err, "unknown backend '%.100s' (expected one of: %s)", name, names);
}

static void ctx_init(gt_ctx *c, const gt_backend *be) {
    memset(c, 0, sizeof *c);
    c->be = be;
    c->grad_enabled = true;
}

gt_ctx *gt_ctx_new(const char *backend, gt_error *err) {
    const char *name = backend ? backend : gt_backend_default();
    if (gt_backend_check(name, err) < 0) return NULL;
    gt_ctx *c = malloc(sizeof *c);
    if (!c) {
        gt_error_set(err, "out of memory (a context)");
        return NULL;
    }
    ctx_init(c, gt_backend_find(name));
    return c;
}

/* Gives back the context's memory; the context stays usable and makes it again on demand. */
static void ctx_release(gt_ctx *c) {
    if (c->ws) c->be->workspace_free(c->ws);
    c->ws = NULL;
    gt_arena_free(c->step);
    c->step = NULL;
    free(c->tape);
    c->tape = NULL;
    c->tape_len = c->tape_cap = 0;
    free(c->writes.w);
    c->writes.w = NULL;
    c->writes.len = c->writes.cap = 0;
    free(c->walk.made);
    c->walk.made = NULL;
    c->walk.n_made = c->walk.cap_made = 0;
    free(c->walk.widened);
    c->walk.widened = NULL;
    c->walk.n_widened = c->walk.cap_widened = 0;
}

static _Thread_local gt_ctx *current;
static gt_ctx default_ctx;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
    const gt_backend *be = gt_backend_find(gt_backend_default());
    GT_CHECK(be != NULL, "GANTRY_BACKEND='%s' names no backend", gt_backend_default());
    ctx_init(&default_ctx, be);
}

void gt_ctx_free(gt_ctx *c) {
    if (!c) return;
    GT_CHECK(c != &default_ctx, "gt_ctx_free: the default context is not freed");
    if (current == c) current = NULL;
    ctx_release(c);
    free(c);
}

gt_ctx *gt_ctx_(void) {
    if (!current) {
        pthread_once(&default_once, default_init);
        current = &default_ctx;
    }
    return current;
}

gt_ctx *gt_ctx_current(void) { return gt_ctx_(); }

gt_ctx *gt_ctx_use(gt_ctx *c) {
    gt_ctx *prev = gt_ctx_();
    current = c;  /* NULL: the default again, on the next call */
    return prev;
}

const char *gt_ctx_backend(const gt_ctx *c) { return c->be->name; }

gt_precision gt_precision_set(gt_precision p) {
    GT_CHECK(p == GT_PRECISION_FP32 || p == GT_PRECISION_BF16, "gt_precision_set: unknown precision %d",
             (int)p);
    gt_ctx *c = gt_ctx_();
    gt_precision prev = c->precision;
    c->precision = p;
    return prev;
}

gt_precision gt_precision_get(void) { return gt_ctx_()->precision; }
bool gt_bf16_(void) { return gt_ctx_()->precision == GT_PRECISION_BF16; }

bool gt_precision_bf16_native(void) { return gt_ctx_()->be->bf16_native(); }

const char *gt_backend_default(void) {
    const char *env = getenv("GANTRY_BACKEND");
    return env && *env ? env : backends[0]->name;
}

void gt_runtime_free(void) { ctx_release(gt_ctx_()); }

const gt_backend *gt_be(void) { return gt_ctx_()->be; }

/* ---- running out of memory ---------------------------------------------------------------- */

_Noreturn void gt_unwind_(const char *fmt, ...) {
    gt_ctx *c = gt_ctx_();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->unwind_msg, sizeof c->unwind_msg, fmt, ap);
    va_end(ap);
    if (c->unwind_jmp) longjmp(*c->unwind_jmp, 1);
    gt_fail_(__FILE__, __LINE__, "%s", c->unwind_msg);
}

_Noreturn void gt_oom_(size_t bytes, const char *what) {
    gt_unwind_("out of memory: %s of %zu bytes (%.1f MiB) could not be allocated on the %s "
               "backend; try a smaller batch (train.batch) or narrower networks "
               "(model.g.width, model.d.width)",
               what, bytes, (double)bytes / (1 << 20), gt_ctx_()->be->name);
}

int gt_try(int (*fn)(void *arg), void *arg, gt_error *err) {
    gt_ctx *c = gt_ctx_();
    jmp_buf here;
    jmp_buf *volatile outer = c->unwind_jmp;
    volatile bool grad = c->grad_enabled;
    const gt_comm *volatile ranks = c->ranks;
    if (setjmp(here)) {
        /* unwound from gt_unwind_: the step's tensors are dropped, the walk, mode and ranks
         * restored */
        c->unwind_jmp = outer;
        c->walk.active = false;
        c->grad_enabled = grad;
        c->ranks = ranks;
        gt_step_end();
        return gt_error_set(err, "%s", c->unwind_msg);
    }
    c->unwind_jmp = &here;
    int rc = fn(arg);
    c->unwind_jmp = outer;
    return rc;
}

/* ---- ranks ------------------------------------------------------------------------------------ */

const gt_comm *gt_ranks_use(const gt_comm *comm) {
    gt_ctx *c = gt_ctx_();
    const gt_comm *prev = c->ranks;
    c->ranks = comm;
    return prev;
}

const gt_comm *gt_ranks(void) { return gt_ctx_()->ranks; }

void *gt_ws_(void) {
    gt_ctx *c = gt_ctx_();
    if (!c->ws && c->be->workspace_new) c->ws = c->be->workspace_new();
    return c->ws;
}
