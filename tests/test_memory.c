/* Memory hygiene: a tensor used after its step ended is an AddressSanitizer error (the reset
 * arena is poisoned); a tensor overwritten in place while a recorded op still needs its old
 * values stops the backward in debug builds; running out of memory is an error with a message
 * that reaches the CLI, never an abort. Each misuse runs in a child process, so the parent can
 * read how it ended. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gantry.h"
#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Runs fn in a child with stderr captured into out; returns the wait status. */
static int run_child(void (*fn)(void), char *out, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        fn();
        _exit(0);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fd[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* ---- use after gt_step_end ------------------------------------------------------------ */

#ifdef UNDER_ASAN
static void read_after_step_end(void) {
    int64_t s[1] = {16};
    gt_tensor *x = gt_full(1, s, 3.0f);
    gt_step_end();
    volatile float v = gt_item(gt_sum_all(x)); /* x's header and data are gone */
    (void)v;
}
#endif

TEST(tensor_used_after_step_end_is_an_asan_error) {
#ifdef UNDER_ASAN
    static char out[1 << 16];
    int status = run_child(read_after_step_end, out, sizeof out);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CHECK(strstr(out, "use-after-poison") != NULL);
    if (!strstr(out, "use-after-poison")) fprintf(stderr, "%.2000s\n", out);
#else
    TEST_SKIP_BUILD("needs an AddressSanitizer build (make SAN=1 test)");
#endif
}

/* ---- in-place writes that a recorded op still needs ---------------------------------- */

#ifdef GT_DEBUG
/* y = sum(x w): mul's backward needs x to give w's gradient; x is overwritten before it runs. */
static void overwrite_then_backward(void) {
    int64_t s[1] = {8};
    gt_tensor *x = gt_full(1, s, 2.0f), *w = gt_full(1, s, 0.5f);
    gt_set_requires_grad(w, true);
    gt_tensor *y = gt_sum_all(gt_mul(x, w));
    gt_fill(x, 7.0f);
    gt_backward(y);
}

/* The same, with the write done before the op is recorded: fine. */
static void overwrite_then_record(void) {
    int64_t s[1] = {8};
    gt_tensor *x = gt_full(1, s, 2.0f), *w = gt_full(1, s, 0.5f);
    gt_set_requires_grad(w, true);
    gt_fill(x, 7.0f);
    gt_backward(gt_sum_all(gt_mul(x, w)));
    if (gt_item(gt_sum_all(w->grad)) != 56.0f) abort();
}
#endif

TEST(in_place_write_under_a_recorded_op_is_caught) {
#ifdef GT_DEBUG
    static char out[1 << 16];
    int status = run_child(overwrite_then_backward, out, sizeof out);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    CHECK(strstr(out, "in-place modification") && strstr(out, "'mul'") && strstr(out, "fill"));
    status = run_child(overwrite_then_record, out, sizeof out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
    TEST_SKIP_BUILD("needs a debug build (make DEBUG=1 test or make SAN=1 test)");
#endif
}

/* ---- out of memory --------------------------------------------------------------------- */

#ifndef UNDER_ASAN
static int allocate_too_much(void *arg) {
    (void)arg;
    int64_t s[1] = {(int64_t)1 << 31}; /* 8 GiB, past the child's 2 GiB limit */
    gt_tensor *big = gt_zeros(1, s);
    return big ? 0 : 1;
}

/* In a child limited to 2 GiB of address space: gt_try turns the failed allocation into an
 * error, and the context goes on working afterwards. */
static void try_under_a_limit(void) {
    struct rlimit lim = {(rlim_t)2 << 30, (rlim_t)2 << 30};
    if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
    gt_error err = {{0}};
    if (gt_try(allocate_too_much, NULL, &err) != -1) _exit(4);
    if (!strstr(err.msg, "out of memory") || !strstr(err.msg, "MiB")) _exit(5);
    int64_t s[1] = {4};
    if (gt_item(gt_sum_all(gt_full(1, s, 1.0f))) != 4.0f) _exit(6);
    fprintf(stderr, "%s\n", err.msg);
}
#endif

TEST(out_of_memory_is_an_error_from_gt_try) {
#ifdef UNDER_ASAN
    TEST_SKIP_BUILD("AddressSanitizer needs more address space than the limit allows");
#else
    static char out[4096];
    int status = run_child(try_under_a_limit, out, sizeof out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  child status %d: %s\n", status, out);
#endif
}

#ifndef UNDER_ASAN
/* gantry train under `ulimit -v`: networks too large, then a batch too large for one step. */
static void cli_out_of_memory(const char *words, long kib) {
    const char *bin = getenv("GANTRY_BIN");
    char dir[] = "/tmp/gantry-oom-XXXXXX", cmd[1024];
    if (!bin || !mkdtemp(dir)) {
        CHECK(bin != NULL);
        return;
    }
    snprintf(cmd, sizeof cmd,
             "ulimit -v %ld; %s train --config configs/gan-ring.ini --out %s/run --quiet "
             "train.steps=2 %s 2>%s/err; echo $? > %s/rc",
             kib, bin, dir, words, dir, dir);
    CHECK(system(cmd) == 0);
    char path[300], msg[4096] = "";
    snprintf(path, sizeof path, "%s/rc", dir);
    FILE *f = fopen(path, "r");
    int rc = -1;
    if (f) {
        if (fscanf(f, "%d", &rc) != 1) rc = -1;
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/err", dir);
    if ((f = fopen(path, "r"))) {
        size_t n = fread(msg, 1, sizeof msg - 1, f);
        msg[n] = '\0';
        fclose(f);
    }
    CHECK(rc == 1); /* an error exit, not 134 (abort) or 137 (killed) */
    CHECK(strstr(msg, "out of memory") && strstr(msg, "train.batch"));
    if (rc != 1 || !strstr(msg, "out of memory")) fprintf(stderr, "  exit %d: %s\n", rc, msg);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", dir);
}

#endif

TEST(out_of_memory_reaches_the_cli_as_a_message) {
#ifdef UNDER_ASAN
    TEST_SKIP_BUILD("AddressSanitizer needs more address space than the limit allows");
#else
    cli_out_of_memory("model.g.width=30000 model.g.depth=2", 3000000); /* building G */
    cli_out_of_memory("model.g.width=1024 model.d.width=1024 train.batch=100000", 1500000);
#endif
}

int main(void) {
    RUN_TESTS(T(tensor_used_after_step_end_is_an_asan_error),
              T(in_place_write_under_a_recorded_op_is_caught),
              T(out_of_memory_is_an_error_from_gt_try), T(out_of_memory_reaches_the_cli_as_a_message));
}
