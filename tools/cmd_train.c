/* gantry train: a run from a configuration (or resumed from its checkpoint), with a live
 * progress line, metrics.jsonl, sample grids, checkpoints, and Ctrl-C saving a checkpoint. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cluster.h"
#include "options.h"
#include "train/session.h"
#include "train/trainer.h"

static volatile sig_atomic_t interrupted;
static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static void help(void *ctx) {
    (void)ctx;
    gt_config d;
    gt_config_defaults(&d);
    printf("usage: gantry train --config FILE [section.key=value ...] --out RUNDIR\n"
           "       gantry train --resume RUNDIR [--from CHECKPOINT] [section.key=value ...]\n\n"
           "  --config FILE     an INI configuration (configs/dcgan-fmnist.ini is the default recipe);\n"
           "                    keys not in it take their defaults (gantry config --defaults)\n"
           "  --out RUNDIR      where the run writes config.ini, metrics.jsonl, samples/ and\n"
           "                    checkpoint.safetensors (created if missing)\n"
           "  --resume RUNDIR   continue the run in RUNDIR from its checkpoint, bit for bit\n"
           "  --from FILE       with --resume: continue from FILE instead of RUNDIR's checkpoint\n"
           "                    (a diverged run's RUNDIR/last-good.safetensors)\n"
           "  --quiet           no progress line\n"
           "  --profile         at the end, print where the time went: each op kind's share,\n"
           "                    forward and backward, the achieved GFLOP/s, and the step memory\n"
           "                    each op kind allocates\n"
           "  section.key=value override one key, e.g. train.steps=%lld optim.g.lr=%g\n\n"
           "Ctrl-C saves a checkpoint and stops; resume with --resume RUNDIR.\n",
           (long long)d.train_steps, d.opt_g_lr);
}

typedef struct {
    const char *config, *out, *resume, *from;
    bool quiet, profile;
    int n_overrides;
    char **overrides;
} train_args;

/* section.key=value: an override (argv's own slots hold them, in order). */
static int take_override(const char *arg, void *ctx) {
    train_args *a = ctx;
    if (arg[0] == '-' || !strchr(arg, '='))
        return gt_cli_usage("train", "unknown argument '%s'", arg);
    a->overrides[a->n_overrides++] = (char *)arg;
    return 0;
}

static int parse_args(int argc, char **argv, train_args *a) {
    memset(a, 0, sizeof *a);
    a->overrides = argv;
    const gt_opt opts[] = {
        GT_OPT_TEXT_("--config", &a->config, "a file"),
        GT_OPT_TEXT_("--out", &a->out, "a folder"),
        GT_OPT_TEXT_("--resume", &a->resume, "a run folder"),
        GT_OPT_TEXT_("--from", &a->from, "a checkpoint"),
        GT_OPT_FLAG_("--quiet", &a->quiet),
        GT_OPT_FLAG_("--profile", &a->profile),
        GT_OPT_END,
    };
    gt_opts p = {"train", opts, help, take_override, a};
    int rc = gt_opts_parse(&p, argc, argv);
    if (rc) return rc;
    if (a->resume && (a->config || a->out))
        return gt_cli_usage("train", "--resume takes the run folder alone (no --config or --out)");
    if (a->from && !a->resume)
        return gt_cli_usage("train", "--from FILE goes with --resume RUNDIR");
    if (!a->resume && (!a->config || !a->out))
        return gt_cli_usage("train", "needs --config FILE and --out RUNDIR, or --resume RUNDIR");
    return 0;
}

/* This rank's threads when `ranks` ranks share the machine's cores (at least one). */
static int64_t share_cores(int ranks) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long per = cores > 0 && ranks > 0 ? cores / ranks : 1;
    return per < 1 ? 1 : per;
}

/* The configuration: the checkpoint's (resume) or the file's, then the overrides. */
static int resolve_config(const train_args *a, const char *ckpt, gt_config *cfg, gt_error *err) {
    gt_config_defaults(cfg);
    if (a->resume) {
        if (gt_checkpoint_config(ckpt, cfg, err) < 0) return -1;
    } else if (gt_config_load_file(cfg, a->config, err) < 0) {
        return -1;
    }
    for (int i = 0; i < a->n_overrides; i++)
        if (gt_config_set(cfg, a->overrides[i], "command line", err) < 0) return -1;
    return 0;
}

int gt_cmd_train(int argc, char **argv) {
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc == GT_OPTS_DONE ? 0 : rc;
    const char *dir = a.resume ? a.resume : a.out;
    char ckpt[4096];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    if (a.from) snprintf(ckpt, sizeof ckpt, "%s", a.from);
    gt_config cfg;
    gt_error err;
    if (resolve_config(&a, ckpt, &cfg, &err) < 0) return gt_cli_fail("%s", err.msg);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit then fails the write with a message */
    gt_train_request req = {.dir = dir, .cfg = &cfg, .resume = a.resume != NULL,
                            .resume_from = a.from, .quiet = a.quiet,
                            .profile = a.profile, .log = stderr, .stop = &interrupted};
    /* under mpirun (a build with make MPI=1): one run, its batches shared out over the ranks */
    gt_cluster cluster;
    gt_comm comm;
    if (gt_cluster_start(&cluster) < 0) return 1;
    if (cluster.size > 1) {
        gt_cluster_comm(&cluster, &comm);
        req.comm = &comm;
        req.quiet = a.quiet || cluster.rank != 0;
        if (cfg.train_threads == 0) /* the machine's cores, shared by its ranks */
            cfg.train_threads = share_cores(cluster.local_size);
    }
    gt_train_outcome outcome;
    rc = gt_train_run(&req, &outcome, &err);
    if (rc < 0 && cluster.size > 1)
        rc = gt_cli_fail("rank %d of %d: %s", cluster.rank, cluster.size, err.msg);
    else if (rc < 0)
        rc = gt_cli_fail("%s", err.msg);
    gt_runtime_free();
    gt_cluster_stop(&cluster);
    return rc;
}
