/* The safetensors checkpoint format: a writer that lays out float32 tensors and string metadata
 * behind a JSON header (built with cJSON) and writes them atomically, and a reader that checks
 * the whole header against the file before it exposes any tensor. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/engine.h"
#include "io/atomic.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "tensor data is stored as raw little-endian float32: a big-endian host needs swaps");
#endif

#define META_KEY "__metadata__"
#define CRC_PREFIX "crc32."            /* metadata "crc32.NAME": tensor NAME's data checksum */
#define CRC_META CRC_PREFIX META_KEY    /* the checksum of every other metadata entry */
#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: larger JSON numbers are not exact doubles */

typedef struct { char *key, *value; } gt_st_kv;

struct gt_st_writer {
    gt_st_tensor *t;
    int n, cap;
    gt_st_kv *meta;
    int n_meta, cap_meta;
    bool oom;  /* an allocation in add or meta failed: reported by write */
    float **copies;  /* host copies of tensors added with gt_st_writer_add_tensor */
    int n_copies, cap_copies;
};

struct gt_st_file {
    gt_st_tensor *t;
    int n;
    gt_st_kv *meta;
    int n_meta;
    char *data;  /* the data section, malloc'd so float data is aligned */
};

/* ---- writing ------------------------------------------------------------------------------ */

static bool grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return true;
    int cap2 = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, (size_t)cap2 * elem);
    if (!q) return false;
    *p = q;
    *cap = cap2;
    return true;
}

gt_st_writer *gt_st_writer_new(void) { return calloc(1, sizeof(gt_st_writer)); }

void gt_st_writer_add(gt_st_writer *w, const char *name, int ndim, const int64_t *shape,
                      const float *data) {
    GT_CHECK(strlen(name) < GT_ST_NAME_MAX, "tensor name '%s' is too long", name);
    GT_CHECK(strcmp(name, META_KEY) != 0, "'%s' is reserved", META_KEY);
    GT_CHECK(ndim >= 0 && ndim <= GT_MAX_DIMS, "tensor '%s': ndim %d", name, ndim);
    for (int i = 0; i < w->n; i++)
        GT_CHECK(strcmp(w->t[i].name, name) != 0, "tensor '%s' added twice", name);
    if (!grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t)) {
        w->oom = true;
        return;
    }
    gt_st_tensor *t = &w->t[w->n++];
    memset(t, 0, sizeof *t);
    strcpy(t->name, name);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        GT_CHECK(shape[d] >= 0, "tensor '%s': negative dim", name);
        t->shape[d] = shape[d];
        t->numel *= shape[d];
    }
    GT_CHECK(data || t->numel == 0, "tensor '%s': NULL data", name);
    t->data = data;
}

static gt_st_kv *meta_slot(gt_st_writer *w, const char *key) {
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[i].key, key) == 0) return &w->meta[i];
    if (!grow((void **)&w->meta, &w->cap_meta, w->n_meta + 1, sizeof *w->meta)) return NULL;
    gt_st_kv *kv = &w->meta[w->n_meta];
    kv->key = strdup(key);
    kv->value = NULL;
    if (!kv->key) return NULL;
    w->n_meta++;
    return kv;
}

void gt_st_writer_meta(gt_st_writer *w, const char *key, const char *value) {
    gt_st_kv *kv = meta_slot(w, key);
    char *copy = strdup(value);
    if (!kv || !copy) {
        free(copy);
        w->oom = true;
        return;
    }
    free(kv->value);
    kv->value = copy;
}

static cJSON *int_array(int n, const int64_t *v) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *num = cJSON_CreateNumber((double)v[i]);
        if (!num || !cJSON_AddItemToArray(a, num)) {
            cJSON_Delete(num);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static bool add_entry(cJSON *root, const gt_st_tensor *t, int64_t begin) {
    cJSON *e = cJSON_AddObjectToObject(root, t->name);
    int64_t offsets[2] = {begin, begin + 4 * t->numel};
    cJSON *shape = int_array(t->ndim, t->shape), *offs = int_array(2, offsets);
    bool ok = e && shape && offs && cJSON_AddStringToObject(e, "dtype", "F32") &&
              cJSON_AddItemToObject(e, "shape", shape);
    if (ok) shape = NULL;
    ok = ok && cJSON_AddItemToObject(e, "data_offsets", offs);
    if (ok) offs = NULL;
    cJSON_Delete(shape);
    cJSON_Delete(offs);
    return ok;
}

/* The header JSON: metadata first, then the tensors in the order they were added. */
static char *header_json(const gt_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (ok && w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, META_KEY);
        ok = m != NULL;
        for (int i = 0; ok && i < w->n_meta; i++)
            ok = cJSON_AddStringToObject(m, w->meta[i].key, w->meta[i].value) != NULL;
    }
    int64_t offset = 0;
    for (int i = 0; ok && i < w->n; i++) {
        ok = add_entry(root, &w->t[i], offset);
        offset += 4 * w->t[i].numel;
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static void write_body(FILE *f, const gt_st_writer *w, const char *json) {
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(n8, 1, 8, f);
    fwrite(json, 1, len, f);
    for (size_t i = len; i < padded; i++) fputc(' ', f);
    for (int i = 0; i < w->n; i++)
        if (w->t[i].numel) fwrite(w->t[i].data, sizeof(float), (size_t)w->t[i].numel, f);
}

/* ---- checksums ---------------------------------------------------------------------------- */

/* CRC-32 (zlib's) of n bytes, fed in chunks that fit its unsigned length. */
static uint32_t crc_bytes(uint32_t crc, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t at = 0; at < n;) {
        uInt chunk = n - at > (1u << 30) ? 1u << 30 : (uInt)(n - at);
        crc = (uint32_t)crc32(crc, p + at, chunk);
        at += chunk;
    }
    return crc;
}

static uint32_t crc_tensor(const gt_st_tensor *t) {
    return crc_bytes((uint32_t)crc32(0, Z_NULL, 0), t->data, (size_t)t->numel * sizeof(float));
}

static bool is_crc_key(const char *key) { return strncmp(key, CRC_PREFIX, strlen(CRC_PREFIX)) == 0; }

/* Of the metadata entries other than checksums, in order: each key and value with its NUL. */
static uint32_t crc_meta(const gt_st_kv *meta, int n) {
    uint32_t crc = (uint32_t)crc32(0, Z_NULL, 0);
    for (int i = 0; i < n; i++) {
        if (is_crc_key(meta[i].key)) continue;
        crc = crc_bytes(crc, meta[i].key, strlen(meta[i].key) + 1);
        crc = crc_bytes(crc, meta[i].value, strlen(meta[i].value) + 1);
    }
    return crc;
}

static void crc_text(char *buf, uint32_t crc) { snprintf(buf, 9, "%08x", (unsigned)crc); }

/* Every tensor's checksum, then the other metadata's, as metadata entries. */
static void add_checksums(gt_st_writer *w) {
    char key[GT_ST_NAME_MAX + 16], value[9];
    for (int i = 0; i < w->n; i++) {
        snprintf(key, sizeof key, CRC_PREFIX "%s", w->t[i].name);
        crc_text(value, crc_tensor(&w->t[i]));
        gt_st_writer_meta(w, key, value);
    }
    crc_text(value, crc_meta(w->meta, w->n_meta));
    gt_st_writer_meta(w, CRC_META, value);
}

int gt_st_writer_write(gt_st_writer *w, const char *path, gt_error *err) {
    add_checksums(w);
    if (w->oom) return gt_error_set(err, "cannot write '%s': out of memory", path);
    char *json = header_json(w);
    if (!json) return gt_error_set(err, "cannot write '%s': out of memory for the header", path);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (f) write_body(f, w, json);
    cJSON_free(json);
    return f ? gt_atomic_commit(&a, err) : -1;
}

static void free_meta(gt_st_kv *meta, int n) {
    for (int i = 0; i < n; i++) {
        free(meta[i].key);
        free(meta[i].value);
    }
    free(meta);
}

/* A host copy of t that lives as long as the writer, then added as data. */
void gt_st_writer_add_tensor(gt_st_writer *w, const char *name, const gt_tensor *t) {
    float *copy = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *copy);
    if (!copy || !grow((void **)&w->copies, &w->cap_copies, w->n_copies + 1, sizeof *w->copies)) {
        free(copy);
        w->oom = true;
        return;
    }
    gt_copy_to(copy, t);
    w->copies[w->n_copies++] = copy;
    gt_st_writer_add(w, name, t->ndim, t->shape, copy);
}

void gt_st_writer_free(gt_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_copies; i++) free(w->copies[i]);
    free(w->copies);
    free_meta(w->meta, w->n_meta);
    free(w->t);
    free(w);
}

/* ---- reading ------------------------------------------------------------------------------ */

/* What the reader knows while it checks one file. */
typedef struct {
    const char *path;
    gt_error *err;
    gt_st_file *f;
    int64_t data_size;
    int64_t *range;  /* [2 n]: each tensor's [begin, end) in the data section */
} reader;

static int bad(const reader *r, const char *fmt, const char *name, const char *detail) {
    char what[600];
    snprintf(what, sizeof what, fmt, name, detail);
    return gt_error_set(r->err, "checkpoint '%s' is corrupt: %s (hint: the file is damaged or "
                        "was not written by gantry; use an earlier checkpoint)", r->path, what);
}

static bool exact_uint(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= EXACT_INT_MAX) || d != (double)(int64_t)d) return false;
    *out = (int64_t)d;
    return true;
}

static int read_shape(reader *r, gt_st_tensor *t, const cJSON *shape) {
    if (!cJSON_IsArray(shape))
        return bad(r, "tensor '%s': \"shape\" is missing or not an array%s", t->name, "");
    int nd = cJSON_GetArraySize(shape);
    if (nd > GT_MAX_DIMS)
        return bad(r, "tensor '%s': \"shape\" has more than 6 dims%s", t->name, "");
    t->ndim = nd;
    bool huge = false, empty = false;
    int64_t numel = 1;
    for (int d = 0; d < nd; d++) {
        if (!exact_uint(cJSON_GetArrayItem(shape, d), &t->shape[d]))
            return bad(r, "tensor '%s': \"shape\" holds %s", t->name, "a value that is not a "
                       "non-negative integer");
        empty = empty || t->shape[d] == 0;
        if (t->shape[d] && numel > INT64_MAX / 4 / t->shape[d]) huge = true;
        else numel *= t->shape[d];
    }
    t->numel = empty ? 0 : huge ? -1 : numel;
    return 0;
}

static int read_offsets(reader *r, int i, const cJSON *offs) {
    const gt_st_tensor *t = &r->f->t[i];
    int64_t b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !exact_uint(cJSON_GetArrayItem(offs, 0), &b) ||
        !exact_uint(cJSON_GetArrayItem(offs, 1), &e))
        return bad(r, "tensor '%s': \"data_offsets\" %s", t->name,
                   "is missing or not two non-negative integers [begin, end]");
    char detail[200];
    snprintf(detail, sizeof detail, "[%lld, %lld] with %lld bytes of data", (long long)b,
             (long long)e, (long long)r->data_size);
    if (b > e || e > r->data_size)
        return bad(r, "tensor '%s': data_offsets out of range: %s", t->name, detail);
    if (t->numel < 0 || e - b != 4 * t->numel) {
        snprintf(detail, sizeof detail, "%lld bytes, but its shape needs 4 x %lld",
                 (long long)(e - b), (long long)t->numel);
        return bad(r, "tensor '%s': size does not match the shape: %s", t->name, detail);
    }
    if (b % 4)
        return bad(r, "tensor '%s': data_offsets begin %s", t->name, "is not a multiple of 4");
    r->range[2 * i] = b;
    r->range[2 * i + 1] = e;
    return 0;
}

static int read_tensor(reader *r, int i, const cJSON *entry) {
    gt_st_tensor *t = &r->f->t[i];
    if (strlen(entry->string) >= GT_ST_NAME_MAX)
        return bad(r, "tensor '%.100s...': %s", entry->string, "the name is longer than 127 bytes");
    strcpy(t->name, entry->string);
    for (int j = 0; j < i; j++)
        if (strcmp(r->f->t[j].name, t->name) == 0)
            return bad(r, "tensor '%s' %s", t->name, "appears twice");
    if (!cJSON_IsObject(entry))
        return bad(r, "tensor '%s': %s", t->name, "the entry is not an object");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype))
        return bad(r, "tensor '%s': %s", t->name, "\"dtype\" is missing or not a string");
    if (strcmp(dtype->valuestring, "F32") != 0)
        return bad(r, "tensor '%s': dtype '%.40s' is not supported (gantry reads F32 only)",
                   t->name, dtype->valuestring);
    if (read_shape(r, t, cJSON_GetObjectItemCaseSensitive(entry, "shape")) != 0) return -1;
    return read_offsets(r, i, cJSON_GetObjectItemCaseSensitive(entry, "data_offsets"));
}

static int read_meta(reader *r, const cJSON *m) {
    if (!cJSON_IsObject(m)) return bad(r, "%s is not an object%s", META_KEY, "");
    gt_st_file *f = r->f;
    f->meta = calloc((size_t)cJSON_GetArraySize(m) + 1, sizeof *f->meta);
    if (!f->meta) return gt_error_set(r->err, "cannot read '%s': out of memory", r->path);
    for (const cJSON *kv = m->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv))
            return bad(r, "%s: the value of '%.200s' is not a string", META_KEY, kv->string);
        gt_st_kv *slot = &f->meta[f->n_meta];
        slot->key = strdup(kv->string);
        slot->value = strdup(kv->valuestring);
        f->n_meta++;
        if (!slot->key || !slot->value)
            return gt_error_set(r->err, "cannot read '%s': out of memory", r->path);
    }
    return 0;
}

static int cmp_range(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Ranges sorted by begin must not overlap (empty tensors overlap nothing). */
static int check_overlaps(reader *r) {
    int n = r->f->n;
    int64_t (*s)[3] = malloc((size_t)(n ? n : 1) * sizeof *s);
    if (!s) return gt_error_set(r->err, "cannot read '%s': out of memory", r->path);
    for (int i = 0; i < n; i++) {
        s[i][0] = r->range[2 * i];
        s[i][1] = r->range[2 * i + 1];
        s[i][2] = i;
    }
    qsort(s, (size_t)n, sizeof *s, cmp_range);
    int rc = 0, last = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        if (s[i][0] == s[i][1]) continue;
        if (last >= 0 && s[i][0] < s[last][1])
            rc = bad(r, "tensors '%s' and '%s' have overlapping data_offsets",
                     r->f->t[s[last][2]].name, r->f->t[s[i][2]].name);
        last = i;
    }
    free(s);
    return rc;
}

static int read_entries(reader *r, const cJSON *root) {
    if (!cJSON_IsObject(root)) return bad(r, "the header is %s%s", "not a JSON object", "");
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next) n += strcmp(e->string, META_KEY) != 0;
    r->f->t = calloc((size_t)n + 1, sizeof *r->f->t);
    r->range = calloc(2 * (size_t)n + 2, sizeof *r->range);
    if (!r->f->t || !r->range)
        return gt_error_set(r->err, "cannot read '%s': out of memory", r->path);
    for (const cJSON *e = root->child; e; e = e->next) {
        bool is_meta = strcmp(e->string, META_KEY) == 0;
        if (is_meta && r->f->meta) return bad(r, "%s %s", META_KEY, "appears twice");
        int rc = is_meta ? read_meta(r, e) : read_tensor(r, r->f->n++, e);
        if (rc != 0) return rc;
    }
    return check_overlaps(r);
}

/* Parses the header text; trailing bytes after the JSON object may only be spaces. */
static int parse_header(reader *r, const char *text, size_t len) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    size_t at = end ? (size_t)(end - text) : 0;
    if (root)
        while (at < len && (text[at] == ' ' || text[at] == '\0')) at++;
    if (!root || at < len) {
        cJSON_Delete(root);
        char where[64];
        snprintf(where, sizeof where, "%zu", 8 + at);
        return bad(r, "the JSON header is malformed at byte %s of the file%s", where, "");
    }
    int rc = read_entries(r, root);
    cJSON_Delete(root);
    return rc;
}

static int read_exact(reader *r, FILE *fp, void *buf, size_t n, const char *what) {
    if (n == 0 || fread(buf, 1, n, fp) == n) return 0;
    return gt_error_set(r->err, "cannot read %s of '%s': %s", what, r->path,
                        ferror(fp) ? strerror(errno) : "the file ended early (truncated)");
}

static int read_header_len(reader *r, FILE *fp, int64_t size, uint64_t *n) {
    unsigned char n8[8];
    if (size < 8)
        return bad(r, "it is truncated: %s%s", "shorter than the 8-byte header length", "");
    if (read_exact(r, fp, n8, 8, "the header length") != 0) return -1;
    *n = 0;
    for (int i = 0; i < 8; i++) *n |= (uint64_t)n8[i] << (8 * i);
    char detail[160];
    snprintf(detail, sizeof detail, "%llu, but the file has %lld bytes after it",
             (unsigned long long)*n, (long long)size - 8);
    if (*n > (uint64_t)size - 8) return bad(r, "the header length %s (truncated?)", detail, "");
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)*n);
    if (*n > GT_ST_HEADER_MAX)
        return bad(r, "the header length %s exceeds the %s limit", detail, "100 MB");
    return 0;
}

/* A stored checksum (metadata key) against the computed one; absent: nothing to check (files
 * from other tools, or from gantry before checksums). */
static int verify_one(reader *r, const char *key, uint32_t computed, const char *what, const char *name) {
    const char *stored = gt_st_meta(r->f, key);
    if (!stored) return 0;
    char want[9], detail[200];
    crc_text(want, computed);
    if (strcmp(stored, want) == 0) return 0;
    snprintf(detail, sizeof detail, "fails its checksum (crc32 stored '%.16s', computed %s): flipped "
             "bits on disk or in a copy", stored, want);
    char subject[GT_ST_NAME_MAX + 32];
    snprintf(subject, sizeof subject, what, name);
    return bad(r, "%s %s", subject, detail);
}

static int verify_checksums(reader *r) {
    char key[GT_ST_NAME_MAX + 16];
    int rc = verify_one(r, CRC_META, crc_meta(r->f->meta, r->f->n_meta), "the metadata%s", "");
    for (int i = 0; rc == 0 && i < r->f->n; i++) {
        snprintf(key, sizeof key, CRC_PREFIX "%s", r->f->t[i].name);
        rc = verify_one(r, key, crc_tensor(&r->f->t[i]), "tensor '%s'", r->f->t[i].name);
    }
    return rc;
}

static int read_file(reader *r, FILE *fp) {
    struct stat st;
    if (fstat(fileno(fp), &st) != 0)
        return gt_error_set(r->err, "cannot stat '%s': %s", r->path, strerror(errno));
    uint64_t n = 0;
    if (read_header_len(r, fp, (int64_t)st.st_size, &n) != 0) return -1;
    r->data_size = (int64_t)st.st_size - 8 - (int64_t)n;
    char *text = malloc(n + 1);
    r->f->data = malloc((size_t)r->data_size + 1);
    if (!text || !r->f->data) {
        free(text);
        return gt_error_set(r->err, "cannot read '%s': out of memory", r->path);
    }
    int rc = read_exact(r, fp, text, n, "the header");
    if (rc == 0) rc = parse_header(r, text, n);
    free(text);
    if (rc == 0) rc = read_exact(r, fp, r->f->data, (size_t)r->data_size, "the tensor data");
    for (int i = 0; rc == 0 && i < r->f->n; i++)
        r->f->t[i].data = (const float *)(r->f->data + r->range[2 * i]);
    if (rc == 0) rc = verify_checksums(r);
    return rc;
}

gt_st_file *gt_st_read(const char *path, gt_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        gt_error_set(err, "cannot open checkpoint '%s': %s%s", path, strerror(errno),
                     errno == ENOENT ? " (hint: check the path or the run folder)" : "");
        return NULL;
    }
    reader r = {.path = path, .err = err, .f = calloc(1, sizeof(gt_st_file))};
    int rc = r.f ? read_file(&r, fp) : gt_error_set(err, "cannot read '%s': out of memory", path);
    fclose(fp);
    free(r.range);
    if (rc != 0) {
        gt_st_free(r.f);
        return NULL;
    }
    return r.f;
}

int gt_st_count(const gt_st_file *f) { return f->n; }

const gt_st_tensor *gt_st_at(const gt_st_file *f, int i) {
    GT_CHECK(i >= 0 && i < f->n, "tensor index %d of %d", i, f->n);
    return &f->t[i];
}

const gt_st_tensor *gt_st_find(const gt_st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

const char *gt_st_meta(const gt_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

void gt_st_free(gt_st_file *f) {
    if (!f) return;
    free_meta(f->meta, f->n_meta);
    free(f->t);
    free(f->data);
    free(f);
}
