/* IDX files (the MNIST format): a big-endian header (magic 00 00 08 ndim, then ndim u32 sizes)
 * and u8 data, raw or gzip-compressed, read through zlib. Every size the header promises is
 * checked against the bytes that actually follow, and the whole file is read before use. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/data.h"

#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_CHUNK ((size_t)1 << 24) /* payload buffer grows by doubling from here */
#define IDX_HINT "install it with `apt-get install dataset-fashion-mnist` (files in " \
                 "/usr/share/datasets/fashion-mnist) or point to MNIST-format IDX files"
#define IDX_REINSTALL "re-download the file (`apt-get install --reinstall dataset-fashion-mnist` " \
                      "for Fashion-MNIST)"

typedef struct {
    gzFile gz;
    const char *path;
    const char *kind;  /* "images" or "labels" */
    int64_t offset;    /* bytes consumed from the uncompressed stream */
} idx_file;

/* zlib's description of a stream error, or NULL when the stream is healthy. */
static const char *idx_gz_problem(const idx_file *f) {
    int code = Z_OK;
    const char *msg = gzerror(f->gz, &code);
    return code == Z_OK ? NULL : msg;
}

/* A gzip stream that merely stops early is truncated, not corrupt. */
static bool idx_gz_truncated(const idx_file *f) {
    int code = Z_OK;
    gzerror(f->gz, &code);
    return code == Z_OK || code == Z_BUF_ERROR;
}

static const char *idx_form(const idx_file *f) { return gzdirect(f->gz) ? "raw" : "gzip"; }

/* Reads up to len bytes; returns the count read, short at the end of the data or at a stream
 * error (idx_gz_problem tells which). */
static int64_t idx_read(idx_file *f, uint8_t *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got < (size_t)1 << 30 ? len - got : (size_t)1 << 30;
        int r = gzread(f->gz, buf + got, (unsigned)want);
        if (r <= 0) break;
        got += (size_t)r;
    }
    f->offset += (int64_t)got;
    return (int64_t)got;
}

/* zlib's message starts with the path again; the error names it once. */
static int idx_stream_error(const idx_file *f, gt_error *err) {
    const char *why = idx_gz_problem(f), *tail = why ? strstr(why, ": ") : NULL;
    why = tail && strncmp(why, f->path, strlen(f->path)) == 0 ? tail + 2 : why;
    return gt_error_set(err, "%s: %s %s file damaged: %s (zlib, at compressed byte offset %lld, "
                        "%lld bytes decoded); %s", f->path, idx_form(f), f->kind,
                        why ? why : "read error", (long long)gzoffset(f->gz),
                        (long long)f->offset, IDX_REINSTALL);
}

static int idx_open(idx_file *f, const char *path, const char *kind, gt_error *err) {
    *f = (idx_file){.path = path, .kind = kind};
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz) {
        return gt_error_set(err, "%s: cannot open the IDX %s file: %s; %s", path, kind,
                            errno ? strerror(errno) : "out of memory", IDX_HINT);
    }
    gzbuffer(f->gz, 1u << 17);
    return 0;
}

static uint32_t idx_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads and checks the header: the magic, then ndim sizes, each nonzero. */
static int idx_header(idx_file *f, uint32_t magic, int ndim, uint32_t *dims, gt_error *err) {
    uint8_t head[4 + 4 * 3];
    size_t len = 4 + 4 * (size_t)ndim;
    int64_t got = idx_read(f, head, len);
    if (got < (int64_t)len && !idx_gz_truncated(f)) return idx_stream_error(f, err);
    if (got >= 4 && idx_be32(head) != magic) {
        return gt_error_set(err, "%s: byte offset 0: expected the IDX %s magic 0x%08x "
                            "(u8 data, %d dims), found 0x%08x; is this the right file?",
                            f->path, f->kind, magic, ndim, idx_be32(head));
    }
    if (got < (int64_t)len) {
        return gt_error_set(err, "%s: truncated %s %s file: the %zu-byte IDX header ends after "
                            "%lld bytes; %s", f->path, idx_form(f), f->kind, len, (long long)got,
                            IDX_REINSTALL);
    }
    for (int i = 0; i < ndim; i++) {
        dims[i] = idx_be32(head + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > INT_MAX) {
            return gt_error_set(err, "%s: byte offset %d: size %d of the %s is %u; expected "
                                "1 to %d", f->path, 4 + 4 * i, i, f->kind, dims[i], INT_MAX);
        }
    }
    return 0;
}

/* Grows buf to hold at least need bytes (doubling, capped at limit); -1 when out of memory. */
static int idx_grow(uint8_t **buf, size_t *cap, size_t need, size_t limit) {
    if (need <= *cap) return 0;
    size_t next = *cap * 2 > limit ? limit : *cap * 2;
    uint8_t *p = realloc(*buf, next);
    if (!p) return -1;
    *buf = p;
    *cap = next;
    return 0;
}

/* Reads the promised payload in growing chunks, so a header that lies about its size costs
 * no more memory than the data that is really there. */
static int idx_payload(idx_file *f, size_t promised, uint8_t **out, gt_error *err) {
    size_t cap = promised < IDX_CHUNK ? promised : IDX_CHUNK, got = 0;
    uint8_t *buf = malloc(cap);
    int64_t r = 1;
    while (buf && got < promised && r > 0) {
        if (idx_grow(&buf, &cap, got + 1, promised)) break;
        r = idx_read(f, buf + got, cap - got);
        got += (size_t)r;
    }
    if (got == promised && buf) {
        *out = buf;
        return 0;
    }
    free(buf);
    if (r > 0) {
        return gt_error_set(err, "%s: out of memory reading %zu bytes of %s", f->path, promised,
                            f->kind);
    }
    if (!idx_gz_truncated(f)) return idx_stream_error(f, err);
    return gt_error_set(err, "%s: truncated %s %s file: the header promises %zu data bytes after "
                        "it, but only %zu follow (the data ends at uncompressed offset %lld); %s",
                        f->path, idx_form(f), f->kind, promised, got, (long long)f->offset,
                        IDX_REINSTALL);
}

/* After the payload the stream must end; reading past it also makes zlib verify the CRC. */
static int idx_trailer(idx_file *f, gt_error *err) {
    uint8_t extra;
    int64_t r = idx_read(f, &extra, 1);
    if (idx_gz_problem(f)) return idx_stream_error(f, err);
    if (r > 0) {
        return gt_error_set(err, "%s: the header promises %lld bytes in all, but more follow at "
                            "offset %lld; the header is wrong or files were joined", f->path,
                            (long long)f->offset - 1, (long long)f->offset - 1);
    }
    return 0;
}

/* Opens path and reads an IDX file of the given magic and rank: dims and the payload. */
static int idx_read_file(const char *path, const char *kind, uint32_t magic, int ndim,
                         uint32_t *dims, uint8_t **data, gt_error *err) {
    idx_file f;
    if (idx_open(&f, path, kind, err)) return -1;
    int rc = idx_header(&f, magic, ndim, dims, err);
    uint64_t total = rc == 0 ? dims[0] : 0; /* sizes < 2^31, so n * (h * w) < 2^63 below */
    if (rc == 0 && ndim == 3 && (uint64_t)dims[1] * dims[2] > INT_MAX / 4) {
        rc = gt_error_set(err, "%s: byte offsets 8 and 12: images of %ux%u are too large", path,
                          dims[1], dims[2]);
    } else if (rc == 0 && ndim == 3) {
        total *= (uint64_t)dims[1] * dims[2];
    }
    if (rc == 0) rc = idx_payload(&f, (size_t)total, data, err);
    if (rc == 0) rc = idx_trailer(&f, err);
    if (rc != 0 && *data) {
        free(*data);
        *data = NULL;
    }
    gzclose(f.gz);
    return rc;
}

/* ds->x = p / 127.5 - 1 (0 -> -1, 255 -> 1 exactly); labels widened, n_classes = max + 1. */
static void idx_fill(gt_dataset *ds, const uint8_t *pix, const uint8_t *lab) {
    int64_t total = ds->n * ds->c * ds->h * ds->w;
    for (int64_t i = 0; i < total; i++) ds->x[i] = (float)pix[i] / 127.5f - 1.0f;
    for (int64_t i = 0; lab && i < ds->n; i++) {
        ds->labels[i] = lab[i];
        if (lab[i] + 1 > ds->n_classes) ds->n_classes = lab[i] + 1;
    }
}

gt_dataset *gt_data_load_idx(const char *images_path, const char *labels_path, gt_error *err) {
    uint32_t idims[3], ldims[1];
    uint8_t *pix = NULL, *lab = NULL;
    gt_dataset *ds = NULL;
    if (idx_read_file(images_path, "images", IDX_MAGIC_IMAGES, 3, idims, &pix, err)) return NULL;
    if (labels_path &&
        idx_read_file(labels_path, "labels", IDX_MAGIC_LABELS, 1, ldims, &lab, err)) {
        goto done;
    }
    if (labels_path && ldims[0] != idims[0]) {
        gt_error_set(err, "%s holds %u labels but %s holds %u images (byte offset 4 of each); "
                     "the two files must belong to the same split", labels_path, ldims[0],
                     images_path, idims[0]);
        goto done;
    }
    char name[64];
    snprintf(name, sizeof name, "idx:%.59s", images_path);
    ds = gt_dataset_new(idims[0], 1, (int)idims[1], (int)idims[2], lab != NULL, name, err);
    if (ds) idx_fill(ds, pix, lab);
done:
    free(pix);
    free(lab);
    return ds;
}

/* out = dir/base or dir/base.gz, whichever exists (raw first); -1 when neither does. */
static int idx_find(const char *dir, const char *base, char *out, size_t cap, gt_error *err) {
    int len = snprintf(out, cap, "%s/%s", dir, base);
    if (len < 0 || (size_t)len + 3 >= cap) {
        return gt_error_set(err, "%s: the path of %s is too long (over %zu bytes)", dir, base, cap);
    }
    if (access(out, F_OK) == 0) return 0;
    strcat(out, ".gz");
    if (access(out, F_OK) == 0) return 0;
    return gt_error_set(err, "dataset file missing: tried %s/%s and %s; %s", dir, base, out,
                        IDX_HINT);
}

gt_dataset *gt_data_load_mnist_dir(const char *dir, const char *split, gt_error *err) {
    const char *prefix = strcmp(split, "train") == 0 ? "train"
                         : strcmp(split, "test") == 0 ? "t10k" : NULL;
    if (!prefix) {
        gt_error_set(err, "%s: unknown split \"%s\"; expected \"train\" or \"test\"", dir, split);
        return NULL;
    }
    char images[4096], labels[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (idx_find(dir, base, images, sizeof images, err)) return NULL;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (idx_find(dir, base, labels, sizeof labels, err)) return NULL;
    gt_dataset *ds = gt_data_load_idx(images, labels, err);
    if (ds) {
        size_t len = strlen(dir);
        while (len > 1 && dir[len - 1] == '/') len--; /* "a/b/" names b */
        const char *last = dir + len;
        while (last > dir && last[-1] != '/') last--;
        snprintf(ds->name, sizeof ds->name, "%.*s", (int)(dir + len - last), last);
    }
    return ds;
}
