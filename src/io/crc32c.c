/* CRC-32C, table-driven (one byte a step): the table holds the CRC of each byte value under the
 * reflected Castagnoli polynomial, built on first use. */
#include "io/crc32c.h"

#include <pthread.h>

#define CASTAGNOLI_REFLECTED 0x82F63B78u

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* table[b] = the remainder of b shifted through 8 steps of the bitwise algorithm. */
static void build_table(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t r = b;
        for (int k = 0; k < 8; k++) r = (r >> 1) ^ (r & 1 ? CASTAGNOLI_REFLECTED : 0);
        table[b] = r;
    }
}

uint32_t gt_crc32c_extend(uint32_t crc, const void *data, size_t n) {
    pthread_once(&table_once, build_table);
    const unsigned char *p = data;
    uint32_t r = ~crc;
    for (size_t i = 0; i < n; i++) r = (r >> 8) ^ table[(r ^ p[i]) & 0xff];
    return ~r;
}

uint32_t gt_crc32c(const void *data, size_t n) { return gt_crc32c_extend(0, data, n); }

uint32_t gt_crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
