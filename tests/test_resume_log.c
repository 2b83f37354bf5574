/* metrics.jsonl after a resume reads as an uninterrupted run's: the lines a killed run logged
 * past its last checkpoint, and a line it left half written, move to metrics-dropped.jsonl
 * (issue 21, defect 4: they were logged twice, out of order, and the next line was glued to the
 * partial one). And a run killed with SIGKILL at 20 moments, resumed each time (taking over its
 * dead lock), ends with the checkpoint and log of an uninterrupted run. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli_support.h"
#include "test.h"

static void ring_args(cli_args *a, const char *run, const char *steps) {
    cli_args_tiny_ring(a, run);
    cli_args_add(a, steps, "train.log_every=1", "train.eval_every=0", "train.sample_every=0",
                 "train.checkpoint_every=4", NULL);
}

static bool resume(const char *run, const char *steps) {
    cli_args a;
    cli_args_init(&a);
    cli_args_add(&a, "train", "--resume", run, "--quiet", steps, NULL);
    return cli_run_ok(&a);
}

/* The log without its timing fields, one compact JSON object per line (malloc'd). */
static char *without_timing(const char *path) {
    char *text = cli_read_file(path, NULL);
    if (!text) return NULL;
    char *out = calloc(strlen(text) + 1, 1);
    for (char *line = strtok(text, "\n"); out && line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        if (!o) {
            strcat(out, "(unparsable)\n");
            continue;
        }
        cJSON_DeleteItemFromObject(o, "steps_per_s");
        cJSON_DeleteItemFromObject(o, "images_per_s");
        cJSON_DeleteItemFromObject(o, "elapsed_s");
        char *s = cJSON_PrintUnformatted(o);
        strcat(out, s);
        strcat(out, "\n");
        free(s);
        cJSON_Delete(o);
    }
    free(text);
    return out;
}

static int count_lines(const char *path) {
    char *text = cli_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && *p; p++) n += *p == '\n';
    free(text);
    return n;
}

/* A run killed after step 8 with its checkpoint of step 4 and a half-written line, resumed to
 * 8: its log equals an uninterrupted run's (timing aside); the stretch 5..8 and the partial line
 * are in metrics-dropped.jsonl. */
TEST(a_resumed_log_reads_as_an_uninterrupted_one) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *reference = cli_path(dir, "reference"), *run = cli_path(dir, "run");
    cli_args a;
    ring_args(&a, reference, "train.steps=8");
    CHECK(cli_run_ok(&a));
    ring_args(&a, run, "train.steps=4");
    CHECK(cli_run_ok(&a));
    const char *ckpt = cli_path(run, "checkpoint.safetensors");
    size_t len;
    char *at_4 = cli_read_file(ckpt, &len);
    CHECK(at_4 && resume(run, "train.steps=8"));
    /* the kill: step 8 logged, the checkpoint still step 4's, a line cut in mid-write */
    CHECK(at_4 && cli_write_file(ckpt, at_4, len));
    char *log = cli_read_file(cli_path(run, "metrics.jsonl"), NULL);
    size_t n = log ? strlen(log) : 0;
    CHECK(log && (log = realloc(log, n + 32)) != NULL);
    if (log) {
        strcpy(log + n, "{\"step\": 9, \"d_lo");
        CHECK(cli_write_file(cli_path(run, "metrics.jsonl"), log, strlen(log)));
    }
    CHECK(resume(run, "train.steps=8"));
    char *got = without_timing(cli_path(run, "metrics.jsonl"));
    char *want = without_timing(cli_path(reference, "metrics.jsonl"));
    CHECK(got && want && strcmp(got, want) == 0);
    if (got && want && strcmp(got, want) != 0) fprintf(stderr, "  got:\n%s  want:\n%s", got, want);
    CHECK(count_lines(cli_path(run, "metrics-dropped.jsonl")) == 5); /* steps 5..8, the partial one */
    free(got);
    free(want);
    free(log);
    free(at_4);
    cli_scratch_remove(dir);
}

/* Waits (up to 20 s, while p runs) until the log has grown by `bytes` past `from` bytes: the
 * run is training. */
static void wait_for_training(cli_proc *p, const char *metrics, long long from, long long bytes) {
    for (int t = 0; t < 20000 && cli_file_size(metrics) < from + bytes && cli_running(p); t += 2)
        cli_sleep_ms(2);
}

/* Each kill lands while the run trains (its log grows), at a random moment after that. */
TEST(killed_twenty_times_ends_as_an_uninterrupted_run) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *reference = cli_path(dir, "reference"), *run = cli_path(dir, "run");
    cli_args a, again;
    /* checkpoints every 100 steps, so that most kills land between two of them */
    ring_args(&a, reference, "train.steps=3000");
    cli_args_add(&a, "train.checkpoint_every=100", NULL);
    CHECK(cli_run_ok(&a));
    ring_args(&a, run, "train.steps=3000");
    cli_args_add(&a, "train.checkpoint_every=100", NULL);
    cli_args_init(&again);
    cli_args_add(&again, "train", "--resume", run, "--quiet", NULL);
    const char *metrics = cli_path(run, "metrics.jsonl"), *ckpt = cli_path(run, "checkpoint.safetensors");
    cli_proc p = cli_start(&a, -1); /* killed once it has a checkpoint to resume */
    for (int t = 0; t < 20000 && !cli_exists(ckpt) && cli_running(&p); t += 2) cli_sleep_ms(2);
    unsigned seed = 21;
    int kills = 0;
    cli_result r = {0};
    while (kills < 20 && cli_running(&p)) {
        cli_sleep_ms((int)(rand_r(&seed) % 20));
        kill(p.pid, SIGKILL);
        cli_finish(p, &r);
        kills += r.code == 128 + SIGKILL;
        cli_result_free(&r);
        long long size = cli_file_size(metrics);
        p = cli_start(&again, -1);
        wait_for_training(&p, metrics, size, 4000); /* ~15 lines past the resumed step */
    }
    cli_finish(p, &r);
    CHECK_RUN(&again, &r, r.code == 0);
    cli_result_free(&r);
    int dropped = count_lines(cli_path(run, "metrics-dropped.jsonl"));
    printf("  %d kills; %d lines logged past a checkpoint moved aside\n", kills, dropped);
    CHECK(kills >= 15 && dropped > 0); /* killed while training, past checkpoints */
    CHECK(cli_same_bytes(ckpt, cli_path(reference, "checkpoint.safetensors")));
    char *got = without_timing(metrics);
    char *want = without_timing(cli_path(reference, "metrics.jsonl"));
    CHECK(got && want && strcmp(got, want) == 0);
    free(got);
    free(want);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(a_resumed_log_reads_as_an_uninterrupted_one),
              T(killed_twenty_times_ends_as_an_uninterrupted_run));
}
