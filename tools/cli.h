/* Shared pieces of the gantry command line: option parsing helpers, configuration assembly,
 * and the commands' entry points. The CLI is the only part of gantry that exits. */
#ifndef GT_CLI_H
#define GT_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "io/config.h"

/* Each command returns the process exit status. */
int gt_cmd_train(int argc, char **argv);
int gt_cmd_sample(int argc, char **argv);
int gt_cmd_info(int argc, char **argv);
int gt_cmd_config(int argc, char **argv);
int gt_cmd_bench(int argc, char **argv);
int gt_cmd_classifier(int argc, char **argv);
int gt_cmd_eval(int argc, char **argv);
int gt_cmd_ablate(int argc, char **argv);
int gt_cmd_report(int argc, char **argv);
int gt_cmd_export(int argc, char **argv);

/* "--name value" or "--name=value" at argv[*i]; advances *i past it and sets *value. */
bool gt_cli_option(int argc, char **argv, int *i, const char *name, const char **value);
bool gt_cli_is_help(const char *arg);
/* Prints "gantry: <msg>" to stderr and returns exit status 1 (or 2 for usage errors). */
int gt_cli_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
int gt_cli_usage(const char *command, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The trainer a checkpoint describes, networks only, with its state restored (sample, export). */
struct gt_trainer;
int gt_cli_open_checkpoint(const char *path, struct gt_trainer *t, gt_error *err);
/* Parses a non-negative integer option value; false if it is not one. */
bool gt_cli_parse_i64(const char *text, long long *out);

#endif
