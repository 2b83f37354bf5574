/* CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF),
 * the checksum of TensorFlow's record files, which zlib's CRC-32 is not; and the "masked" form
 * those files store: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
#ifndef GT_IO_CRC32C_H
#define GT_IO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes; crc32c("123456789") = 0xE3069283. */
uint32_t gt_crc32c(const void *data, size_t n);
/* Continues a CRC-32C over more bytes: gt_crc32c_extend(gt_crc32c(a), b) = crc32c(a b). */
uint32_t gt_crc32c_extend(uint32_t crc, const void *data, size_t n);
/* The masked CRC a TFRecord stores (rotated right by 15 and offset, so that a CRC computed over
 * data that itself holds CRCs does not degenerate). */
uint32_t gt_crc32c_mask(uint32_t crc);

#endif
