/* fuzz_block.c: the block parser and cursor (table/block.c) on arbitrary block
 * contents, without the file and checksum around them: lt_block_new's validation of
 * the restart array, iteration both ways, seeks, and the seek fence of index blocks.
 *
 * Promises checked, besides memory safety and no leaks: a cursor that stops with an
 * error is not valid and has a message; and when the block is well formed (every
 * entry parses and the keys are in strictly increasing internal-key order) a seek
 * lands on the same entry with the fence (lt_block_build_fence) as without it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../table/block.h"
#include "../util/coding.h"
#include "../util/status.h"

#define MAX_STEPS 20000
#define MAX_KEYS 64

static int bytewise(lt_slice a, lt_slice b) { return lt_slice_cmp(a, b); }

typedef struct walk {
    int n, sorted;
    lt_buf k[MAX_KEYS];
} walk;

static void stopped(const lt_block_cursor *c) {
    if (c->status != LT_OK && (lt_block_cursor_valid(c) || !lt_errmsg()[0]))
        fuzz_fail("cursor stopped with status %d but valid or without a message", c->status);
}

/* Forward and backward over b (parsed from data[0, n)) with cmp; keeps some keys in
 * w and notes whether the block is well formed: every entry parses, keys strictly
 * increase (internal keys of at least 8 bytes with the internal-key order), and every
 * restart point is the start of an entry holding its key whole. */
static void traverse(const uint8_t *data, size_t n, const lt_block *b, lt_cmp_fn cmp,
                     walk *w) {
    lt_block_cursor c;
    lt_buf prev = {0};
    int steps = 0, have_prev = 0;
    uint32_t nr = lt_get_fixed32((const char *)data + n - 4), r = 0;
    const char *restarts = (const char *)data + n - 4 - 4 * (size_t)nr;
    w->sorted = 1;
    lt_block_cursor_init(&c, b, cmp);
    for (lt_block_cursor_seek_first(&c); lt_block_cursor_valid(&c) && steps < MAX_STEPS;
         lt_block_cursor_next(&c), steps++) {
        fuzz_touch(c.key);
        fuzz_touch(c.value);
        while (r < nr && lt_get_fixed32(restarts + 4 * (size_t)r) < c.cur) {
            w->sorted = 0;                      /* a restart inside an entry */
            r++;
        }
        if (r < nr && lt_get_fixed32(restarts + 4 * (size_t)r) == c.cur) {
            uint32_t shared;
            const char *e = (const char *)data + c.cur;
            if (!lt_get_varint32(e, (const char *)data + n, &shared) || shared != 0)
                w->sorted = 0;
            r++;
        }
        if (cmp == lt_block_ikey_cmp && c.key.size < 8) w->sorted = 0;
        lt_slice p = lt_slice_make(prev.data, prev.size);
        if (have_prev && cmp(p, c.key) >= 0) w->sorted = 0;
        prev.size = 0;
        if (lt_buf_append(&prev, c.key.data, c.key.size)) w->sorted = 0;
        have_prev = 1;
        if (w->n < MAX_KEYS && steps % 3 == 0) {
            w->k[w->n].size = 0;
            if (lt_buf_append(&w->k[w->n], c.key.data, c.key.size) == LT_OK) w->n++;
        }
    }
    if (c.status != LT_OK || steps >= MAX_STEPS || r < nr) w->sorted = 0;
    stopped(&c);
    lt_block_cursor_done(&c);
    lt_buf_free(&prev);
    steps = 0;
    lt_block_cursor_init(&c, b, cmp);
    for (lt_block_cursor_seek_last(&c); lt_block_cursor_valid(&c) && steps < MAX_STEPS;
         lt_block_cursor_prev(&c), steps++) {
        fuzz_touch(c.key);
        fuzz_touch(c.value);
    }
    stopped(&c);
    lt_block_cursor_done(&c);
}

/* Seek both blocks to t; with `same`, they must agree. */
static void seek_both(const lt_block *a, const lt_block *b, lt_cmp_fn cmp, lt_slice t, int same) {
    lt_block_cursor x, y;
    lt_block_cursor_init(&x, a, cmp);
    lt_block_cursor_init(&y, b, cmp);
    lt_block_cursor_seek(&x, t);
    lt_block_cursor_seek(&y, t);
    stopped(&x);
    stopped(&y);
    if (same && (lt_block_cursor_valid(&x) != lt_block_cursor_valid(&y) ||
                 x.status != y.status || x.cur != y.cur))
        fuzz_fail("seek with the fence lands at %u, without at %u", x.cur, y.cur);
    for (int i = 0; i < 2 && lt_block_cursor_valid(&x); i++) {
        fuzz_touch(x.key);
        lt_block_cursor_prev(&x);
    }
    stopped(&x);
    lt_block_cursor_done(&x);
    lt_block_cursor_done(&y);
}

/* Targets near k: k itself, k's user key at the newest and oldest sequence, and k
 * with its last byte before the trailer bumped. */
static void seeks(const lt_block *a, const lt_block *b, lt_cmp_fn cmp, lt_slice k, int same) {
    char t[600];
    seek_both(a, b, cmp, k, same);
    if (k.size < 8 || k.size > sizeof t) return;
    size_t u = k.size - 8;
    memcpy(t, k.data, k.size);
    memset(t + u, 0xff, 8);
    seek_both(a, b, cmp, lt_slice_make(t, k.size), same);
    memset(t + u, 0, 8);
    seek_both(a, b, cmp, lt_slice_make(t, k.size), same);
    if (u > 0) {
        t[u - 1]++;
        seek_both(a, b, cmp, lt_slice_make(t, k.size), same);
        seek_both(a, b, cmp, lt_slice_make(t, u), same);
    }
}

static void check(const uint8_t *data, size_t n, lt_cmp_fn cmp) {
    lt_block *a = NULL, *b = NULL;
    if (lt_block_new((const char *)data, n, 0, "fuzz block", &a) != LT_OK) {
        if (!lt_errmsg()[0]) fuzz_fail("lt_block_new failed without a message");
        return;
    }
    if (lt_block_new((const char *)data, n, 0, "fuzz block", &b) != LT_OK)
        fuzz_fail("a block parses once but not twice");
    if (cmp == lt_block_ikey_cmp && lt_block_build_fence(a) != LT_OK)
        fuzz_fail("build_fence: %s", lt_errmsg());
    walk w = {0};
    traverse(data, n, a, cmp, &w);
    for (int i = 0; i < w.n; i++) {
        seeks(a, b, cmp, lt_slice_make(w.k[i].data, w.k[i].size), w.sorted);
        lt_buf_free(&w.k[i]);
    }
    seek_both(a, b, cmp, lt_slice_make("", 0), w.sorted);
    seek_both(a, b, cmp, lt_slice_make("\xff\xff\xff\xff\xff\xff\xff\xff\xff", 9), w.sorted);
    lt_block_free(a);
    lt_block_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size, lt_block_ikey_cmp);
    check(data, size, bytewise);
    return 0;
}
