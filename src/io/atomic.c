/* Atomic file replacement (temporary file, checked writes, fsync, rename) and the checked
 * close of a stream, with error messages that name the path, the system error and a hint. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *gt_errno_hint(int errnum) {
    switch (errnum) {
    case ENOSPC:
    case EDQUOT: return " (hint: the disk is full: free some space and retry)";
    case EFBIG: return " (hint: the file size limit was reached: free space or raise the limit)";
    case EACCES:
    case EPERM:
    case EROFS: return " (hint: the location is not writable: check its permissions or choose "
                       "another output folder)";
    case ENOENT: return " (hint: the folder does not exist: create it first)";
    case ENOTDIR: return " (hint: a part of the path is not a folder)";
    default: return "";
    }
}

static int fail_errno(gt_error *err, const char *what, const char *path, int errnum) {
    return gt_error_set(err, "%s '%s': %s%s", what, path, strerror(errnum), gt_errno_hint(errnum));
}

/* fsync on a pipe or a character device (such as /dev/full) fails with EINVAL: nothing to sync. */
static bool sync_failed(FILE *f) {
    return fsync(fileno(f)) != 0 && errno != EINVAL && errno != EROFS;
}

int gt_stream_close_checked(FILE *f, const char *path, bool sync, gt_error *err) {
    int errnum = 0;
    const char *what = NULL;
    if (ferror(f)) {
        errnum = errno ? errno : EIO;
        what = "cannot write";
    } else if (fflush(f) != 0) {
        errnum = errno;
        what = "cannot write";
    } else if (sync && sync_failed(f)) {
        errnum = errno;
        what = "cannot sync";
    }
    if (fclose(f) != 0 && !what) {
        errnum = errno;
        what = "cannot close";
    }
    return what ? fail_errno(err, what, path, errnum) : 0;
}

FILE *gt_atomic_open(const char *path, gt_atomic *a, gt_error *err) {
    a->f = NULL;
    a->tmp[0] = '\0';
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->path) {
        gt_error_set(err, "cannot write '%s': the path is empty or longer than %d bytes", path,
                     GT_PATH_MAX - 1);
        return NULL;
    }
    memcpy(a->path, path, n + 1);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        fail_errno(err, "cannot create a temporary file for", path, errno);
        a->tmp[0] = '\0';
        return NULL;
    }
    fchmod(fd, 0644);  /* mkstemp's 0600 would make checkpoints private by accident */
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        fail_errno(err, "cannot open a stream for", path, errno);
        close(fd);
        unlink(a->tmp);
        a->tmp[0] = '\0';
    }
    return a->f;
}

/* Makes the rename itself durable; a folder that cannot be synced is no error. */
static void sync_parent_dir(const char *path) {
    char dir[GT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int gt_atomic_commit(gt_atomic *a, gt_error *err) {
    if (!a->f) return gt_error_set(err, "cannot write '%s': the file is not open", a->path);
    FILE *f = a->f;
    a->f = NULL;
    if (gt_stream_close_checked(f, a->path, true, err) != 0) {
        unlink(a->tmp);
        return -1;
    }
    if (rename(a->tmp, a->path) != 0) {
        int errnum = errno;
        unlink(a->tmp);
        return fail_errno(err, "cannot replace", a->path, errnum);
    }
    sync_parent_dir(a->path);
    return 0;
}

void gt_atomic_abort(gt_atomic *a) {
    if (!a->f) return;
    fclose(a->f);
    a->f = NULL;
    unlink(a->tmp);
}
