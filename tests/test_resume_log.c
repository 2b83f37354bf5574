/* metrics.jsonl after a resume reads as an uninterrupted run's: the lines a killed run logged
 * past its last checkpoint, and a line it left half written, move to metrics-dropped.jsonl
 * (issue 21, defect 4: they were logged twice, out of order, and the next line was glued to the
 * partial one). */
#include <cjson/cJSON.h>
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

int main(void) { RUN_TESTS(T(a_resumed_log_reads_as_an_uninterrupted_one)); }
