/* crc32c.c: computing CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Two implementations give identical results:
 *   - hardware: the SSE4.2 crc32 instruction, 8 bytes per step, on x86-64 CPUs that
 *     have it (checked at run time with __builtin_cpu_supports);
 *   - portable: "slicing-by-8", eight 256-entry tables so that one step folds 8 input
 *     bytes with 8 table lookups. Table k maps a byte b to the CRC register contents
 *     after b is followed by k zero bytes.
 * The tables and the choice between the two are made once, under pthread_once, on the
 * first call; after that every call is lock-free. The CRC register starts at ~init and
 * is inverted on return, so lt_crc32c_extend(0, ...) is the standard CRC-32C and
 * extending in pieces equals one call over the concatenation. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LT_CRC_HAVE_SSE42 1
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_impl)(uint32_t reg, const unsigned char *p, size_t n);

static inline uint32_t load32le(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Portable slicing-by-8 over the raw (already inverted) register. */
static uint32_t crc_sw(uint32_t reg, const unsigned char *p, size_t n) {
    /* Byte at a time up to an 8-byte address boundary (cheaper loads after). */
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        reg = crc_tab[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = reg ^ load32le(p);
        uint32_t hi = load32le(p + 4);
        reg = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
              crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
              crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        reg = crc_tab[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
        n--;
    }
    return reg;
}

#ifdef LT_CRC_HAVE_SSE42
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t reg, const unsigned char *p, size_t n) {
    while (n > 0 && ((uintptr_t)p & 7) != 0) {
        reg = _mm_crc32_u8(reg, *p++);
        n--;
    }
    uint64_t r64 = reg;
    while (n >= 32) { /* unrolled: the instruction has a 3-cycle latency */
        uint64_t w0, w1, w2, w3;
        memcpy(&w0, p, 8); memcpy(&w1, p + 8, 8);
        memcpy(&w2, p + 16, 8); memcpy(&w3, p + 24, 8);
        r64 = _mm_crc32_u64(r64, w0);
        r64 = _mm_crc32_u64(r64, w1);
        r64 = _mm_crc32_u64(r64, w2);
        r64 = _mm_crc32_u64(r64, w3);
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        r64 = _mm_crc32_u64(r64, w);
        p += 8;
        n -= 8;
    }
    reg = (uint32_t)r64;
    while (n > 0) {
        reg = _mm_crc32_u8(reg, *p++);
        n--;
    }
    return reg;
}
#endif

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc_tab[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (int i = 0; i < 256; i++) {
            uint32_t prev = crc_tab[t - 1][i];
            crc_tab[t][i] = crc_tab[0][prev & 0xff] ^ (prev >> 8);
        }
    crc_impl = crc_sw;
#ifdef LT_CRC_HAVE_SSE42
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) crc_impl = crc_hw;
#endif
}

uint32_t lt_crc32c_extend(uint32_t init, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    return ~crc_impl(~init, (const unsigned char *)data, n);
}

uint32_t lt_crc32c_extend_portable(uint32_t init, const void *data, size_t n) {
    pthread_once(&crc_once, crc_init);
    return ~crc_sw(~init, (const unsigned char *)data, n);
}

int lt_crc32c_hardware(void) {
    pthread_once(&crc_once, crc_init);
    return crc_impl != crc_sw;
}
