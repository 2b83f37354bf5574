/* The IDX reader, plain and gzip (the magic 1f 8b selects zlib): the input as an images file,
 * and as a labels file beside a valid one-image images file. */
#include "data/data.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const uint8_t one_image[16 + 4] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2};
    gt_error err;
    gt_dataset_free(gt_data_load_idx(fuzz_file("images", data, size), NULL, &err));
    const char *labels = fuzz_file("labels", data, size);
    gt_dataset_free(gt_data_load_idx(fuzz_file("one-image", one_image, sizeof one_image), labels, &err));
    return 0;
}
