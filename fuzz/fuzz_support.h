/* Shared by the libFuzzer harnesses (make fuzz): gantry's readers take paths, so each input is
 * written to a scratch file (or folder) of this process first. */
#ifndef GT_FUZZ_SUPPORT_H
#define GT_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* The input in a scratch file named `name` (a fixed path per process); returns the path. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);
/* A scratch folder per process (created once), for readers of folders. */
const char *fuzz_dir(void);

#endif
