/* Training health: the warning rules on synthetic statistics, then through the CLI: a run whose
 * D wins outright and whose G emits one point gets both warnings in metrics.jsonl, and a run
 * that diverges stops with a checkpoint of the last good (finite) state and advice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "io/safetensors.h"
#include "test.h"
#include "train/health.h"

static gt_step_stats stats(double acc_real, double acc_fake, double d_norm, double g_norm) {
    gt_step_stats st = {0};
    st.d_acc_real = acc_real;
    st.d_acc_fake = acc_fake;
    st.d_grad_norm = d_norm;
    st.g_grad_norm = g_norm;
    return st;
}

/* Runs n steps of the same statistics; returns the step of the first warning (0: none). */
static int64_t first_warning(gt_health *h, int64_t from, int64_t n, gt_step_stats st, char *msg) {
    for (int64_t s = from; s < from + n; s++)
        if (gt_health_step(h, s, &st, msg, 512)) return s;
    return 0;
}

TEST(d_overpowering_needs_a_sustained_average) {
    gt_health h;
    char msg[512];
    gt_health_init(&h);
    CHECK(first_warning(&h, 1, 1000, stats(1, 0.9, 1, 1), msg) == 0); /* 90%: healthy enough */
    gt_health_init(&h);
    CHECK(first_warning(&h, 1, 199, stats(1, 1, 1, 1), msg) == 0);    /* not yet 200 steps */
    int64_t at = first_warning(&h, 200, 100, stats(1, 0.97, 1, 1), msg);
    CHECK(at == 200 && strstr(msg, "D overpowers G") && strstr(msg, "optim.d.lr"));
    CHECK(first_warning(&h, 201, 500, stats(1, 1, 1, 1), msg) == 0);  /* not repeated at once */
    CHECK(first_warning(&h, 701, 600, stats(1, 1, 1, 1), msg) == 1200);
}

TEST(exploding_gradient_norms) {
    gt_health h;
    char msg[512];
    gt_health_init(&h);
    CHECK(first_warning(&h, 1, 100, stats(0.5, 0.5, 2, 3), msg) == 0);
    CHECK(first_warning(&h, 101, 1, stats(0.5, 0.5, 50, 3), msg) == 0);   /* 25x: no */
    CHECK(first_warning(&h, 102, 1, stats(0.5, 0.5, 2, 600), msg) == 102); /* 200x */
    CHECK(strstr(msg, "G's gradient norm exploded") != NULL);
    CHECK(first_warning(&h, 103, 1, stats(0.5, 0.5, 900, 3), msg) == 103);
    CHECK(strstr(msg, "D's gradient norm exploded") != NULL);
}

TEST(diversity_collapse_against_the_data) {
    gt_health h;
    char msg[512];
    gt_health_init(&h);
    float data[8] = {-1, 1, 1, -1, 0.5f, 0.5f, -0.5f, -0.5f}; /* 4 examples of 2 values */
    float same[8] = {0.2f, 0.1f, 0.2f, 0.1f, 0.2f, 0.1f, 0.2f, 0.1f};
    CHECK(gt_health_diversity(&h, 600, data, 4, data, 4, 2, msg, sizeof msg) == 0);
    CHECK(gt_health_diversity(&h, 100, same, 4, data, 4, 2, msg, sizeof msg) == 0); /* early */
    CHECK(gt_health_diversity(&h, 600, same, 4, data, 4, 2, msg, sizeof msg) == 1);
    CHECK(strstr(msg, "diversity collapsed") != NULL);
}

/* G with zero weights emits one point; D separates it perfectly: both warnings reach the log. */
TEST(cli_logs_collapse_and_d_overpowering) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=500", "train.log_every=50", "model.g.init=normal",
                 "model.g.init_std=0", "optim.g.lr=1e-9", "train.eval_every=0", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "warning at step"));
    char *log = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
    CHECK(log && strstr(log, "\"warning\": \"sample diversity collapsed"));
    CHECK(log && strstr(log, "\"warning\": \"D overpowers G"));
    free(log);
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

/* Every tensor of a checkpoint is finite. */
static bool all_finite(const char *path) {
    gt_error err;
    gt_st_file *f = gt_st_read(path, &err);
    if (!f) return false;
    bool ok = true;
    for (int i = 0; i < gt_st_count(f); i++) {
        const gt_st_tensor *t = gt_st_at(f, i);
        for (int64_t k = 0; k < t->numel; k++) ok = ok && isfinite(t->data[k]);
    }
    gt_st_free(f);
    return ok;
}

static const char *meta_of(const char *path, const char *key, char *buf, size_t cap) {
    gt_error err;
    gt_st_file *f = gt_st_read(path, &err);
    const char *v = f ? gt_st_meta(f, key) : NULL;
    snprintf(buf, cap, "%s", v ? v : "(none)");
    gt_st_free(f);
    return buf;
}

/* D's update of step 1 ran before G's loss failed: the state written is the one before it
 * (issue 21, defect 1: it held opt_d.step 1, loader.index 1 and D's weights near 1e30), beside
 * (never over) checkpoint.safetensors. */
TEST(cli_stops_a_diverging_run_at_the_last_good_state) {
    char dir[64], buf[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=100", "optim.d.lr=1e30", "optim.g.lr=1e30", NULL);
    cli_run_fails_saying(&a, "NaN or infinite", "last good state", "lower learning rates",
                         "--resume", "--from", NULL);
    const char *ckpt = cli_path(run, "last-good.safetensors");
    CHECK(cli_exists(ckpt) && all_finite(ckpt));
    CHECK(strcmp(meta_of(ckpt, "step", buf, sizeof buf), "0") == 0);
    CHECK(strcmp(meta_of(ckpt, "opt_d.step", buf, sizeof buf), "0") == 0);
    CHECK(strcmp(meta_of(ckpt, "loader.index", buf, sizeof buf), "0") == 0);
    CHECK(!cli_exists(cli_path(run, "checkpoint.safetensors")));
    char *log = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
    CHECK(log && strstr(log, "\"error\": \"G's loss"));
    free(log);
    cli_scratch_remove(dir);
}

/* optim.d.lr = 1e6 on the ring recipe: G's Adam v overflows at step 2 while every loss and
 * gradient norm stays finite; the run ran all 2,000 steps with exit 0 before the updated state
 * was checked (issue 21, defect 2). */
TEST(cli_stops_a_run_whose_optimizer_state_overflows) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--config", "configs/gan-ring.ini", "--out", run, "--quiet",
                 "train.steps=2000", "optim.d.lr=1e6", "train.eval_every=0", "train.threads=1", NULL);
    cli_run_fails_saying(&a, "optimizer state", "NaN or infinite", "last good state", NULL);
    CHECK(all_finite(cli_path(run, "last-good.safetensors")));
    cli_scratch_remove(dir);
}

/* The exploded-gradient stop counts consecutive steps above the bound, per network. */
TEST(gradient_norm_stop_needs_a_window_in_a_row) {
    gt_health h;
    char msg[512];
    gt_health_init(&h);
    gt_step_stats high_d = stats(0.5, 0.5, 20, 1), calm = stats(0.5, 0.5, 5, 1);
    CHECK(gt_health_grad_stop(&h, &high_d, 10, 3, msg, sizeof msg) == 0);
    CHECK(gt_health_grad_stop(&h, &high_d, 10, 3, msg, sizeof msg) == 0);
    CHECK(gt_health_grad_stop(&h, &calm, 10, 3, msg, sizeof msg) == 0); /* the count restarts */
    CHECK(gt_health_grad_stop(&h, &high_d, 10, 3, msg, sizeof msg) == 0);
    CHECK(gt_health_grad_stop(&h, &high_d, 10, 3, msg, sizeof msg) == 0);
    CHECK(gt_health_grad_stop(&h, &high_d, 10, 3, msg, sizeof msg) == 1);
    CHECK(strstr(msg, "D's gradient norm stayed above health.grad_norm_max = 10 for 3 steps"));
    gt_health_init(&h);
    gt_step_stats nan_g = stats(0.5, 0.5, 1, NAN);
    CHECK(gt_health_grad_stop(&h, &nan_g, 10, 1, msg, sizeof msg) == 1 && strstr(msg, "G's"));
    CHECK(gt_health_grad_stop(&h, &high_d, 0, 1, msg, sizeof msg) == 0); /* bound 0: off */
}

/* A bound every step exceeds stops the run after the window, with the state in last-good. */
TEST(cli_stops_when_gradient_norms_stay_above_the_bound) {
    char dir[64], buf[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    cli_args_tiny_ring(&a, run);
    cli_args_add(&a, "train.steps=50", "health.grad_norm_max=1e-9", "health.grad_norm_window=3", NULL);
    cli_run_fails_saying(&a, "gradient norm stayed above health.grad_norm_max", "--from", NULL);
    CHECK(strcmp(meta_of(cli_path(run, "last-good.safetensors"), "step", buf, sizeof buf), "3") == 0);
    cli_scratch_remove(dir);
}

/* Every recipe on 2-D data trains with the strictest windows (1 step) at the default bound: no
 * healthy step trips a stop. (Fewer points and one thread keep it short.) */
TEST(cli_recipes_never_trip_the_stops) {
    static const char *const recipes[] = {"gan-ring", "gan-grid", "d2gan-ring", "unrolled-ring",
                                          "unrolled-grid", "wgan-gp-grid"};
    char dir[64], cfg[96], out[96];
    if (!cli_scratch_new(dir)) return;
    for (size_t i = 0; i < sizeof recipes / sizeof *recipes; i++) {
        snprintf(cfg, sizeof cfg, "configs/%s.ini", recipes[i]);
        snprintf(out, sizeof out, "%s/%s", dir, recipes[i]);
        cli_args a;
        cli_args_init(&a);
        cli_args_add(&a, "train", "--config", cfg, "--out", out, "--quiet", "train.steps=3",
                     "health.stall_window=1", "health.grad_norm_window=1", "train.eval_every=0",
                     "train.sample_every=0", "data.n_points=2000", "train.threads=1", NULL);
        CHECK(cli_run_ok(&a));
    }
    cli_scratch_remove(dir);
}

int main(void) {
    int rc;
    RUN_TESTS_INTO(rc, T(d_overpowering_needs_a_sustained_average), T(exploding_gradient_norms),
                   T(diversity_collapse_against_the_data), T(cli_logs_collapse_and_d_overpowering),
                   T(cli_stops_a_diverging_run_at_the_last_good_state),
                   T(cli_stops_a_run_whose_optimizer_state_overflows),
                   T(gradient_norm_stop_needs_a_window_in_a_row),
                   T(cli_stops_when_gradient_norms_stay_above_the_bound),
                   T(cli_recipes_never_trip_the_stops));
    gt_runtime_free();
    return rc;
}
