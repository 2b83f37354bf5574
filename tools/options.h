/* The command line's one option parser: each command describes its options in a table (name,
 * kind, destination, what the value must be) and gt_opts_parse walks argv with it, so the
 * forms "--name value" / "--name=value", --help / -h, and the messages for a missing or bad
 * value are the same in every command. The help screens stay hand-written per command: they
 * interleave options with defaults and prose that a table would not lay out the same way. */
#ifndef GT_TOOLS_OPTIONS_H
#define GT_TOOLS_OPTIONS_H

#include <stdbool.h>

/* What a handler or the parser returns besides 0 (go on) and an exit status: stop parsing,
 * the command exits 0 (--help was printed, or an option did the whole job). */
#define GT_OPTS_DONE (-1)

typedef struct gt_opt gt_opt;
struct gt_opt {
    const char *name;      /* "--out"; NULL ends a table */
    enum {
        GT_OPT_FLAG,       /* no value: *(bool *)dest = true */
        GT_OPT_TEXT,       /* *(const char **)dest = the value; missing: "NAME needs WHAT" */
        GT_OPT_INT,        /* *(long long *)dest, an integer in lo .. hi; else "NAME must be WHAT,
                            * got 'V'" (WHAT NULL: "an integer from LO to HI", or "a non-negative
                            * integer" when lo is 0 and hi is 0 too, meaning no upper bound) */
        GT_OPT_CALL,       /* take(o, value), value NULL when missing */
        GT_OPT_ACTION,     /* no value: take(o, NULL) */
    } kind;
    void *dest;
    const char *what;
    long long lo, hi;
    /* GT_OPT_CALL / GT_OPT_ACTION: 0, GT_OPTS_DONE or an exit status (after a message). */
    int (*take)(const gt_opt *o, const char *value);
};

/* Table entries, one per kind. */
#define GT_OPT_FLAG_(name, dest) {name, GT_OPT_FLAG, dest, NULL, 0, 0, NULL}
#define GT_OPT_TEXT_(name, dest, what) {name, GT_OPT_TEXT, dest, what, 0, 0, NULL}
#define GT_OPT_INT_(name, dest, lo, hi, what) {name, GT_OPT_INT, dest, what, lo, hi, NULL}
#define GT_OPT_CALL_(name, dest, take) {name, GT_OPT_CALL, dest, NULL, 0, 0, take}
#define GT_OPT_ACTION_(name, dest, take) {name, GT_OPT_ACTION, dest, NULL, 0, 0, take}
#define GT_OPT_END {NULL, GT_OPT_FLAG, NULL, NULL, 0, 0, NULL}

typedef struct gt_opts {
    const char *command;   /* "sample", "classifier train": names the command in messages */
    const gt_opt *opts;    /* ended by an entry with name NULL */
    void (*help)(void *ctx);
    /* An argument that is no option: 0 or an exit status. NULL: "unknown argument 'A'". */
    int (*positional)(const char *arg, void *ctx);
    void *ctx;             /* for help and positional */
} gt_opts;

/* Parses argv[1 .. argc-1]: 0 when every argument was taken, GT_OPTS_DONE when the command
 * should exit 0 now, else the exit status of a usage error already reported. */
int gt_opts_parse(const gt_opts *p, int argc, char **argv);

#endif
