/* Reader for golden fixture files (.gtfx): named float32 tensors written by
 * tests/golden/make_fixtures.py. The format is described in tests/fixture.h; the whole file is
 * read and checked at load time so a corrupt fixture fails with the file, the offset and the cause. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GTFX_MAGIC "GTFX1\n"
#define GTFX_MAGIC_LEN 6
#define GTFX_MAX_NAME 1024

typedef struct {
    char *name;
    int ndim;
    int64_t shape[GT_MAX_DIMS];
    int64_t numel;
    float *data;
} gt_fixture_record;

struct gt_fixture {
    char *path;
    int count;
    gt_fixture_record *records;
};

/* A cursor over the file bytes; every read checks the bounds. */
typedef struct {
    const unsigned char *buf;
    size_t len, pos;
} gtfx_cursor;

static int cursor_u32(gtfx_cursor *c, uint32_t *out) {
    if (c->len - c->pos < 4) return 0;
    const unsigned char *p = c->buf + c->pos;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    c->pos += 4;
    return 1;
}

static int cursor_i64(gtfx_cursor *c, int64_t *out) {
    if (c->len - c->pos < 8) return 0;
    const unsigned char *p = c->buf + c->pos;
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = u << 8 | p[i];
    memcpy(out, &u, sizeof u);
    c->pos += 8;
    return 1;
}

static char *read_whole_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fixture %s: cannot open (run the tests from the repository root; "
                        "regenerate with /usr/bin/python3 tests/golden/make_fixtures.py)\n", path);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "fixture %s: out of memory reading %zu bytes\n", path, cap);
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        fprintf(stderr, "fixture %s: read error after %zu bytes\n", path, n);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

void gt_fixture_free(gt_fixture *f) {
    if (!f) return;
    for (int i = 0; i < f->count; i++) {
        free(f->records[i].name);
        free(f->records[i].data);
    }
    free(f->records);
    free(f->path);
    free(f);
}

/* Parses one record at c->pos into r; on failure prints why and returns 0. */
static int parse_record(const char *path, gtfx_cursor *c, gt_fixture_record *r) {
    size_t start = c->pos;
    uint32_t name_len, ndim;
    if (!cursor_u32(c, &name_len)) {
        fprintf(stderr, "fixture %s: offset %zu: truncated record header (name length)\n", path,
                start);
        return 0;
    }
    if (name_len == 0 || name_len > GTFX_MAX_NAME || c->len - c->pos < name_len) {
        fprintf(stderr, "fixture %s: offset %zu: bad name length %u (expected 1..%d within the "
                        "file)\n", path, start, (unsigned)name_len, GTFX_MAX_NAME);
        return 0;
    }
    r->name = malloc(name_len + 1);
    if (!r->name) {
        fprintf(stderr, "fixture %s: out of memory\n", path);
        return 0;
    }
    memcpy(r->name, c->buf + c->pos, name_len);
    r->name[name_len] = '\0';
    c->pos += name_len;
    if (!cursor_u32(c, &ndim) || ndim > GT_MAX_DIMS) {
        fprintf(stderr, "fixture %s: record '%s' at offset %zu: bad or missing ndim (expected "
                        "0..%d)\n", path, r->name, start, GT_MAX_DIMS);
        return 0;
    }
    r->ndim = (int)ndim;
    int64_t numel = 1;
    for (int i = 0; i < r->ndim; i++) {
        if (!cursor_i64(c, &r->shape[i]) || r->shape[i] < 0) {
            fprintf(stderr, "fixture %s: record '%s' at offset %zu: bad or missing shape[%d]\n",
                    path, r->name, start, i);
            return 0;
        }
        if (r->shape[i] > 0 && numel > (int64_t)((c->len - c->pos) / 4) / r->shape[i] + 1) {
            fprintf(stderr, "fixture %s: record '%s' at offset %zu: shape larger than the file\n",
                    path, r->name, start);
            return 0;
        }
        numel *= r->shape[i];
    }
    r->numel = numel;
    if ((uint64_t)numel > (c->len - c->pos) / 4) {
        fprintf(stderr, "fixture %s: record '%s' at offset %zu: truncated data (%lld floats "
                        "expected, %zu bytes left)\n", path, r->name, start, (long long)numel,
                c->len - c->pos);
        return 0;
    }
    r->data = malloc((size_t)(numel ? numel : 1) * sizeof(float));
    if (!r->data) {
        fprintf(stderr, "fixture %s: out of memory\n", path);
        return 0;
    }
    for (int64_t i = 0; i < numel; i++) {
        uint32_t bits = 0;
        cursor_u32(c, &bits); /* cannot fail: the length was checked above */
        memcpy(&r->data[i], &bits, sizeof bits);
    }
    return 1;
}

gt_fixture *gt_fixture_load(const char *path) {
    size_t len = 0;
    char *buf = read_whole_file(path, &len);
    if (!buf) return NULL;
    gt_fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->path = malloc(strlen(path) + 1))) {
        fprintf(stderr, "fixture %s: out of memory\n", path);
        free(f);
        free(buf);
        return NULL;
    }
    strcpy(f->path, path);
    if (len < GTFX_MAGIC_LEN || memcmp(buf, GTFX_MAGIC, GTFX_MAGIC_LEN) != 0) {
        fprintf(stderr, "fixture %s: offset 0: not a fixture file (expected magic \"GTFX1\\n\")\n",
                path);
        goto fail;
    }
    gtfx_cursor c = {(const unsigned char *)buf, len, GTFX_MAGIC_LEN};
    int cap = 0;
    while (c.pos < c.len) {
        if (f->count == cap) {
            cap = cap ? 2 * cap : 32;
            gt_fixture_record *nr = realloc(f->records, (size_t)cap * sizeof *nr);
            if (!nr) {
                fprintf(stderr, "fixture %s: out of memory\n", path);
                goto fail;
            }
            f->records = nr;
        }
        gt_fixture_record *r = &f->records[f->count];
        memset(r, 0, sizeof *r);
        f->count++; /* counted before parsing so gt_fixture_free releases a half-read record */
        if (!parse_record(path, &c, r)) goto fail;
        for (int i = 0; i < f->count - 1; i++) {
            if (strcmp(f->records[i].name, r->name) == 0) {
                fprintf(stderr, "fixture %s: record '%s' appears twice\n", path, r->name);
                goto fail;
            }
        }
    }
    free(buf);
    return f;
fail:
    free(buf);
    gt_fixture_free(f);
    return NULL;
}

static const gt_fixture_record *find_record(const gt_fixture *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->records[i].name, name) == 0) return &f->records[i];
    return NULL;
}

int gt_fixture_has(const gt_fixture *f, const char *name) {
    return f && find_record(f, name) != NULL;
}

gt_tensor *gt_fixture_get(gt_fixture *f, const char *name) {
    if (!f) {
        fprintf(stderr, "gt_fixture_get('%s'): no fixture (it failed to load)\n", name);
        abort();
    }
    const gt_fixture_record *r = find_record(f, name);
    if (!r) {
        fprintf(stderr, "fixture %s: no tensor named '%s' (regenerate the fixtures with "
                        "/usr/bin/python3 tests/golden/make_fixtures.py)\n", f->path, name);
        abort();
    }
    return gt_from_data(r->ndim, r->shape, r->data);
}
