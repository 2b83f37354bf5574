/* The INI parser with command-line overrides: the input up to its first 0xff byte is an INI
 * file, each line after it an override (section.key=value). */
#include <string.h>

#include "fuzz_support.h"
#include "io/config.h"
#include "train/registries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *cut = memchr(data, 0xff, size);
    size_t ini = cut ? (size_t)(cut - data) : size;
    gt_config cfg;
    gt_error err;
    gt_registries_install(); /* the dataset, family and loss names the configuration checks */
    gt_config_defaults(&cfg);
    gt_config_load_file(&cfg, fuzz_file("x.ini", data, ini), &err);
    char line[512];
    for (size_t at = ini + 1; cut && at < size;) {
        const uint8_t *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size, n = end - at < sizeof line ? end - at : sizeof line - 1;
        memcpy(line, data + at, n);
        line[n] = '\0';
        gt_config_set(&cfg, line, "fuzz", &err);
        at = end + 1;
    }
    return 0;
}
