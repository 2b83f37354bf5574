/* The .npy reader (gantry eval --samples). */
#include <stdlib.h>

#include "fuzz_support.h"
#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gt_error err;
    int64_t shape[GT_MAX_DIMS];
    int nd;
    free(gt_npy_read(fuzz_file("x.npy", data, size), &nd, shape, &err));
    return 0;
}
