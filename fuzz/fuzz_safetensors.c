/* The safetensors reader (checkpoints, classifier weights): any bytes give a file whose every
 * tensor lies inside it, or an error. */
#include "fuzz_support.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gt_error err;
    gt_st_file *f = gt_st_read(fuzz_file("x.safetensors", data, size), &err);
    if (!f) return 0;
    volatile float sink = 0;
    for (int i = 0; i < gt_st_count(f); i++) {
        const gt_st_tensor *t = gt_st_at(f, i);
        if (t->numel) sink += t->data[0] + t->data[t->numel - 1];
    }
    (void)gt_st_meta(f, "format");
    gt_st_free(f);
    return 0;
}
