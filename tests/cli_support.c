/* Support for tests/test_cli.c: see cli_support.h. */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include "cli_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <png.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- scratch folders ---- */

bool cli_scratch_new(char *dir) {
    strcpy(dir, "/tmp/gantry-cli-XXXXXX");
    if (mkdtemp(dir)) return true;
    fprintf(stderr, "  cannot create a scratch folder: %s\n", strerror(errno));
    return false;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void cli_scratch_remove(const char *dir) {
    /* Depth first so that folders are empty when their turn comes; links are not followed. */
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *cli_path(const char *dir, const char *name) {
    static char buf[64][512];
    static int next;
    char *p = buf[next++ % 64];
    snprintf(p, sizeof buf[0], "%s/%s", dir, name);
    return p;
}

/* ---- argument lists ---- */

void cli_args_init(cli_args *a) {
    a->n = 0;
    a->used = 0;
}

static void push(cli_args *a, const char *arg) {
    if (a->n < CLI_MAX_ARGS) a->v[a->n++] = arg;
    else fprintf(stderr, "  cli_args: more than %d arguments, '%s' dropped\n", CLI_MAX_ARGS, arg);
}

void cli_args_add(cli_args *a, ...) {
    va_list ap;
    va_start(ap, a);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) push(a, s);
    va_end(ap);
}

void cli_args_addf(cli_args *a, const char *fmt, ...) {
    char *dst = a->text + a->used;
    size_t cap = sizeof a->text - a->used;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "  cli_args: argument storage full\n");
        return;
    }
    a->used += (size_t)n + 1;
    push(a, dst);
}

/* ---- running gantry ---- */

static const char *gantry_bin(void) {
    const char *bin = getenv("GANTRY_BIN");
    return bin && *bin ? bin : "build/gantry";
}

/* An anonymous file for the child's output: unlinked at once, so nothing is left behind. */
static int open_log(void) {
    char path[] = "/tmp/gantry-cli-log-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) unlink(path);
    return fd;
}

/* In the child: output to the log, the file-size limit, then the binary. Never returns. */
static void exec_child(const char **argv, int log_fd, long long fsize_limit) {
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    if (fsize_limit >= 0) {
        struct rlimit rl = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    execv(argv[0], (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s (set GANTRY_BIN or run make build/gantry)\n", argv[0],
            strerror(errno));
    _exit(127);
}

cli_proc cli_start(const cli_args *a, long long fsize_limit) {
    cli_proc p = {-1, open_log(), false, 0};
    if (p.log_fd < 0) {
        fprintf(stderr, "  cannot create a log file: %s\n", strerror(errno));
        return p;
    }
    const char *argv[CLI_MAX_ARGS + 2];
    argv[0] = gantry_bin();
    for (int i = 0; i < a->n; i++) argv[i + 1] = a->v[i];
    argv[a->n + 1] = NULL;
    fflush(NULL); /* or buffered output would be written twice should exec fail */
    p.pid = fork();
    if (p.pid == 0) exec_child(argv, p.log_fd, fsize_limit);
    if (p.pid < 0) fprintf(stderr, "  fork: %s\n", strerror(errno));
    return p;
}

/* The whole of fd, NUL-terminated; *n gets its length (n may be NULL). */
static char *read_fd(int fd, size_t *n) {
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = malloc(len > 0 ? (size_t)len + 1 : 1);
    size_t got = 0;
    if (!buf) return NULL;
    if (len > 0 && lseek(fd, 0, SEEK_SET) == 0)
        for (ssize_t k; got < (size_t)len && (k = read(fd, buf + got, (size_t)len - got)) > 0;)
            got += (size_t)k;
    buf[got] = '\0';
    if (n) *n = got;
    return buf;
}

bool cli_running(cli_proc *p) {
    if (p->pid > 0 && !p->done) p->done = waitpid(p->pid, &p->status, WNOHANG) == p->pid;
    return p->pid > 0 && !p->done;
}

void cli_finish(cli_proc p, cli_result *r) {
    r->code = -1;
    r->text = NULL;
    if (p.pid > 0) {
        while (!p.done && waitpid(p.pid, &p.status, 0) < 0 && errno == EINTR) {}
        r->code = WIFEXITED(p.status) ? WEXITSTATUS(p.status) : 128 + WTERMSIG(p.status);
    }
    if (p.log_fd >= 0) {
        r->text = read_fd(p.log_fd, NULL);
        close(p.log_fd);
    }
    if (!r->text) r->text = calloc(1, 1);
}

void cli_run(const cli_args *a, cli_result *r) { cli_finish(cli_start(a, -1), r); }

void cli_result_free(cli_result *r) {
    free(r->text);
    r->text = NULL;
}

/* ---- files ---- */

char *cli_read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    char *buf = read_fd(fd, len);
    close(fd);
    return buf;
}

bool cli_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

bool cli_exists(const char *path) { return access(path, F_OK) == 0; }

bool cli_mkdir(const char *path) { return mkdir(path, 0755) == 0; }

long long cli_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

bool cli_has_bytes(const char *path, const char *data, size_t len) {
    size_t n = 0;
    char *got = cli_read_file(path, &n);
    bool same = got && n == len && memcmp(got, data, len) == 0;
    free(got);
    return same;
}

bool cli_same_bytes(const char *a, const char *b) {
    size_t n = 0;
    char *x = cli_read_file(a, &n);
    bool same = x && cli_has_bytes(b, x, n);
    free(x);
    return same;
}

int cli_count_names(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    int count = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) count += strstr(e->d_name, part) != NULL;
    closedir(d);
    return count;
}

/* Noise (so the files are large enough to truncate meaningfully) under a square. */
static void fill_image(unsigned char *px, int w, int h, unsigned seed) {
    uint32_t s = seed * 2654435761u + 12345u;
    int x0 = (int)(seed % (unsigned)(w / 2)), y0 = (int)((seed / 7) % (unsigned)(h / 2));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            s = s * 1664525u + 1013904223u;
            bool in_square = x >= x0 && x < x0 + w / 2 && y >= y0 && y < y0 + h / 2;
            px[y * w + x] = in_square ? (unsigned char)(200 + (s >> 28)) : (unsigned char)(s >> 26);
        }
}

bool cli_write_gray_png(const char *path, int w, int h, unsigned seed) {
    unsigned char *px = malloc((size_t)w * (size_t)h);
    if (!px) return false;
    fill_image(px, w, h, seed);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_GRAY;
    bool ok = png_image_write_to_file(&img, path, 0, px, w, NULL) != 0;
    png_image_free(&img);
    free(px);
    return ok;
}

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

bool cli_png_size(const char *path, unsigned *w, unsigned *h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    unsigned char *b = (unsigned char *)cli_read_file(path, &n);
    /* signature, then the IHDR chunk: length 13, "IHDR", width, height */
    bool ok = b && n >= 24 && memcmp(b, sig, 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0;
    if (ok) {
        *w = be32(b + 16);
        *h = be32(b + 20);
    }
    free(b);
    return ok;
}

void cli_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* ---- checks on a command ---- */

void cli_dump(const cli_args *a, const cli_result *r) {
    fprintf(stderr, "    $ gantry");
    for (int i = 0; i < a->n; i++) fprintf(stderr, " %s", a->v[i]);
    fprintf(stderr, "\n    exit %d, output:\n%s\n", r->code, r->text);
}

bool cli_says(const cli_result *r, const char *text) { return strstr(r->text, text) != NULL; }

bool cli_run_ok(const cli_args *a) {
    cli_result r;
    cli_run(a, &r);
    CHECK_RUN(a, &r, r.code == 0);
    bool ok = r.code == 0;
    cli_result_free(&r);
    return ok;
}

void cli_run_fails_saying(const cli_args *a, ...) {
    cli_result r;
    cli_run(a, &r);
    CHECK_RUN(a, &r, r.code != 0 && r.code < 128);
    va_list ap;
    va_start(ap, a);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
        if (!cli_says(&r, s)) {
            fprintf(stderr, "  the output does not mention '%s'\n", s);
            CHECK_RUN(a, &r, cli_says(&r, s));
        }
    va_end(ap);
    cli_result_free(&r);
}

void cli_args_tiny_ring(cli_args *a, const char *out) {
    cli_args_init(a);
    cli_args_add(a, "train", "--config", "configs/gan-ring.ini", "--out", out, "--quiet",
                 "model.g.width=16", "model.g.depth=2", "model.d.width=16", "model.d.depth=2",
                 "model.g.z_dim=8", "train.batch=64", "train.threads=1", NULL);
}

void cli_args_add_words(cli_args *a, const char *words) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", words);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) cli_args_addf(a, "%s", tok);
}

const char *cli_png_folder(const char *dir, int n, int side) {
    const char *png = cli_path(dir, "png");
    char path[600];
    bool ok = cli_mkdir(png);
    for (int i = 0; ok && i < n; i++) {
        snprintf(path, sizeof path, "%s/img-%04d.png", png, i);
        ok = cli_write_gray_png(path, side, side, (unsigned)i);
    }
    CHECK(ok);
    return png;
}

bool cli_losses_finite(const char *metrics) {
    char *text = cli_read_file(metrics, NULL);
    bool ok = text != NULL && strstr(text, "\"d_loss\": ") != NULL && strstr(text, "null") == NULL;
    free(text);
    return ok;
}
