/* gantry export --format web: a folder that runs G in the browser. index.html (the page of
 * src/export/web/index.html, embedded at build time as gt_web_page_lines), generator.onnx,
 * model.json (what the page needs to know of G) and ONNX Runtime Web's script and wasm, copied
 * from the npm package onnxruntime-web so that the page needs nothing from the network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export/export.h"
#include "io/atomic.h"
#include "io/files.h"

/* The page, line by line (generated from src/export/web/index.html by the Makefile). */
extern const char *const gt_web_page_lines[];

/* The runtime files the page loads: the wasm-only bundle, its loader module and the wasm. */
static const char *const runtime_files[] = {"ort.wasm.min.js", "ort-wasm-simd-threaded.mjs",
                                            "ort-wasm-simd-threaded.wasm"};
#define N_RUNTIME_FILES (sizeof runtime_files / sizeof runtime_files[0])
#define ORT_WEB_ENV "GANTRY_ORT_WEB"

/* Where onnxruntime-web's dist/ folder is looked for when neither --ort-web nor $GANTRY_ORT_WEB
 * names it: a package installed in the current folder, the test tools' (tests/npm), and npm's
 * global folders. */
static const char *const ort_candidates[] = {
    "node_modules/onnxruntime-web/dist", "tests/npm/node_modules/onnxruntime-web/dist",
    "/usr/local/lib/node_modules/onnxruntime-web/dist", "/usr/lib/node_modules/onnxruntime-web/dist"};
#define N_CANDIDATES (sizeof ort_candidates / sizeof ort_candidates[0])

static bool has_runtime(const char *dir) {
    char path[GT_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, runtime_files[0]);
    return access(path, R_OK) == 0;
}

/* The dist/ folder to copy from, or NULL with err saying where it looked and what to do. */
static const char *find_runtime(const char *given, gt_error *err) {
    if (!given) given = getenv(ORT_WEB_ENV);
    if (given) {
        if (has_runtime(given)) return given;
        gt_error_set(err, "%s: no %s there; --ort-web (or $%s) must name the dist/ folder of the "
                          "npm package onnxruntime-web", given, runtime_files[0], ORT_WEB_ENV);
        return NULL;
    }
    for (size_t i = 0; i < N_CANDIDATES; i++)
        if (has_runtime(ort_candidates[i])) return ort_candidates[i];
    gt_error_set(err, "export --format web copies ONNX Runtime Web from the npm package "
                      "onnxruntime-web, which is not installed: run `npm install "
                      "onnxruntime-web@1.20.1` here (or npm install --prefix tests/npm in gantry's "
                      "source), or pass --ort-web DIR (the package's dist/ folder); looked in %s, %s, "
                      "%s and %s", ort_candidates[0], ort_candidates[1], ort_candidates[2],
                  ort_candidates[3]);
    return NULL;
}

static int make_folder(const char *dir, gt_error *err) {
    if (mkdir(dir, 0755) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        return gt_error_set(err, "%s: exists and is not a folder", dir);
    }
    return gt_error_set(err, "%s: cannot create the folder: %s", dir, strerror(errno));
}

/* Writes `len` bytes to dir/name atomically. */
static int write_bytes(const char *dir, const char *name, const void *data, size_t len, gt_error *err) {
    char path[GT_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    fwrite(data, 1, len, f);
    return gt_atomic_commit(&a, err);
}

static int write_page(const char *dir, gt_error *err) {
    char path[GT_PATH_MAX];
    snprintf(path, sizeof path, "%s/index.html", dir);
    gt_atomic a;
    FILE *f = gt_atomic_open(path, &a, err);
    if (!f) return -1;
    for (int i = 0; gt_web_page_lines[i]; i++) fputs(gt_web_page_lines[i], f);
    return gt_atomic_commit(&a, err);
}

static int write_model_json(const char *dir, const gt_export_info *info, gt_error *err) {
    char json[512];
    int n = snprintf(json, sizeof json,
                     "{\"family\": \"%s\", \"z_dim\": %lld, \"classes\": %d, \"truncation\": %s, "
                     "\"points\": %s, \"channels\": %d, \"height\": %d, \"width\": %d}\n",
                     info->family, (long long)info->z_dim, info->n_classes,
                     info->truncation ? "true" : "false", info->points ? "true" : "false", info->c,
                     info->h, info->w);
    return write_bytes(dir, "model.json", json, (size_t)n, err);
}

static int copy_runtime(const char *from, const char *dir, gt_error *err) {
    for (size_t i = 0; i < N_RUNTIME_FILES; i++) {
        char path[GT_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", from, runtime_files[i]);
        size_t len;
        char *data = gt_read_file(path, (size_t)1 << 30, &len);
        if (!data)
            return gt_error_set(err, "%s: cannot read ONNX Runtime Web's file: %s (the page needs "
                                     "it; is onnxruntime-web 1.20 installed whole?)", path, strerror(errno));
        int rc = write_bytes(dir, runtime_files[i], data, len, err);
        free(data);
        if (rc < 0) return -1;
    }
    return 0;
}

int gt_export_web(gt_trainer *t, const gt_export_options *o, const char *dir, const char *ort_dir,
                  gt_error *err) {
    const char *runtime = find_runtime(ort_dir, err);
    if (!runtime || make_folder(dir, err) < 0) return -1;
    char model[GT_PATH_MAX];
    snprintf(model, sizeof model, "%s/generator.onnx", dir);
    gt_export_info info;
    if (gt_export_onnx(t, o, model, &info, err) < 0) return -1;
    if (write_model_json(dir, &info, err) < 0 || write_page(dir, err) < 0) return -1;
    return copy_runtime(runtime, dir, err);
}
