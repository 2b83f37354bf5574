/* See options.h. */
#include "options.h"

#include <string.h>

#include "cli.h"

static int take_text(const gt_opts *p, const gt_opt *o, const char *v) {
    if (!v) return gt_cli_usage(p->command, "%s needs %s", o->name, o->what);
    *(const char **)o->dest = v;
    return 0;
}

static int take_int(const gt_opts *p, const gt_opt *o, const char *v) {
    long long x;
    bool bounded = o->hi > 0;
    if (gt_cli_parse_i64(v, &x) && x >= o->lo && (!bounded || x <= o->hi)) {
        *(long long *)o->dest = x;
        return 0;
    }
    if (o->what) return gt_cli_usage(p->command, "%s must be %s, got '%s'", o->name, o->what, v ? v : "");
    if (!bounded)
        return gt_cli_usage(p->command, "%s must be a non-negative integer, got '%s'", o->name,
                            v ? v : "");
    return gt_cli_usage(p->command, "%s must be an integer from %lld to %lld, got '%s'", o->name,
                        o->lo, o->hi, v ? v : "");
}

/* Whether argv[*i] is option o; if so takes it (and its value) and sets *rc. */
static bool try_option(const gt_opts *p, const gt_opt *o, int argc, char **argv, int *i, int *rc) {
    const char *v = NULL;
    bool valueless = o->kind == GT_OPT_FLAG || o->kind == GT_OPT_ACTION;
    if (valueless ? strcmp(argv[*i], o->name) != 0 : !gt_cli_option(argc, argv, i, o->name, &v))
        return false;
    switch (o->kind) {
    case GT_OPT_FLAG: *(bool *)o->dest = true; *rc = 0; break;
    case GT_OPT_TEXT: *rc = take_text(p, o, v); break;
    case GT_OPT_INT: *rc = take_int(p, o, v); break;
    default: *rc = o->take(o, v); break;
    }
    return true;
}

static int take_argument(const gt_opts *p, int argc, char **argv, int *i) {
    if (gt_cli_is_help(argv[*i])) {
        p->help(p->ctx);
        return GT_OPTS_DONE;
    }
    int rc = 0;
    for (const gt_opt *o = p->opts; o && o->name; o++)
        if (try_option(p, o, argc, argv, i, &rc)) return rc;
    if (p->positional) return p->positional(argv[*i], p->ctx);
    return gt_cli_usage(p->command, "unknown argument '%s'", argv[*i]);
}

int gt_opts_parse(const gt_opts *p, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int rc = take_argument(p, argc, argv, &i);
        if (rc) return rc;
    }
    return 0;
}
