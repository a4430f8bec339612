/* fuzz_bloom.c: the bloom filter (table/bloom.c) probed on arbitrary filter bytes, as
 * a table's filter block would present them, and built over keys cut from the input.
 *
 * Input: byte 0 = length L of a probe key, bytes 1..L = the key, the rest = a filter.
 * Promises checked, besides memory safety: probing any bytes returns 0 or 1, and a
 * filter built over some keys (the rest cut at each '\n', bits per key from byte 0,
 * out-of-range values included) admits every one of them: no false negatives. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../table/bloom.h"
#include "../util/status.h"

#define MAX_KEYS 512

static void probe(lt_slice filter, lt_slice key) {
    int r = lt_bloom_may_match(filter, key);
    if (r != 0 && r != 1) fuzz_fail("may_match returned %d", r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t kl = data[0] < size - 1 ? data[0] : size - 1;
    lt_slice key = lt_slice_make(data + 1, kl);
    lt_slice filter = lt_slice_make(data + 1 + kl, size - 1 - kl);
    probe(filter, key);
    probe(filter, lt_slice_make("", 0));
    for (size_t i = 0; i + 4 <= filter.size && i < 64; i += 4)
        probe(filter, lt_slice_make(filter.data + i, 4));

    lt_slice keys[MAX_KEYS];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= filter.size && n < MAX_KEYS; i++) {
        if (i == filter.size || filter.data[i] == '\n') {
            keys[n++] = lt_slice_make(filter.data + start, i - start);
            start = i + 1;
        }
    }
    int bits = (int)(data[0] % 40) - 4;
    lt_buf built = {0};
    if (lt_bloom_build(keys, n, bits, &built) != LT_OK) fuzz_fail("bloom build: %s", lt_errmsg());
    lt_slice bf = lt_slice_make(built.data, built.size);
    for (size_t i = 0; i < n; i++)
        if (!lt_bloom_may_match(bf, keys[i])) fuzz_fail("false negative for key %zu of %zu", i, n);
    probe(bf, key);
    lt_buf_free(&built);
    return 0;
}
