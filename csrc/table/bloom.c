/* bloom.c: the whole-table bloom filter over user keys.
 *
 * Layout: bit array (n bytes, n a multiple of 64) | u8 k, the number of probes.
 * k = bits_per_key * ln 2, clamped to 1..30; a filter with k > 30 is reserved for
 * other schemes and, like any malformed filter, answers "may match".
 * The filter is blocked: all k probes of a key fall in one 64-byte line, so a lookup
 * touches one cache line instead of k (this costs a little in false positives:
 * about 1% at 10 bits per key instead of 0.8%). From the key's 32-bit hash h:
 *   line  = h * nlines / 2^32                      (multiply-shift, no division)
 *   g     = (h * 0x9e3779b1) xor-shifted right 16  (a second hash for inside the line)
 *   delta = (g rotated right by 17) | 1
 *   probe i tests bit (g + i * delta) mod 512 of the line (double hashing).
 *
 * The hash is our own murmur-style mix: 4-byte little-endian words are multiplied,
 * rotated and folded into the state, the tail likewise, then a final avalanche so
 * that every input bit affects every output bit. Its value is part of the on-disk
 * format (filters store its bits): never change it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bloom.h"
#include "../util/coding.h"
#include "../util/status.h"

#define BLOOM_SEED 0x4c744231u
#define MIX1 0xcc9e2d51u
#define MIX2 0x1b873593u

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint32_t mix_word(uint32_t w) {
    w *= MIX1;
    w = rotl32(w, 15);
    return w * MIX2;
}

unsigned lt_bloom_hash(lt_slice key) {
    const char *p = key.data;
    size_t n = key.size;
    uint32_t h = BLOOM_SEED ^ (uint32_t)n;
    for (; n >= 4; n -= 4, p += 4) {
        h ^= mix_word(lt_get_fixed32(p));
        h = rotl32(h, 13) * 5 + 0xe6546b64u;
    }
    uint32_t tail = 0;
    switch (n) {
    case 3: tail |= (uint32_t)(unsigned char)p[2] << 16; /* fall through */
    case 2: tail |= (uint32_t)(unsigned char)p[1] << 8;  /* fall through */
    case 1: tail |= (uint32_t)(unsigned char)p[0];
            h ^= mix_word(tail);
            break;
    default: break;
    }
    /* final avalanche */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

#define LINE_BYTES 64
#define LINE_BITS (LINE_BYTES * 8)

/* The line of a key, and the start and step of its probes inside the line. */
static inline size_t bloom_line(uint32_t h, size_t nlines, uint32_t *g, uint32_t *delta) {
    uint32_t x = h * 0x9e3779b1u;
    x ^= x >> 16;
    *g = x;
    *delta = ((x >> 17) | (x << 15)) | 1u;
    return (size_t)(((uint64_t)h * nlines) >> 32);
}

int lt_bloom_build_hashes(const unsigned *hashes, size_t n, int bits_per_key, lt_buf *buf) {
    if (bits_per_key < 1) bits_per_key = 1;
    int k = (int)(bits_per_key * 0.69); /* ln 2 */
    if (k < 1) k = 1;
    if (k > 30) k = 30;
    size_t bits = n * (size_t)bits_per_key;
    size_t nlines = (bits + LINE_BITS - 1) / LINE_BITS;
    if (nlines < 1) nlines = 1;
    if (nlines > UINT32_MAX) nlines = UINT32_MAX; /* more keys only raise the rate */
    size_t bytes = nlines * LINE_BYTES;
    size_t base = buf->size;
    if (lt_buf_reserve(buf, bytes + 1) != LT_OK)
        return lt_seterr(LT_ENOMEM, "bloom filter: out of memory for %zu bytes", bytes);
    unsigned char *a = (unsigned char *)buf->data + base;
    memset(a, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        uint32_t g, delta;
        unsigned char *line = a + bloom_line(hashes[i], nlines, &g, &delta) * LINE_BYTES;
        for (int j = 0; j < k; j++) {
            uint32_t pos = g % LINE_BITS;
            line[pos / 8] |= (unsigned char)(1u << (pos % 8));
            g += delta;
        }
    }
    a[bytes] = (unsigned char)k;
    buf->size = base + bytes + 1;
    return LT_OK;
}

int lt_bloom_build(const lt_slice *keys, size_t n, int bits_per_key, lt_buf *buf) {
    unsigned *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) return lt_seterr(LT_ENOMEM, "bloom filter: out of memory for %zu keys", n);
    for (size_t i = 0; i < n; i++) h[i] = lt_bloom_hash(keys[i]);
    int rc = lt_bloom_build_hashes(h, n, bits_per_key, buf);
    free(h);
    return rc;
}

int lt_bloom_may_match(lt_slice filter, lt_slice key) {
    if (filter.size < 2) return 1;
    const unsigned char *a = (const unsigned char *)filter.data;
    size_t bytes = filter.size - 1;
    int k = a[bytes];
    if (k < 1 || k > 30 || bytes % LINE_BYTES != 0) return 1;
    uint32_t g, delta;
    size_t li = bloom_line(lt_bloom_hash(key), bytes / LINE_BYTES, &g, &delta);
    const unsigned char *line = a + li * LINE_BYTES;
    for (int j = 0; j < k; j++) {
        uint32_t pos = g % LINE_BITS;
        if (!(line[pos / 8] & (1u << (pos % 8)))) return 0;
        g += delta;
    }
    return 1;
}
