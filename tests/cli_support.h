/* Support for tests/test_cli.c, which runs the real gantry binary: scratch folders, argument
 * lists, child processes with their output captured, and small file helpers.
 * The binary is $GANTRY_BIN, or build/gantry (relative to the repository root, where make runs
 * the tests). */
#ifndef GT_CLI_SUPPORT_H
#define GT_CLI_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "test.h"

/* ---- scratch folders ---- */

/* A fresh folder /tmp/gantry-cli-XXXXXX; its path goes to dir (at least 64 bytes). False (with
 * a message) when it cannot be made. */
bool cli_scratch_new(char *dir);
/* Removes the folder and everything below it. */
void cli_scratch_remove(const char *dir);
/* dir/name in one of 64 rotating static buffers: valid for the next 63 calls, which is more
 * than one test makes (loops should format their own paths). */
const char *cli_path(const char *dir, const char *name);

/* ---- argument lists ---- */

#define CLI_MAX_ARGS 64
typedef struct {
    const char *v[CLI_MAX_ARGS];
    int n;
    char text[8192];  /* storage of the formatted arguments */
    size_t used;
} cli_args;

void cli_args_init(cli_args *a);
/* Appends each argument up to a NULL. */
void cli_args_add(cli_args *a, ...);
/* Appends one printf-formatted argument. */
void cli_args_addf(cli_args *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* `train --config configs/gan-ring.ini --out OUT --quiet` at a tiny size (MLPs of width 16 and
 * depth 2, z 8, batch 64, one thread), for tests that add their own overrides after it. */
void cli_args_tiny_ring(cli_args *a, const char *out);
/* Appends each space-separated word of `words` ("loss.type=hinge penalty.r1=1") as an argument. */
void cli_args_add_words(cli_args *a, const char *words);

/* ---- running gantry ---- */

typedef struct {
    int code;    /* the exit status, or 128 + the signal that ended it */
    char *text;  /* stdout and stderr, interleaved, NUL-terminated (malloc'd) */
} cli_result;

typedef struct {
    pid_t pid;
    int log_fd;  /* an unlinked temporary file holding the child's output */
    bool done;   /* reaped by cli_running; status is then its wait status */
    int status;
} cli_proc;

/* Starts gantry with the arguments (not counting the program name). fsize_limit >= 0 sets
 * RLIMIT_FSIZE in the child before exec (a disk that fills up). pid is -1 on failure. */
cli_proc cli_start(const cli_args *a, long long fsize_limit);
/* Whether the child still runs (reaps it when it has ended). */
bool cli_running(cli_proc *p);
/* Waits for the child and collects its status and output. */
void cli_finish(cli_proc p, cli_result *r);
/* cli_start then cli_finish, without a file-size limit. */
void cli_run(const cli_args *a, cli_result *r);
void cli_result_free(cli_result *r);

/* ---- checks on a command (they count as checks of the test harness, test.h) ---- */

/* Prints the command and what it printed. */
void cli_dump(const cli_args *a, const cli_result *r);
/* A CHECK that shows the command and what it printed when it fails. */
#define CHECK_RUN(a, r, cond)                                         \
    do {                                                              \
        int before_ = gt_test_failed_checks;                          \
        CHECK(cond);                                                  \
        if (gt_test_failed_checks != before_) cli_dump((a), (r));     \
    } while (0)
bool cli_says(const cli_result *r, const char *text);
/* Runs a command that should succeed; false (after a failed check) when it did not. */
bool cli_run_ok(const cli_args *a);
/* Runs a command that should fail with a non-zero exit (not a crash) and a message naming
 * each of the NULL-terminated strings. */
void cli_run_fails_saying(const cli_args *a, ...);

/* ---- files ---- */

/* The whole file, NUL-terminated (*len bytes before the NUL; len may be NULL), or NULL. */
char *cli_read_file(const char *path, size_t *len);
bool cli_write_file(const char *path, const void *data, size_t len);
bool cli_exists(const char *path);
bool cli_mkdir(const char *path);
long long cli_file_size(const char *path);  /* -1 when absent */
/* Whether both files exist and hold the same bytes. */
bool cli_same_bytes(const char *a, const char *b);
/* Whether the file holds exactly these bytes. */
bool cli_has_bytes(const char *path, const char *data, size_t len);
/* Names in dir containing `part` (e.g. ".tmp."), counted. */
int cli_count_names(const char *dir, const char *part);
/* A w x h 8-bit gray PNG of deterministic noise and a bright square depending on seed. */
bool cli_write_gray_png(const char *path, int w, int h, unsigned seed);
/* dir/png holding n side x side gray PNGs (cli_write_gray_png, seeds 0 .. n-1); its path, from
 * cli_path. A failure is a failed check. */
const char *cli_png_folder(const char *dir, int n, int side);
/* Whether a run's metrics.jsonl has losses and no null (non-finite values are written null). */
bool cli_losses_finite(const char *metrics);
/* Width and height from a PNG's IHDR; false when the file is not a PNG. */
bool cli_png_size(const char *path, unsigned *w, unsigned *h);
/* Sleeps for ms milliseconds. */
void cli_sleep_ms(int ms);

#endif
