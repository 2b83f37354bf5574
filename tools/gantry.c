/* gantry: the command line. `gantry COMMAND --help` lists each command's options. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train/registries.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", gt_cmd_train, "train a GAN from a configuration, or resume a run"},
    {"sample", gt_cmd_sample, "draw samples from a checkpoint into a PNG grid or a .npy file"},
    {"export", gt_cmd_export, "write G as an ONNX file or a web page that runs it in the browser"},
    {"info", gt_cmd_info, "show what a checkpoint holds"},
    {"config", gt_cmd_config, "print every configuration key with its default, or a resolved config"},
    {"eval", gt_cmd_eval, "score samples: FID, KID, precision/recall, class or mode coverage"},
    {"ablate", gt_cmd_ablate, "compare configurations: every --vary combination x K seeds, ranked table"},
    {"report", gt_cmd_report, "write RUNDIR/report.html: curves, samples and config in one offline page"},
    {"classifier", gt_cmd_classifier, "retrain or evaluate the Fashion-MNIST feature network"},
    {"bench", gt_cmd_bench, "time a workload (sgemm, dcgan-28, mlp-ring)"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "usage: gantry COMMAND [options]   (gantry COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

bool gt_cli_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

bool gt_cli_option(int argc, char **argv, int *i, const char *name, const char **value) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return false;
    if (a[n] == '=') {
        *value = a + n + 1;
        return true;
    }
    if (a[n] != '\0') return false;
    if (*i + 1 >= argc) {
        *value = NULL;
        return true;
    }
    *value = argv[++*i];
    return true;
}

int gt_cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("gantry: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int gt_cli_usage(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gantry %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see gantry %s --help)\n", command);
    va_end(ap);
    return 2;
}

bool gt_cli_parse_i64(const char *text, long long *out) {
    char *end = NULL;
    if (text) *out = strtoll(text, &end, 10);
    return text && *text && !*end && *out >= 0;
}

int main(int argc, char **argv) {
    gt_registries_install(); /* the configuration's dataset, family and loss names */
    if (argc < 2 || gt_cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) exit(commands[i].run(argc - 1, argv + 1));
    fprintf(stderr, "gantry: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
