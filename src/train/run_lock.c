/* The run folder's lock (run_lock.h). */
#define _DEFAULT_SOURCE /* flock */
#include "train/run_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The process id the lock file names (0: none, an empty or unreadable file). */
static long holder_of(int fd) {
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 ? pid : 0;
}

static int write_pid(int fd, const char *path, gt_error *err) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
        return gt_error_set(err, "%s: cannot write the lock: %s", path, strerror(errno));
    return 0;
}

int gt_run_lock_take(gt_run_lock *l, const char *dir, FILE *log, gt_error *err) {
    char path[4096];
    l->fd = -1;
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return gt_error_set(err, "%s: cannot open the run folder's lock: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int why = errno;
        long pid = holder_of(fd);
        close(fd);
        if (why != EWOULDBLOCK)
            return gt_error_set(err, "%s: cannot lock the run folder: %s", path, strerror(why));
        if (pid)
            return gt_error_set(err, "%s is in use: gantry process %ld trains there (%s); wait for "
                                     "it to end or stop it (kill %ld), then try again", dir, pid, path, pid);
        return gt_error_set(err, "%s is in use by another gantry process (%s); wait for it to end, "
                                 "then try again", dir, path);
    }
    long stale = holder_of(fd);
    if (stale && log)
        fprintf(log, "gantry: %s named process %ld, which ended without releasing it (killed?); "
                     "taking the run folder over\n", path, stale);
    if (write_pid(fd, path, err) < 0) {
        close(fd);
        return -1;
    }
    l->fd = fd;
    return 0;
}

void gt_run_lock_release(gt_run_lock *l) {
    if (l->fd < 0) return;
    int rc = ftruncate(l->fd, 0); /* if it fails, the file names us: later read as stale */
    (void)rc;
    close(l->fd); /* drops the flock */
    l->fd = -1;
}
