/* gantry ablate: a real tiny ablation on the ring (2 learning rates x 2 seeds of 60 steps with
 * 2 x 16 MLPs), its table and JSON, resuming (a rerun skips finished runs; an interrupted one
 * continues to the same numbers), --jobs 2 against --jobs 1, the ablation in two --shard parts
 * then --merge against the whole, a failed run recorded beside the others, errors found before
 * anything trains; and the library's statistics and parsers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chromium.h"
#include "cli_support.h"
#include "test.h"
#include "train/ablate.h"

#define LR "optim.d.lr=1e-4,1e-3"

/* The ring recipe shrunk to milliseconds per run; one thread, because tiny steps under
 * OpenMP's barriers crawl on a busy 2-core machine. */
static void ring_ablation(cli_args *a, const char *out, const char *jobs, const char *vary) {
    cli_args_init(a);
    cli_args_add(a, "ablate", "--config", "configs/gan-ring.ini", "--vary", vary, "--seeds", "2",
                 "--budget", "60", "--out", out, "--jobs", jobs, NULL);
    static const char *const sets[] = {"model.g.width=16",   "model.d.width=16", "model.g.depth=2",
                                       "model.d.depth=2",    "model.g.z_dim=8",  "train.batch=64",
                                       "train.eval_every=0", "train.threads=1"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) cli_args_add(a, "--set", sets[i], NULL);
}

static int count_lines_starting(const char *text, const char *prefix) {
    int n = 0;
    for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        n += strncmp(p, prefix, strlen(prefix)) == 0;
    return n;
}

static int count_substrings(const char *text, const char *part) {
    int n = 0;
    for (const char *p = strstr(text, part); p; p = strstr(p + 1, part)) n++;
    return n;
}

/* The table gt_ablate_table_load reads back, as Markdown, equals results.md (no failures). */
static void check_table_round_trip(const char *dir, const char *md) {
    gt_ablate_table t;
    gt_error err;
    CHECK(gt_ablate_table_load(cli_path(dir, "results.json"), &t, &err) == 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gt_ablate_table_markdown(f, &t);
    fclose(f);
    CHECK(t.n_rows == 2 && t.n_keys == 1 && strcmp(t.keys[0], "optim.d.lr") == 0);
    CHECK(strcmp(text, md) == 0);
    free(text);
    gt_ablate_table_free(&t);
}

static void check_results_json(const char *dir) {
    char *text = cli_read_file(cli_path(dir, "results.json"), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(j, "runs"), *r;
    CHECK(cJSON_GetArraySize(runs) == 4);
    cJSON_ArrayForEach(r, runs) {
        const cJSON *eval = cJSON_GetObjectItemCaseSensitive(r, "eval");
        CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(eval, "modes_covered")));
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "error")));
    }
    cJSON_Delete(j);
    free(text);
}

/* The first ablation: its folders, table and JSON; returns results.md (malloc'd) or NULL. */
static char *first_ablation(const char *out) {
    cli_args a;
    ring_ablation(&a, out, "1", LR);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "| rank | optim.d.lr | modes covered |"));
    cli_result_free(&r);
    static const char *const runs[] = {"optim.d.lr=1e-4-s0", "optim.d.lr=1e-4-s1", "optim.d.lr=1e-3-s0",
                                       "optim.d.lr=1e-3-s1"};
    char path[512];
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/checkpoint.safetensors", out, runs[i]);
        CHECK(cli_exists(path));
    }
    CHECK(cli_count_names(cli_path(out, "runs"), "optim.d.lr=") == 4);
    char *md = cli_read_file(cli_path(out, "results.md"), NULL);
    CHECK(md && count_lines_starting(md, "| 1 | 1e-") == 1 &&
          count_lines_starting(md, "| 2 | 1e-") == 1);
    CHECK(md && count_substrings(md, " ± ") >= 6 &&
          strstr(md, "60 steps per run, 2 seeds, eval N = 2500"));
    check_results_json(out);
    if (md) check_table_round_trip(out, md);
    return md;
}

/* What the check script in chromium reports for an ablation's report: per error-bar chart its
 * groups, whether their means stand left to right in the order given, its seeds' dots and its
 * labels; the table's values of the varied key, top to bottom; the scatters in the table. */
static const char ablation_script[] =
    "var charts = document.querySelectorAll('svg.errorbars'), parts = [];\n"
    "charts.forEach(function (svg) {\n"
    "  var xs = Array.prototype.map.call(svg.querySelectorAll('g.group circle.mean'),\n"
    "    function (c) { var b = c.getBoundingClientRect(); return (b.left + b.right) / 2; });\n"
    "  var ascending = xs.every(function (x, i) { return i == 0 || x > xs[i - 1]; });\n"
    "  var labels = Array.prototype.map.call(svg.querySelectorAll('text.label'),\n"
    "    function (t) { return t.textContent; }).join('|');\n"
    "  parts.push(svg.querySelectorAll('g.group').length + (ascending ? ' ascending ' : ' not ') +\n"
    "    svg.querySelectorAll('circle.seed').length + ' ' + labels); });\n"
    "var rows = Array.prototype.slice.call(document.querySelectorAll('table.ablation tr'), 1)\n"
    "  .map(function (tr) { return tr.cells[1].textContent; }).join('|');\n"
    "var pictures = document.querySelectorAll('table.ablation td.sample svg.scatter');\n"
    "var drawn = Array.prototype.every.call(pictures, function (p) {\n"
    "  return p.getBoundingClientRect().width > 100 && p.querySelectorAll('circle.mode').length == 8; });\n"
    "return 'charts=' + charts.length + ' [' + parts.join('; ') + '] rows=' + rows +\n"
    "  ' pictures=' + pictures.length + (drawn ? ' drawn' : ' not drawn');\n";

/* What ablation_script should see, from the table as results.json holds it. */
static void expected_verdict(const gt_ablate_table *t, char *buf, size_t cap) {
    char labels[256] = "", rows[256] = "";
    for (int r = 0; r < t->n_rows; r++) {
        size_t n = strlen(labels), k = strlen(rows);
        snprintf(labels + n, sizeof labels - n, "%s%d. %s", r ? "|" : "", t->rows[r].rank, t->rows[r].values[0]);
        snprintf(rows + k, sizeof rows - k, "%s%s", r ? "|" : "", t->rows[r].values[0]);
    }
    size_t n = (size_t)snprintf(buf, cap, "charts=%d [", t->n_metrics);
    for (int m = 0; m < t->n_metrics; m++) {
        int seeds = 0;
        for (int r = 0; r < t->n_rows; r++) seeds += t->rows[r].stats[m].n;
        n += (size_t)snprintf(buf + n, cap - n, "%s%d ascending %d %s", m ? "; " : "", t->n_rows,
                              seeds, labels);
    }
    snprintf(buf + n, cap - n, "] rows=%s pictures=%d drawn", rows, t->n_rows);
}

/* DIR/report.html: the ranked table with a scatter of each combination's first seed, a chart of
 * points with error bars per metric whose groups follow the ranking and carry every seed's
 * value, offline (no network references); and, when Debian's chromium is installed, a page
 * laid out as written that renders to a non-trivial screenshot. */
static void check_report(const char *out) {
    const char *html = cli_path(out, "report.html");
    char *page = cli_read_file(html, NULL);
    gt_ablate_table t;
    gt_error err;
    CHECK(gt_ablate_table_load(cli_path(out, "results.json"), &t, &err) == 0);
    CHECK(t.n_runs == 4 && t.n_metrics == 3);
    for (int i = 0; i < t.n_runs; i++) CHECK(t.runs[i].row >= 0 && t.runs[i].seed == i % 2);
    CHECK(page && strstr(page, "<table class=\"ablation\">") && strstr(page, "modes covered") &&
          !strstr(page, "http://") && !strstr(page, "https://"));
    CHECK(page && strstr(page, "samples of the first seed") &&
          count_substrings(page, "<td class=\"sample\"><figure class=\"points\"><svg class=\"scatter\"") == 2 &&
          strstr(page, "seed 0, step 60: "));
    CHECK(page && count_substrings(page, "<svg class=\"errorbars\"") == t.n_metrics &&
          count_substrings(page, "<g class=\"group\"") == 2 * t.n_metrics && !strstr(page, "rank</text>"));
    if (page && t.n_rows == 2) { /* the first group of the first chart is rank 1's mean */
        char mean[96];
        snprintf(mean, sizeof mean, "data-index=\"0\" data-mean=\"%.6g\"", t.rows[0].stats[0].mean);
        CHECK(strstr(page, mean));
    }
    free(page);
    if (!chromium_present()) {
        TEST_SKIP("chromium not installed: the ablation report's render check");
        gt_ablate_table_free(&t);
        return;
    }
    char want[1024];
    expected_verdict(&t, want, sizeof want);
    char *verdict = chromium_eval(html, ablation_script, out);
    CHECK(verdict && strcmp(verdict, want) == 0);
    if (verdict && strcmp(verdict, want)) fprintf(stderr, "  chromium saw: %s\n  wanted:       %s\n", verdict, want);
    free(verdict);
    const char *shot = cli_path(out, "shot.png");
    CHECK(chromium_screenshot(html, shot, 1000, 800, cli_path(out, "chrome")) &&
          cli_file_size(shot) > 5000);
    gt_ablate_table_free(&t);
}

TEST(ablation_on_the_ring) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "one");
    char *md = first_ablation(out);
    /* a rerun keeps every finished run and writes the same table */
    cli_args a;
    ring_ablation(&a, out, "1", LR);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r,
              r.code == 0 && count_substrings(r.text, "finished earlier, kept") == 4 &&
                  !cli_says(&r, "trained in"));
    cli_result_free(&r);
    CHECK(md && cli_has_bytes(cli_path(out, "results.md"), md, strlen(md)));
    check_report(out);
    /* two at a time: the same numbers */
    ring_ablation(&a, cli_path(dir, "two"), "2", LR);
    CHECK(cli_run_ok(&a) && md && cli_has_bytes(cli_path(dir, "two/results.md"), md, strlen(md)));
    free(md);
    cli_scratch_remove(dir);
}

/* Stopped at any moment (SIGTERM to the ablation alone, which passes it on), then rerun: the
 * same table as the uninterrupted ablation, since an interrupted training resumes bit for bit. */
TEST(interrupted_ablation_resumes_to_the_same_numbers) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    cli_args a;
    ring_ablation(&a, cli_path(dir, "whole"), "1", LR);
    bool ok = cli_run_ok(&a);
    ring_ablation(&a, cli_path(dir, "cut"), "1", LR);
    cli_proc p = cli_start(&a, -1);
    /* once plan.json is there the handler is in place (it goes in before the plan is written):
     * a signal before that would kill the process, not test the resume (a busy machine or a
     * sanitizer build can take longer than any fixed delay to get there) */
    char plan[128];
    snprintf(plan, sizeof plan, "%s/cut/plan.json", dir);
    for (int waited = 0; waited < 60000 && cli_running(&p) && !cli_exists(plan); waited += 10)
        cli_sleep_ms(10);
    cli_sleep_ms(50);
    if (cli_running(&p)) kill(p.pid, SIGTERM);
    cli_result r;
    cli_finish(p, &r);
    CHECK_RUN(&a, &r, r.code == 0 || (r.code == 1 && cli_says(&r, "rerun the same command")));
    cli_result_free(&r);
    CHECK(ok && cli_run_ok(&a) &&
          cli_same_bytes(cli_path(dir, "whole/results.md"), cli_path(dir, "cut/results.md")));
    cli_scratch_remove(dir);
}

static bool run_names_exist(const char *out, const char *const *names, int n, const char *file) {
    char path[512];
    bool all = true;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/%s", out, names[i], file);
        all = all && cli_exists(path);
    }
    return all;
}

/* --shard 1/2 trains runs 0 and 2 (index mod 2), 2/2 runs 1 and 3; --merge fails naming the
 * runs without an outcome until both have run, then writes the whole ablation's results.json
 * byte for byte (same --out, since results.json names the run folders; no field records wall
 * time). A rerun of a shard keeps its finished runs. */
TEST(sharded_ablation_merges_to_the_same_results) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "abl");
    cli_args a, merge;
    ring_ablation(&a, out, "1", LR);
    size_t whole_len = 0;
    char *whole = cli_run_ok(&a) ? cli_read_file(cli_path(out, "results.json"), &whole_len) : NULL;
    CHECK(whole != NULL);
    cli_scratch_remove(out);
    static const char *const first[] = {"optim.d.lr=1e-4-s0", "optim.d.lr=1e-3-s0"};
    static const char *const second[] = {"optim.d.lr=1e-4-s1", "optim.d.lr=1e-3-s1"};
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--shard", "1/2", NULL);
    CHECK(cli_run_ok(&a) && run_names_exist(out, first, 2, "checkpoint.safetensors"));
    CHECK(!cli_exists(cli_path(out, "results.json")) && !cli_exists(cli_path(out, "runs/optim.d.lr=1e-4-s1/checkpoint.safetensors")));
    cli_args_init(&merge);
    cli_args_add(&merge, "ablate", "--merge", out, NULL);
    cli_run_fails_saying(&merge, "2 of 4 runs have no outcome yet", "optim.d.lr=1e-4-s1, optim.d.lr=1e-3-s1",
                         "--shard I/N", NULL);
    ring_ablation(&a, out, "2", LR);
    cli_args_add(&a, "--shard", "2/2", NULL);
    CHECK(cli_run_ok(&a) && run_names_exist(out, second, 2, "ablate.json"));
    cli_result r;
    cli_run(&merge, &r);
    CHECK_RUN(&merge, &r, r.code == 0 && cli_says(&r, "| rank | optim.d.lr | modes covered |"));
    cli_result_free(&r);
    CHECK(whole && cli_has_bytes(cli_path(out, "results.json"), whole, whole_len));
    CHECK(cli_exists(cli_path(out, "results.md")) && cli_exists(cli_path(out, "report.html")));
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--shard", "1/2", NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "finished earlier, kept") == 2 &&
                          !cli_says(&r, "trained and scored"));
    cli_result_free(&r);
    free(whole);
    cli_scratch_remove(dir);
}

/* Shards of one folder must run one command; --shard and --merge say what they expect. */
TEST(shard_and_merge_errors_name_the_flag) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "abl");
    cli_args a;
    static const char *const bad[] = {"0/2", "3/2", "2", "1/0", "a/b", "1/2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ring_ablation(&a, out, "1", LR);
        cli_args_add(&a, "--shard", bad[i], NULL);
        cli_run_fails_saying(&a, "--shard must be I/N", bad[i], NULL);
    }
    CHECK(!cli_exists(out));
    cli_args_init(&a);
    cli_args_add(&a, "ablate", "--merge", out, NULL);
    cli_run_fails_saying(&a, "plan.json", "cannot read the ablation's plan", NULL);
    cli_args_add(&a, "--seeds", "2", "--budget", "5", NULL);
    cli_run_fails_saying(&a, "--merge DIR takes no other option", NULL);
    /* a shard with other settings than the plan in the folder */
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--shard", "1/2", "--budget", "1", NULL);
    CHECK(cli_run_ok(&a));
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--shard", "2/2", "--budget", "2", NULL);
    cli_run_fails_saying(&a, "plan.json holds the plan of an ablation with other settings", NULL);
    cli_scratch_remove(dir);
}

TEST(failed_runs_are_recorded_and_the_others_go_on) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    cli_args a;
    ring_ablation(&a, cli_path(dir, "out"), "1", "data.dataset=ring,png");
    cli_args_add(&a, "--set", "data.path=/nonexistent-gantry", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "| 2 | png | - | - | - | 0 | 2 |"));
    cli_result_free(&r);
    char *md = cli_read_file(cli_path(dir, "out/results.md"), NULL);
    CHECK(md && strstr(md, "`data.dataset=png-s1`: training failed (exit 1): ") &&
          strstr(md, "/nonexistent-gantry"));
    free(md);
    cli_scratch_remove(dir);
}

/* --mode-metric pacgan: the plan, the run's recorded eval arguments (so that another definition
 * rescores it) and its result say so. */
TEST(pacgan_metric_is_recorded_in_plan_and_results) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "pac");
    cli_args a;
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--mode-metric", "pacgan", NULL);
    if (cli_run_ok(&a)) {
        char *plan = cli_read_file(cli_path(out, "plan.json"), NULL);
        char *run = cli_read_file(cli_path(out, "runs/optim.d.lr=1e-4-s0/ablate.json"), NULL);
        CHECK(plan && strstr(plan, "\"mode_metric\":\t\"pacgan\""));
        CHECK(run && strstr(run, "\"mode_metric\":\t\"pacgan\"") &&
              strstr(run, "--mode-metric pacgan"));
        free(plan);
        free(run);
    }
    cli_scratch_remove(dir);
}

TEST(errors_come_before_any_training) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "out");
    cli_args a;
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--vary", "optim.g.lrr=1e-4,1e-3", NULL);
    cli_run_fails_saying(&a, "--vary", "unknown key 'lrr'", "lr, beta1", NULL);
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--vary", "train.ema=true,maybe", NULL);
    cli_run_fails_saying(&a, "[train] ema = 'maybe'", "allowed", NULL);
    CHECK(!cli_exists(out));
    static const char *const bad[][3] = {
        {"--vary", "optim.g.lr", "not section.key=a,b[,c]"},
        {"--vary", "optim.g.lr=1e-4", "at least two values"},
        {"--seeds", "0", "--seeds must be an integer from 1"},
        {"--budget", "10x", "--budget must be"},
        {"--budget", "0m", "--budget must be"},
        {"--vary", "train.seed=1,2", "sets train.seed itself"},
        {"--mode-metric", "veegan", "gantry or pacgan"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ring_ablation(&a, out, "1", LR);
        cli_args_add(&a, bad[i][0], bad[i][1], NULL);
        cli_run_fails_saying(&a, bad[i][2], NULL);
    }
    cli_args_init(&a);
    cli_args_add(&a, "ablate", "--config", "configs/gan-ring.ini", "--budget", "5", NULL);
    cli_run_fails_saying(&a, "needs --out", NULL);
    CHECK(!cli_exists(out));
    cli_scratch_remove(dir);
}

TEST(help_lists_every_option_with_its_default) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "ablate", "--help", NULL);
    cli_result r;
    cli_run(&a, &r);
    static const char *const words[] = {"--config",  "--vary",   "--set",          "--seeds",
                                        "default 3", "--budget", "--out",          "--jobs",
                                        "default 1", "--eval-n", "default: eval's",
                                        "--shard I/N", "--merge DIR", "--mode-metric",
                                        "--choose N=L:K=V;K=V", "--reuse DIR"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        CHECK_RUN(&a, &r, cli_says(&r, words[i]));
    CHECK_RUN(&a, &r, r.code == 0);
    cli_result_free(&r);
}

TEST(statistics_skip_nan) {
    double x[] = {1, NAN, 3, INFINITY};
    gt_ablate_stat s = gt_ablate_stat_of(x, 4);
    CHECK(s.n == 2);
    CHECK_NEAR(s.mean, 2, 1e-12);
    CHECK_NEAR(s.se, 1, 1e-12); /* std sqrt(2), over sqrt(2) */
    char cell[64];
    gt_ablate_cell(&s, 3, cell, sizeof cell);
    CHECK(strcmp(cell, "2 ± 1 (n=2)") == 0);
    s = gt_ablate_stat_of(x + 1, 1);
    CHECK(s.n == 0 && isnan(s.mean));
    gt_ablate_cell(&s, 1, cell, sizeof cell);
    CHECK(strcmp(cell, "-") == 0);
    s = gt_ablate_stat_of(x, 1);
    CHECK(s.n == 1 && isnan(s.se));
    gt_ablate_cell(&s, 1, cell, sizeof cell);
    CHECK(strcmp(cell, "1") == 0);
}

TEST(vary_and_budget_parsing) {
    gt_ablate_vary v;
    gt_error err;
    CHECK(gt_ablate_parse_vary("tricks.x=a,b,c", &v, &err) == 0);
    CHECK(v.n_values == 3 && strcmp(v.key, "tricks.x") == 0 && strcmp(v.values[2], "c") == 0);
    CHECK(gt_ablate_parse_vary("a.b=1,1", &v, &err) < 0 && strstr(err.msg, "appears twice"));
    CHECK(gt_ablate_parse_vary("ab=1,2", &v, &err) < 0);
    CHECK(gt_ablate_parse_vary("a.b=1,", &v, &err) < 0 && strstr(err.msg, "empty value"));
    gt_ablate_spec s;
    CHECK(gt_ablate_parse_budget("500", &s, &err) == 0 && s.budget_steps == 500 &&
          s.budget_minutes == 0);
    CHECK(gt_ablate_parse_budget("2.5m", &s, &err) == 0 && s.budget_steps == 0 &&
          s.budget_minutes == 2.5);
    CHECK(gt_ablate_parse_budget("-5", &s, &err) < 0 && gt_ablate_parse_budget("5 m", &s, &err) < 0);
    CHECK(gt_ablate_parse_budget("nanm", &s, &err) < 0 && gt_ablate_parse_budget("m", &s, &err) < 0);
}

TEST(minute_budgets_refuse_schedules_that_span_train_steps) {
    gt_ablate_spec s = {.config = "configs/gan-ring.ini", .seeds = 1, .jobs = 1, .threads = 1,
                        .budget_minutes = 10};
    gt_error err;
    CHECK(gt_ablate_parse_vary("penalty.decay=none,cosine", &s.vary[0], &err) == 0);
    s.n_vary = 1;
    s.sets[s.n_sets++] = "penalty.r1=1";
    CHECK(gt_ablate_validate(&s, &err) < 0 && strstr(err.msg, "penalty.decay = cosine") &&
          strstr(err.msg, "(with penalty.decay=cosine)") && strstr(err.msg, "penalty.decay_steps"));
    s.sets[s.n_sets++] = "penalty.decay_steps=5000"; /* the decay has its own length now */
    CHECK(gt_ablate_validate(&s, &err) == 0);
    s.budget_minutes = 0, s.budget_steps = 500; /* a budget in steps: decay_steps 0 means them */
    s.n_sets = 1;
    CHECK(gt_ablate_validate(&s, &err) == 0);
    s.budget_minutes = 10, s.budget_steps = 0;
    s.n_vary = 0;
    s.sets[0] = "optim.d.schedule=cosine";
    CHECK(gt_ablate_validate(&s, &err) < 0 && strstr(err.msg, "optim.d.schedule = cosine") &&
          strstr(err.msg, "budget in steps"));
    s.sets[0] = "noise.sigma=0.1";
    CHECK(gt_ablate_validate(&s, &err) < 0 && strstr(err.msg, "noise.anneal = linear"));
    s.sets[s.n_sets++] = "noise.anneal=none";
    CHECK(gt_ablate_validate(&s, &err) == 0);
}

TEST(a_run_stopped_alone_is_not_called_trained) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    gt_ablate_spec s = {.config = "configs/gan-ring.ini", .out = cli_path(dir, "ab"), .seeds = 1,
                        .jobs = 1, .threads = 1, .budget_steps = 10};
    gt_error err;
    FILE *log = tmpfile();
    gt_ablate *ab = log ? gt_ablate_plan(&s, log, &err) : NULL;
    CHECK(ab != NULL);
    if (!ab) return;
    gt_ablate_outcome stopped = {.trained = false}; /* what a child stopped by SIGTERM writes */
    CHECK(gt_ablate_record(ab, 0, &stopped, NULL, 1.5, &err) == 0);
    char text[1024] = "";
    rewind(log);
    size_t n = fread(text, 1, sizeof text - 1, log);
    text[n] = '\0';
    CHECK(strstr(text, "training stopped before the budget's end") && !strstr(text, "trained and scored"));
    CHECK(gt_ablate_needs_work(ab, 0)); /* a rerun continues it */
    gt_ablate_free(ab);
    fclose(log);
    cli_scratch_remove(dir);
}

/* The row whose first varied value is v, or NULL. */
static const gt_ablate_row *row_with(const gt_ablate_table *t, const char *v) {
    for (int i = 0; i < t->n_rows; i++)
        if (strcmp(t->rows[i].values[0], v) == 0) return &t->rows[i];
    return NULL;
}

/* --reuse: a second ablation that shares one learning rate with the first links those runs
 * (the same resolved configuration and seeds) instead of training them, with the same numbers;
 * the first ablation's folder is left as it was; a different --set shares nothing. */
TEST(reuse_links_runs_of_the_same_configuration) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *first = cli_path(dir, "first"), *second = cli_path(dir, "second");
    cli_args a;
    ring_ablation(&a, first, "1", LR);
    bool ok = cli_run_ok(&a);
    char state[512];
    snprintf(state, sizeof state, "%s/runs/optim.d.lr=1e-3-s0/ablate.json", first);
    size_t len = 0;
    char *before = cli_read_file(state, &len);
    ring_ablation(&a, second, "1", "optim.d.lr=1e-3,3e-3");
    cli_args_add(&a, "--reuse", first, NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, ok && r.code == 0 && count_substrings(r.text, ": reused") == 2 &&
                          count_substrings(r.text, "trained and scored") == 2);
    cli_result_free(&r);
    gt_ablate_table t1, t2;
    gt_error err;
    CHECK(gt_ablate_table_load(cli_path(first, "results.json"), &t1, &err) == 0);
    CHECK(gt_ablate_table_load(cli_path(second, "results.json"), &t2, &err) == 0);
    const gt_ablate_row *x = row_with(&t1, "1e-3"), *y = row_with(&t2, "1e-3");
    CHECK(x && y && x->scored == 2 && y->scored == 2);
    for (int m = 0; x && y && m < t1.n_metrics; m++)
        CHECK(x->stats[m].mean == y->stats[m].mean || (isnan(x->stats[m].mean) && isnan(y->stats[m].mean)));
    gt_ablate_table_free(&t1);
    gt_ablate_table_free(&t2);
    char *after = cli_read_file(state, &len);
    CHECK(before && after && strcmp(before, after) == 0); /* the first ablation's own state */
    free(before), free(after);
    /* another batch size: nothing to reuse */
    ring_ablation(&a, cli_path(dir, "third"), "1", "optim.d.lr=1e-3,3e-3");
    cli_args_add(&a, "--reuse", first, "--set", "train.batch=32", NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, ": reused") == 0);
    cli_result_free(&r);
    ring_ablation(&a, cli_path(dir, "fourth"), "1", LR);
    cli_args_add(&a, "--reuse", cli_path(dir, "nowhere"), NULL);
    cli_run_fails_saying(&a, "--reuse", "not an ablation's folder", NULL);
    cli_scratch_remove(dir);
}

/* --choose: alternatives that set several keys each, compared as one axis beside a --vary; the
 * run folders carry the label, each run's config.ini the alternative's keys, and --merge reads
 * the choices back from plan.json. Malformed or conflicting choices fail before training. */
TEST(choices_compare_settings_of_several_keys) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *out = cli_path(dir, "abl");
    cli_args a;
    ring_ablation(&a, out, "1", LR);
    cli_args_add(&a, "--choose", "betas=base:", "--choose",
                 "betas=zero:optim.g.beta1=0;optim.d.beta1=0", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "trained and scored") == 8);
    cli_result_free(&r);
    char path[512];
    snprintf(path, sizeof path, "%s/runs/optim.d.lr=1e-3,betas=zero-s1/config.ini", out);
    size_t len = 0;
    char *ini = cli_read_file(path, &len);
    CHECK(ini && count_substrings(ini, "\nbeta1 = 0\n") == 2);
    free(ini);
    snprintf(path, sizeof path, "%s/runs/optim.d.lr=1e-3,betas=base-s1/config.ini", out);
    ini = cli_read_file(path, &len);
    CHECK(ini && count_substrings(ini, "\nbeta1 = 0\n") == 0);
    free(ini);
    char *md = cli_read_file(cli_path(out, "results.md"), &len);
    CHECK(md && strstr(md, "\n`betas`: base = the base configuration; zero = optim.g.beta1=0, "
                           "optim.d.beta1=0.\n"));
    char *html = cli_read_file(cli_path(out, "report.html"), &len);
    CHECK(html && strstr(html, "<p class=\"choices\"><b>betas</b>: base = <code>(the base "
                               "configuration)</code>; zero = <code>optim.g.beta1=0;optim.d.beta1=0</code></p>"));
    free(html);
    cli_args merge;
    cli_args_init(&merge);
    cli_args_add(&merge, "ablate", "--merge", out, NULL);
    CHECK(cli_run_ok(&merge) && md && cli_has_bytes(cli_path(out, "results.md"), md, strlen(md)));
    free(md);
    static const char *const bad[][3] = {
        {"betas=zero", "betas=base:", "is not NAME=LABEL"},
        {"be.tas=zero:optim.g.beta1=0", "betas=base:", "is not NAME=LABEL"},
        {"betas=zero:beta1=0", "betas=base:", "section.key=value assignments"},
        {"betas=zero:optim.g.beta1=0", "betas=zero:", "'zero' appears twice"},
        {"betas=zero:optim.d.lr=1e-2", "betas=base:", "which a --set, --vary or other --choose"},
        {"betas=zero:train.batch=8", "betas=base:", "which a --set, --vary or other --choose"},
        {"betas=zero:optim.g.beta1=x", "betas=base:", "--choose betas=zero"},
        {"betas=zero:train.seed=1", "betas=base:", "sets train.seed itself"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ring_ablation(&a, cli_path(dir, "bad"), "1", LR);
        cli_args_add(&a, "--choose", bad[i][0], "--choose", bad[i][1], NULL);
        cli_run_fails_saying(&a, bad[i][2], NULL);
    }
    /* a whole recipe fits in one alternative, up to 32 assignments */
    char many[256] = "betas=many:";
    for (int i = 0; i < 33; i++) strcat(many, i ? ";a.b=0" : "a.b=0");
    ring_ablation(&a, cli_path(dir, "bad"), "1", LR);
    cli_args_add(&a, "--choose", many, "--choose", "betas=base:", NULL);
    cli_run_fails_saying(&a, "at most 32 section.key=value assignments", NULL);
    ring_ablation(&a, cli_path(dir, "bad"), "1", LR);
    cli_args_add(&a, "--choose", "betas=zero:optim.g.beta1=0", NULL);
    cli_run_fails_saying(&a, "--choose betas needs at least two alternatives", NULL);
    CHECK(!cli_exists(cli_path(dir, "bad")));
    cli_scratch_remove(dir);
}

/* --budget-as-steps: each combination timed once (seed 0, into timing.json), its runs trained
 * the steps its rate gives in the budget; a rerun times and trains nothing; a --reuse folder's
 * rates serve its configurations, whose runs are then linked; parts of an ablation need every
 * combination timed first (--time-only); the option needs a budget in minutes. */
static const cJSON *timing_entry(const cJSON *timing, const char *combination) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(timing, "combinations")) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "combination");
        if (cJSON_IsString(name) && strcmp(name->valuestring, combination) == 0) return e;
    }
    return NULL;
}

/* Every run of results.json trained its combination's steps as timing.json gives them, and its
 * metrics.jsonl ends at that step. */
static void check_timed_runs(const char *out, double minutes) {
    char *text = cli_read_file(cli_path(out, "timing.json"), NULL);
    char *results = cli_read_file(cli_path(out, "results.json"), NULL);
    cJSON *timing = cJSON_Parse(text ? text : ""), *r = cJSON_Parse(results ? results : "");
    free(text), free(results);
    const cJSON *run;
    int n = 0;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
        const char *name = cJSON_GetObjectItemCaseSensitive(run, "name")->valuestring;
        char combination[128];
        snprintf(combination, sizeof combination, "%.*s", (int)(strrchr(name, '-') - name), name);
        const cJSON *e = timing_entry(timing, combination);
        CHECK(e != NULL);
        if (!e) continue;
        const cJSON *scale = cJSON_GetObjectItemCaseSensitive(e, "scale"); /* --timing-calibrate */
        double rate = cJSON_GetObjectItemCaseSensitive(e, "timing_steps")->valuedouble * 60 /
                      cJSON_GetObjectItemCaseSensitive(e, "timing_seconds")->valuedouble *
                      (scale ? scale->valuedouble : 1);
        long long steps = (long long)cJSON_GetObjectItemCaseSensitive(run, "steps")->valuedouble;
        CHECK(steps >= 1 && steps == (long long)fmax(1, floor(rate * minutes)));
        char metrics[512], last[64];
        snprintf(metrics, sizeof metrics, "%s/runs/%s/metrics.jsonl", out, name);
        snprintf(last, sizeof last, "{\"step\": %lld,", steps);
        char *m = cli_read_file(metrics, NULL);
        CHECK(m && strstr(m, last) && !strstr(strstr(m, last), "\n{"));
        free(m);
        n++;
    }
    CHECK(n == 4 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(timing, "combinations")) == 2);
    cJSON_Delete(timing), cJSON_Delete(r);
}

/* The tiny ring ablation of batch sizes, 0.3 s a run at the rate of a 1-second timing. */
static void timed_ablation(cli_args *a, const char *out, const char *vary) {
    cli_args_init(a);
    cli_args_add(a, "ablate", "--config", "configs/gan-ring.ini", "--vary", vary, "--seeds", "2",
                 "--budget", "0.005m", "--budget-as-steps", "1", "--out", out, "--jobs", "2", NULL);
    cli_args_add_words(a, "--set model.g.width=16 --set model.d.width=16 --set model.g.depth=2 "
                          "--set model.d.depth=2 --set train.eval_every=0");
}

TEST(budget_as_steps_times_each_combination_once) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *first = cli_path(dir, "first");
    cli_args a;
    timed_ablation(&a, first, "train.batch=16,128");
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 2 &&
                          count_substrings(r.text, "trained and scored") == 4);
    cli_result_free(&r);
    check_timed_runs(first, 0.005);
    char *md = cli_read_file(cli_path(first, "results.md"), NULL);
    CHECK(md && strstr(md, "0.005 minutes as steps (timed 1 s) per run") &&
          strstr(md, "- `train.batch=16`: ") && strstr(md, "- `train.batch=128`: "));
    free(md);
    CHECK(cli_exists(cli_path(first, "timing/train.batch=16/metrics.jsonl")) &&
          !cli_exists(cli_path(first, "timing/train.batch=16/checkpoint.safetensors")));
    char *before = cli_read_file(cli_path(first, "timing.json"), NULL);
    cli_run(&a, &r); /* the rerun: nothing timed, nothing trained */
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 0 &&
                          count_substrings(r.text, "finished earlier, kept") == 4);
    cli_result_free(&r);
    char *after = cli_read_file(cli_path(first, "timing.json"), NULL);
    CHECK(before && after && strcmp(before, after) == 0);
    free(before), free(after);
    /* the next stage: batch 128 keeps its rate (and so its runs), batch 32 is timed */
    const char *second = cli_path(dir, "second");
    timed_ablation(&a, second, "train.batch=128,32");
    cli_args_add(&a, "--reuse", first, NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 1 &&
                          cli_says(&r, "timing train.batch=32 ") &&
                          cli_says(&r, "train.batch=128: the rate timed in ") &&
                          count_substrings(r.text, ": reused") == 2);
    cli_result_free(&r);
    check_timed_runs(second, 0.005); /* its own timing.json holds both rates */
    /* parts need the timing done first; --time-only does it and trains nothing */
    const char *third = cli_path(dir, "third");
    timed_ablation(&a, third, "train.batch=16,64");
    cli_args_add(&a, "--shard", "1/2", NULL);
    cli_run_fails_saying(&a, "train.batch=16 has not been timed", "--time-only", NULL);
    timed_ablation(&a, third, "train.batch=16,64");
    cli_args_add(&a, "--time-only", NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 2 &&
                          cli_says(&r, "train.batch=64: ") && !cli_exists(cli_path(third, "runs")));
    cli_result_free(&r);
    timed_ablation(&a, third, "train.batch=16,64");
    cli_args_add(&a, "--shard", "1/2", NULL);
    CHECK(cli_run_ok(&a));
    timed_ablation(&a, third, "train.batch=16,64");
    cli_args_add(&a, "--shard", "2/2", NULL);
    CHECK(cli_run_ok(&a));
    cli_args_init(&a);
    cli_args_add(&a, "ablate", "--merge", third, NULL);
    CHECK(cli_run_ok(&a)); /* the plan's timing (seconds, threads) read back: the same steps */
    check_timed_runs(third, 0.005);
    /* a budget of one core: timed again on one thread, a rate of its own */
    timed_ablation(&a, third, "train.batch=16,64");
    cli_args_add(&a, "--timing-threads", "1", "--time-only", NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 2 &&
                          cli_says(&r, "for 1 s on 1 threads"));
    cli_result_free(&r);
    /* the option's own errors */
    ring_ablation(&a, cli_path(dir, "fourth"), "1", LR);
    cli_args_add(&a, "--budget-as-steps", "1", NULL);
    cli_run_fails_saying(&a, "--budget-as-steps", "give --budget in minutes", NULL);
    ring_ablation(&a, cli_path(dir, "fourth"), "1", LR);
    cli_args_add(&a, "--time-only", NULL);
    cli_run_fails_saying(&a, "--time-only needs --budget-as-steps", NULL);
    ring_ablation(&a, cli_path(dir, "fourth"), "1", LR);
    cli_args_add(&a, "--timing-threads", "1", NULL);
    cli_run_fails_saying(&a, "--timing-threads needs --budget-as-steps", NULL);
    timed_ablation(&a, cli_path(dir, "fourth"), LR);
    cli_args_add(&a, "--budget-as-steps", "0", NULL);
    cli_run_fails_saying(&a, "--budget-as-steps must be a number of seconds from 1 to 3600", NULL);
    CHECK(!cli_exists(cli_path(dir, "fourth")));
    cli_scratch_remove(dir);
}

/* Multiplies the timing steps of combination's entry in DIR/timing.json by factor: the rate a
 * machine that factor faster would have timed. */
static void scale_recorded_rate(const char *dir, const char *combination, double factor) {
    const char *path = cli_path(dir, "timing.json");
    char *text = cli_read_file(path, NULL);
    cJSON *timing = cJSON_Parse(text ? text : "");
    free(text);
    cJSON *e = (cJSON *)timing_entry(timing, combination);
    CHECK(e != NULL);
    if (e) {
        cJSON *steps = cJSON_GetObjectItemCaseSensitive(e, "timing_steps");
        cJSON_SetNumberValue(steps, steps->valuedouble * factor);
    }
    char *out = cJSON_Print(timing);
    CHECK(cli_write_file(path, out, strlen(out)));
    free(out), cJSON_Delete(timing);
}

/* A new scratch folder DIR and two stage folders in it, DIR/first and DIR/second: false when
 * no scratch folder could be made. */
static bool two_stages(char dir[64], char first[256], char second[256]) {
    if (!cli_scratch_new(dir)) return false;
    snprintf(first, 256, "%s", cli_path(dir, "first"));
    snprintf(second, 256, "%s", cli_path(dir, "second"));
    return true;
}

/* --timing-calibrate: the next stage of a search, timed on a machine half as fast as the first
 * stage's (simulated by doubling the first stage's recorded rate), times the reused
 * combination again, and its new combination's rate is scaled by then / now; its runs train
 * the scaled steps. A rerun makes no second calibration; its errors. */
TEST(timing_calibrate_keeps_the_first_stage_speed) {
    char dir[64], first[256], second[256];
    if (!two_stages(dir, first, second)) return;
    cli_args a;
    timed_ablation(&a, first, "train.batch=16,128");
    CHECK(cli_run_ok(&a));
    scale_recorded_rate(first, "train.batch=128", 2);
    timed_ablation(&a, second, "train.batch=128,32");
    cli_args_add(&a, "--reuse", first, "--timing-calibrate", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "calibrating: timing train.batch=128 again") &&
                          count_substrings(r.text, "gantry ablate: timing ") == 1 &&
                          cli_says(&r, "timing train.batch=32 "));
    cli_result_free(&r);
    check_timed_runs(second, 0.005); /* the runs train the scaled rates' steps */
    char *text = cli_read_file(cli_path(second, "timing.json"), NULL);
    cJSON *timing = cJSON_Parse(text ? text : "");
    free(text);
    const cJSON *cal = cJSON_GetObjectItemCaseSensitive(timing, "calibration");
    const cJSON *adopted = timing_entry(timing, "train.batch=128"), *timed = timing_entry(timing, "train.batch=32");
    double then = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cal, "steps_per_minute_then"));
    double now = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cal, "steps_per_minute_now"));
    double scale = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cal, "scale"));
    CHECK(then == cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(adopted, "steps_per_minute")));
    CHECK(now > 0 && fabs(scale - then / now) <= 1e-9 * scale);
    CHECK(cJSON_GetObjectItemCaseSensitive(adopted, "scale") == NULL); /* kept as it was timed */
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(timed, "scale")) == scale);
    cJSON_Delete(timing);
    CHECK(cli_exists(cli_path(second, "timing/train.batch=128-calibration/metrics.jsonl")));
    /* the rerun: nothing timed, nothing trained */
    timed_ablation(&a, second, "train.batch=128,32");
    cli_args_add(&a, "--reuse", first, "--timing-calibrate", NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && !cli_says(&r, "calibrating") &&
                          count_substrings(r.text, "finished earlier, kept") == 4);
    cli_result_free(&r);
    /* errors: no --reuse; no reused combination; rates timed here before without calibration */
    timed_ablation(&a, cli_path(dir, "third"), "train.batch=64,32");
    cli_args_add(&a, "--timing-calibrate", NULL);
    cli_run_fails_saying(&a, "--timing-calibrate needs --budget-as-steps S and a --reuse", NULL);
    timed_ablation(&a, cli_path(dir, "third"), "train.batch=64,8");
    cli_args_add(&a, "--reuse", first, "--timing-calibrate", NULL);
    cli_run_fails_saying(&a, "no combination of", "has a rate from a --reuse folder", NULL);
    timed_ablation(&a, cli_path(dir, "fourth"), "train.batch=64,4");
    cli_args_add(&a, "--time-only", NULL);
    CHECK(cli_run_ok(&a));
    timed_ablation(&a, cli_path(dir, "fourth"), "train.batch=64,16,8");
    cli_args_add(&a, "--reuse", first, "--timing-calibrate", NULL);
    cli_run_fails_saying(&a, "already holds rates timed without a calibration", NULL);
    cli_scratch_remove(dir);
}

/* The steps of every run in DIR/results.json, which must all be one number: that number, or -1. */
static long long the_one_step_count(const char *out) {
    char *text = cli_read_file(cli_path(out, "results.json"), NULL);
    cJSON *r = cJSON_Parse(text ? text : "");
    free(text);
    long long steps = 0;
    int n = 0;
    const cJSON *run;
    cJSON_ArrayForEach(run, cJSON_GetObjectItemCaseSensitive(r, "runs")) {
        long long s = (long long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(run, "steps"));
        steps = n++ == 0 ? s : s == steps ? steps : -1;
    }
    cJSON_Delete(r);
    return n == 4 && steps >= 1 ? steps : -1;
}

/* --equal-step-cost: learning rates are timed once, as the first combination, and every run
 * trains that rate's steps; a next stage adopts the rate from its --reuse folder and times
 * nothing; a combination that may change a step's cost (the batch) is refused, naming it. */
TEST(equal_step_cost_gives_every_combination_one_rate) {
    char dir[64], first[256], second[256];
    if (!two_stages(dir, first, second)) return;
    cli_args a;
    timed_ablation(&a, first, "optim.g.lr=1e-3,2e-3");
    cli_args_add(&a, "--equal-step-cost", NULL);
    cli_result r;
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 1 &&
                          cli_says(&r, "timing optim.g.lr=1e-3 ") &&
                          count_substrings(r.text, "trained and scored") == 4);
    cli_result_free(&r);
    long long steps = the_one_step_count(first);
    CHECK(steps >= 1);
    char *text = cli_read_file(cli_path(first, "timing.json"), NULL);
    cJSON *timing = cJSON_Parse(text ? text : "");
    free(text);
    /* one timing; the second combination's own key holds the same rate, for the next stage */
    const cJSON *timed = timing_entry(timing, "optim.g.lr=1e-3"), *shared = timing_entry(timing, "optim.g.lr=2e-3");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(timing, "combinations")) == 2 && timed && shared);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(timed, "steps_per_minute")) ==
          cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(shared, "steps_per_minute")));
    const char *same = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(shared, "same_cost_as"));
    CHECK(same && strcmp(same, "optim.g.lr=1e-3") == 0);
    cJSON_Delete(timing);
    /* --merge reads the option back from plan.json: the same table */
    char *md = cli_read_file(cli_path(first, "results.md"), NULL);
    cli_args merge;
    cli_args_init(&merge);
    cli_args_add(&merge, "ablate", "--merge", first, NULL);
    CHECK(cli_run_ok(&merge) && md && cli_has_bytes(cli_path(first, "results.md"), md, strlen(md)));
    free(md);
    /* the next stage starts from the winner, lr 2e-3, not the first combination: its runs are
     * linked beside 5e-3's, and it times nothing */
    timed_ablation(&a, second, "optim.g.lr=2e-3,5e-3");
    cli_args_add(&a, "--equal-step-cost", "--reuse", first, NULL);
    cli_run(&a, &r);
    CHECK_RUN(&a, &r, r.code == 0 && count_substrings(r.text, "gantry ablate: timing ") == 0 &&
                          cli_says(&r, "optim.g.lr=2e-3: the rate timed in ") &&
                          count_substrings(r.text, ": reused") == 2);
    cli_result_free(&r);
    CHECK(the_one_step_count(second) == steps);
    /* refused: keys that change the arithmetic; the option without a timed budget */
    timed_ablation(&a, cli_path(dir, "third"), "train.batch=16,128");
    cli_args_add(&a, "--equal-step-cost", NULL);
    cli_run_fails_saying(&a, "--equal-step-cost: combination train.batch=128 sets train.batch",
                         "'batch = 128' where the first combination has 'batch = 16'", NULL);
    ring_ablation(&a, cli_path(dir, "third"), "1", LR);
    cli_args_add(&a, "--equal-step-cost", NULL);
    cli_run_fails_saying(&a, "--equal-step-cost needs --budget-as-steps S", NULL);
    CHECK(!cli_exists(cli_path(dir, "third")));
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(ablation_on_the_ring), T(interrupted_ablation_resumes_to_the_same_numbers),
              T(sharded_ablation_merges_to_the_same_results), T(shard_and_merge_errors_name_the_flag),
              T(failed_runs_are_recorded_and_the_others_go_on), T(pacgan_metric_is_recorded_in_plan_and_results),
              T(errors_come_before_any_training),
              T(help_lists_every_option_with_its_default), T(statistics_skip_nan),
              T(vary_and_budget_parsing), T(minute_budgets_refuse_schedules_that_span_train_steps),
              T(a_run_stopped_alone_is_not_called_trained),
              T(reuse_links_runs_of_the_same_configuration),
              T(choices_compare_settings_of_several_keys),
              T(budget_as_steps_times_each_combination_once),
              T(timing_calibrate_keeps_the_first_stage_speed),
              T(equal_step_cost_gives_every_combination_one_rate));
}
