/* A PNG through the PNG folder loader (as gray and as RGB, resized to 8 x 8): the harness's
 * scratch folder holds that one file. */
#include "data/data.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gt_error err;
    fuzz_file("a.png", data, size);
    gt_dataset_free(gt_data_load_png_dir(fuzz_dir(), 1, 8, &err));
    gt_dataset_free(gt_data_load_png_dir(fuzz_dir(), 3, 8, &err));
    return 0;
}
