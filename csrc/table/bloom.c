/* bloom.c: the whole-table bloom filter over user keys.
 *
 * Layout: bit array (n bytes, n >= 8) | u8 k, the number of probes.
 * k = bits_per_key * ln 2, clamped to 1..30; a filter with k > 30 is reserved for
 * other schemes and, like any malformed filter, answers "may match".
 * Probing uses double hashing over one 32-bit hash h: probe i tests bit
 * (h + i * delta) mod nbits with delta = h rotated right by 17.
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

int lt_bloom_build_hashes(const unsigned *hashes, size_t n, int bits_per_key, lt_buf *buf) {
    if (bits_per_key < 1) bits_per_key = 1;
    int k = (int)(bits_per_key * 0.69); /* ln 2 */
    if (k < 1) k = 1;
    if (k > 30) k = 30;
    size_t bits = n * (size_t)bits_per_key;
    if (bits < 64) bits = 64; /* tiny sets: keep the false-positive rate down */
    size_t bytes = (bits + 7) / 8;
    bits = bytes * 8;
    size_t base = buf->size;
    if (lt_buf_reserve(buf, bytes + 1) != LT_OK)
        return lt_seterr(LT_ENOMEM, "bloom filter: out of memory for %zu bytes", bytes);
    unsigned char *a = (unsigned char *)buf->data + base;
    memset(a, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        uint32_t h = hashes[i];
        uint32_t delta = (h >> 17) | (h << 15);
        for (int j = 0; j < k; j++) {
            size_t pos = h % bits;
            a[pos / 8] |= (unsigned char)(1u << (pos % 8));
            h += delta;
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
    if (k < 1 || k > 30) return 1;
    size_t bits = bytes * 8;
    uint32_t h = lt_bloom_hash(key);
    uint32_t delta = (h >> 17) | (h << 15);
    for (int j = 0; j < k; j++) {
        size_t pos = h % bits;
        if (!(a[pos / 8] & (1u << (pos % 8)))) return 0;
        h += delta;
    }
    return 1;
}
