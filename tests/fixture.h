/* Reader for the golden fixture files (tests/golden/NAME.gtfx) that tests/golden/make_fixtures.py
 * writes with PyTorch. A fixture is a list of named float32 tensors.
 *
 * File format, all little endian:
 *   magic   6 bytes  "GTFX1\n"
 *   records until end of file, each:
 *     u32  name length, then that many bytes of name (no terminator)
 *     u32  ndim (0 for a scalar, at most GT_MAX_DIMS)
 *     i64  shape[ndim]
 *     f32  data[prod(shape)]   row-major */
#ifndef GT_FIXTURE_H
#define GT_FIXTURE_H

#include "gantry.h"

typedef struct gt_fixture gt_fixture;

/* Reads a whole fixture file (paths are relative to the repository root, where make runs the
 * tests). Returns NULL after a message on stderr naming the file and what is wrong. */
gt_fixture *gt_fixture_load(const char *path);
/* The tensor called name as a new step-arena tensor (gt_from_data; no grad). Aborts the test
 * program with a message naming the file and the tensor when there is no such record. */
gt_tensor *gt_fixture_get(gt_fixture *f, const char *name);
/* Whether a record called name exists. */
int gt_fixture_has(const gt_fixture *f, const char *name);
void gt_fixture_free(gt_fixture *f);

#endif
