/* crc32c.h: CRC-32C (Castagnoli), used on every log record and table block.
 * Stored CRCs are masked (rotated and offset, as LevelDB does) so that a CRC computed
 * over data that itself contains CRCs does not degenerate. */
#ifndef LT_CRC32C_H
#define LT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC of data[0..n) continued from `init` (0 for a fresh CRC). Thread-safe. */
uint32_t lt_crc32c_extend(uint32_t init, const void *data, size_t n);
static inline uint32_t lt_crc32c(const void *data, size_t n) { return lt_crc32c_extend(0, data, n); }
/* The portable table implementation, whatever the CPU (tests compare it with the
 * default path), and 1 if the default path uses the CPU's crc32 instruction. */
uint32_t lt_crc32c_extend_portable(uint32_t init, const void *data, size_t n);
int lt_crc32c_hardware(void);

#define LT_CRC_MASK_DELTA 0xa282ead8u
static inline uint32_t lt_crc_mask(uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + LT_CRC_MASK_DELTA;
}
static inline uint32_t lt_crc_unmask(uint32_t m) {
    uint32_t rot = m - LT_CRC_MASK_DELTA;
    return ((rot >> 17) | (rot << 15));
}

#endif
