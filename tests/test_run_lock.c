/* The run folder's lock: a second train or --resume in a folder another process trains in is
 * refused naming that process; a lock left by a run that died is taken over with a notice; a
 * finished run releases it. (Issue 21, defect 3: two runs in one folder both exited 0, their
 * metrics interleaved.) */
#define _DEFAULT_SOURCE /* flock */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli_support.h"
#include "test.h"

static void tiny_run(cli_args *a, const char *run, const char *steps) {
    cli_args_tiny_ring(a, run);
    cli_args_add(a, steps, "train.eval_every=0", "train.sample_every=0", NULL);
}

static void resume_args(cli_args *a, const char *run) {
    cli_args_init(a);
    cli_args_add(a, "train", "--resume", run, "--quiet", "train.steps=4", NULL);
}

/* The lock held by this process (as a running gantry would hold it), naming us. */
static int hold_lock(const char *run) {
    int fd = open(cli_path(run, "lock"), O_RDWR | O_CREAT, 0644);
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    bool ok = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 && ftruncate(fd, 0) == 0 &&
              write(fd, pid, (size_t)n) == n;
    CHECK(ok);
    return fd;
}

TEST(a_second_run_in_a_locked_folder_is_refused_naming_the_holder) {
    char dir[64], pid[32];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    tiny_run(&a, run, "train.steps=2");
    CHECK(cli_run_ok(&a));
    char *lock = cli_read_file(cli_path(run, "lock"), NULL);
    CHECK(lock && lock[0] == '\0'); /* released */
    free(lock);
    int fd = hold_lock(run);
    snprintf(pid, sizeof pid, "gantry process %ld", (long)getpid());
    cli_args r;
    resume_args(&r, run);
    cli_run_fails_saying(&r, "is in use", pid, NULL);
    close(fd); /* released: the resume goes through */
    CHECK(cli_run_ok(&r));
    const char *other = cli_path(dir, "other"); /* a fresh run into a locked folder */
    CHECK(cli_mkdir(other));
    fd = hold_lock(other);
    tiny_run(&a, other, "train.steps=2");
    cli_run_fails_saying(&a, "is in use", pid, NULL);
    CHECK(!cli_exists(cli_path(other, "metrics.jsonl")));
    close(fd);
    cli_scratch_remove(dir);
}

/* A lock file naming a process but locked by none: a run that was killed. */
TEST(a_dead_runs_lock_is_taken_over_with_a_notice) {
    char dir[64];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    tiny_run(&a, run, "train.steps=2");
    CHECK(cli_run_ok(&a));
    CHECK(cli_write_file(cli_path(run, "lock"), "999999\n", 7));
    cli_args r;
    resume_args(&r, run);
    cli_result res;
    cli_run(&r, &res);
    CHECK_RUN(&r, &res, res.code == 0 && cli_says(&res, "named process 999999") &&
                            cli_says(&res, "taking the run folder over"));
    cli_result_free(&res);
    cli_scratch_remove(dir);
}

/* Two real processes: while one trains, a second on the same --out is refused naming it. */
TEST(two_trains_on_one_folder) {
    char dir[64], pid[32];
    if (!cli_scratch_new(dir)) return;
    const char *run = cli_path(dir, "run");
    cli_args a;
    tiny_run(&a, run, "train.steps=100000000");
    cli_proc p = cli_start(&a, -1);
    const char *metrics = cli_path(run, "metrics.jsonl");
    for (int t = 0; t < 20000 && !cli_exists(metrics) && cli_running(&p); t += 10) cli_sleep_ms(10);
    CHECK(cli_running(&p));
    snprintf(pid, sizeof pid, "gantry process %ld", (long)p.pid);
    cli_args b;
    tiny_run(&b, run, "train.steps=2");
    cli_run_fails_saying(&b, "is in use", pid, NULL);
    kill(p.pid, SIGINT);
    cli_result r;
    cli_finish(p, &r);
    CHECK_RUN(&a, &r, r.code == 0 && cli_says(&r, "interrupted"));
    cli_result_free(&r);
    cli_scratch_remove(dir);
}

int main(void) {
    RUN_TESTS(T(a_second_run_in_a_locked_folder_is_refused_naming_the_holder),
              T(a_dead_runs_lock_is_taken_over_with_a_notice), T(two_trains_on_one_folder));
}
