/* fuzz_table.c: the table reader (table/table.c, format.c, block.c, bloom.c) on
 * arbitrary file bytes: open (footer, index and filter blocks), full iteration
 * forward and backward, seeks and point lookups.
 *
 * Each input is read three ways: as given, without a codec or cache (most mutations
 * stop at a checksum); with every block trailer CRC recomputed and the zstd codec and
 * a small block cache (reaching the block parsers and the decompression path); and
 * with recomputed CRCs but no codec (compressed blocks must then fail cleanly).
 * Corrupt tables may yield any entries, in any order: what is checked is memory
 * safety, no leaks, and that an error stops an iterator with a message. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../db/dbformat.h"
#include "../table/cache.h"
#include "../table/table.h"
#include "../util/status.h"

#define MAX_STEPS 20000
#define MAX_KEYS 16

typedef struct keys {
    int n;
    lt_buf k[MAX_KEYS];
} keys;

static void keep(keys *ks, lt_slice k) {
    if (ks->n >= MAX_KEYS) return;
    lt_buf *b = &ks->k[ks->n];
    b->size = 0;
    if (lt_buf_append(b, k.data, k.size) == LT_OK) ks->n++;
}

static void saver(void *arg, lt_slice k, lt_slice v) {
    (void)arg;
    fuzz_touch(k);
    fuzz_touch(v);
}

static void check_status(lt_iter *it) {
    int st = lt_iter_status(it);
    if (st != LT_OK && lt_iter_valid(it)) fuzz_fail("iterator valid with status %d", st);
}

/* Seek to t, then step a little both ways. */
static void seek_around(lt_iter *it, lt_slice t) {
    lt_iter_seek(it, t);
    for (int i = 0; i < 3 && lt_iter_valid(it); i++) {
        fuzz_touch(lt_iter_key(it));
        lt_iter_next(it);
    }
    check_status(it);
    lt_iter_seek(it, t);
    for (int i = 0; i < 3 && lt_iter_valid(it); i++) {
        fuzz_touch(lt_iter_value(it));
        lt_iter_prev(it);
    }
    check_status(it);
}

static void check(const uint8_t *data, size_t n, const lt_codec *codec, int cached) {
    lt_table_options o = { 4096, 16, 10, codec };
    lt_cache *cache = cached ? lt_cache_new(16u << 10) : NULL;
    lt_rfile *f = fuzz_open_file("/fuzz/000007.ldt", data, n);
    lt_table *t = NULL;
    if (lt_table_open(&o, f, 7, n, cache, "000007.ldt", &t) != LT_OK) {
        if (!lt_errmsg()[0]) fuzz_fail("table open failed without a message");
        lt_cache_free(cache);
        return;
    }
    keys ks = {0};
    lt_iter *it = cached ? lt_table_iter_fill(t, 2) : lt_table_iter(t);
    if (it) {
        int steps = 0;
        for (lt_iter_seek_first(it); lt_iter_valid(it) && steps < MAX_STEPS; lt_iter_next(it)) {
            lt_slice k = lt_iter_key(it);
            fuzz_touch(k);
            fuzz_touch(lt_iter_value(it));
            if (steps++ % 7 == 0) keep(&ks, k);
        }
        check_status(it);
        steps = 0;
        for (lt_iter_seek_last(it); lt_iter_valid(it) && steps < MAX_STEPS; lt_iter_prev(it)) {
            lt_slice k = lt_iter_key(it);
            fuzz_touch(k);
            fuzz_touch(lt_iter_value(it));
            if (steps++ % 11 == 0) keep(&ks, k);
        }
        check_status(it);
        for (int i = 0; i < ks.n; i++)
            seek_around(it, lt_slice_make(ks.k[i].data, ks.k[i].size));
        /* targets that are no stored key: empty, short, and past a key */
        seek_around(it, lt_slice_make("", 0));
        seek_around(it, lt_slice_make("abc", 3));
        seek_around(it, lt_slice_make("\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9));
        lt_iter_destroy(it);
    }
    for (int i = 0; i < ks.n; i++) {
        lt_slice k = lt_slice_make(ks.k[i].data, ks.k[i].size);
        lt_table_get(t, k, 1, NULL, saver);
        lt_table_get(t, k, 0, NULL, saver);
        if (k.size >= 8) {  /* the same user key at the newest sequence */
            char probe[300];
            size_t u = k.size - 8 < sizeof probe - 8 ? k.size - 8 : sizeof probe - 8;
            memcpy(probe, k.data, u);
            memset(probe + u, 0xff, 8);
            lt_table_get(t, lt_slice_make(probe, u + 8), 1, NULL, saver);
        }
        lt_buf_free(&ks.k[i]);
    }
    lt_table_get(t, lt_slice_make("short", 5), 1, NULL, saver);
    lt_table_get(t, lt_slice_make("\0\0\0\0\0\0\0\0", 8), 1, NULL, saver);
    lt_table_free(t);
    lt_cache_free(cache);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size, NULL, 0);
    uint8_t *fixed = malloc(size ? size : 1);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    fuzz_repair_table(fixed, size);
    const lt_codec *zstd = fuzz_zstd();
    if (zstd) check(fixed, size, zstd, 1);
    if (memcmp(fixed, data, size) != 0) check(fixed, size, NULL, 0);
    free(fixed);
    return 0;
}
