/* test_block.c: blocks (builder and reader: round trips with several restart
 * intervals, seeks, both directions, malformed blocks never read out of bounds), block
 * handles, the bloom filter (no false negatives, false-positive rate), and index
 * fences (seeks land where they land without one). */
#include <stdint.h>

#include "lightning.h"
#include "../db/dbformat.h"
#include "../table/block.h"
#include "../table/bloom.h"
#include "../table/format.h"
#include "../util/coding.h"
#include "testutil.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static int cmp_bytes(lt_slice a, lt_slice b) { return lt_slice_cmp(a, b); }

/* Keys "key%06d" (sharing prefixes) and values of varying lengths. */
#define NK 500
static char keys[NK][16], vals[NK][64];
static size_t vlens[NK];

static void make_kv(void) {
    for (int i = 0; i < NK; i++) {
        snprintf(keys[i], sizeof keys[i], "key%06d", i * 3);
        vlens[i] = (size_t)(i * 7 % 60);
        for (size_t j = 0; j < vlens[i]; j++) vals[i][j] = (char)('a' + (i + (int)j) % 26);
    }
}

static lt_slice K(int i) { return lt_slice_make(keys[i], strlen(keys[i])); }
static lt_slice V(int i) { return lt_slice_make(vals[i], vlens[i]); }

static void roundtrip(int interval, int n) {
    lt_block_builder *bb = lt_block_builder_new(interval);
    lt_block *b;
    CHECK(bb != NULL);
    for (int i = 0; i < n; i++) CHECK_OK(lt_block_builder_add(bb, K(i), V(i)));
    size_t est = lt_block_builder_size_estimate(bb);
    lt_slice s = lt_block_builder_finish(bb);
    CHECK(s.data != NULL && s.size == est);
    if (n) CHECK(lt_slice_eq(lt_block_builder_last_key(bb), K(n - 1)));
    CHECK_OK(lt_block_new(s.data, s.size, 0, "test block", &b));
    lt_iter *it = lt_block_iter(b, cmp_bytes, NULL, NULL);
    int i = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it), i++) {
        CHECK(lt_slice_eq(lt_iter_key(it), K(i)));
        CHECK(lt_slice_eq(lt_iter_value(it), V(i)));
    }
    CHECK_EQ_INT(i, n);
    i = n - 1;
    for (lt_iter_seek_last(it); lt_iter_valid(it); lt_iter_prev(it), i--)
        CHECK(lt_slice_eq(lt_iter_key(it), K(i)));
    CHECK_EQ_INT(i, -1);
    for (int j = 0; j < n; j++) {
        char t[16];
        /* exact key, and a key just below it ("key%06d" of j*3-1) */
        lt_iter_seek(it, K(j));
        CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), K(j)));
        snprintf(t, sizeof t, "key%06d", j * 3 - 1);
        if (j > 0) {
            lt_iter_seek(it, lt_slice_make(t, strlen(t)));
            CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), K(j)));
            lt_iter_prev(it);
            CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), K(j - 1)));
            lt_iter_next(it);
            lt_iter_next(it);
            if (j + 1 < n) CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), K(j + 1)));
            else CHECK(!lt_iter_valid(it));
        }
    }
    lt_iter_seek(it, lt_slice_make("zzz", 3));
    CHECK(!lt_iter_valid(it));
    lt_iter_seek(it, lt_slice_make("", 0));
    CHECK(lt_iter_valid(it) == (n > 0));
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);
    lt_iter_destroy(it);
    lt_block_free(b);
    /* reuse after reset */
    lt_block_builder_reset(bb);
    CHECK(lt_block_builder_empty(bb));
    lt_block_builder_free(bb);
}

static void test_roundtrip(void) {
    make_kv();
    int intervals[] = { 1, 2, 16, 1000 };
    int sizes[] = { 0, 1, 2, 15, 16, 17, 100, NK };
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 8; b++) {
            int before = lt_test_failures;
            roundtrip(intervals[a], sizes[b]);
            if (lt_test_failures != before) { fprintf(stderr, "  interval %d n %d\n", intervals[a], sizes[b]); return; }
        }
}

static void test_long_keys(void) {
    /* keys longer than the cursor's inline buffer, sharing long prefixes */
    lt_block_builder *bb = lt_block_builder_new(4);
    char k[3000];
    memset(k, 'p', sizeof k);
    for (int i = 0; i < 40; i++) {
        snprintf(k + 2000 + i * 10, 20, "%09d", i);
        CHECK_OK(lt_block_builder_add(bb, lt_slice_make(k, 2009 + (size_t)i * 10), lt_slice_make("v", 1)));
    }
    lt_slice s = lt_block_builder_finish(bb);
    lt_block *b;
    CHECK_OK(lt_block_new(s.data, s.size, 0, "long", &b));
    lt_block_cursor c;
    lt_block_cursor_init(&c, b, cmp_bytes);
    int n = 0;
    for (lt_block_cursor_seek_first(&c); lt_block_cursor_valid(&c); lt_block_cursor_next(&c)) n++;
    CHECK_EQ_INT(n, 40);
    lt_block_cursor_seek_last(&c);
    CHECK(lt_block_cursor_valid(&c) && c.key.size == 2009 + 39 * 10);
    CHECK(memcmp(c.key.data, k, c.key.size) == 0);
    lt_block_cursor_done(&c);
    lt_block_free(b);
    lt_block_builder_free(bb);
}

/* Every malformation of a block must give LT_ECORRUPT or a structurally valid
 * answer, never an out-of-bounds read (AddressSanitizer checks the latter). */
static void walk(const lt_block *b) {
    lt_iter *it = lt_block_iter(b, cmp_bytes, NULL, NULL);
    int n = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it) && n < 10000; lt_iter_next(it), n++) {
        lt_slice k = lt_iter_key(it), v = lt_iter_value(it);
        volatile char sink = 0;
        for (size_t i = 0; i < k.size; i++) sink ^= k.data[i];
        for (size_t i = 0; i < v.size; i++) sink ^= v.data[i];
        (void)sink;
    }
    for (lt_iter_seek_last(it), n = 0; lt_iter_valid(it) && n < 10000; lt_iter_prev(it), n++) {}
    for (int j = 0; j < 20; j++) {
        lt_iter_seek(it, K((int)(rnd() % NK)));
        if (lt_iter_valid(it)) lt_iter_prev(it);
    }
    int st = lt_iter_status(it);
    if (st != LT_OK && st != LT_ECORRUPT) lt_test_failures++;
    lt_iter_destroy(it);
}

static void test_malformed_blocks(void) {
    make_kv();
    lt_block_builder *bb = lt_block_builder_new(16);
    for (int i = 0; i < 200; i++) lt_block_builder_add(bb, K(i), V(i));
    lt_slice s = lt_block_builder_finish(bb);
    lt_block *b;
    int corrupt = 0, fine = 0;
    for (int trial = 0; trial < 3000; trial++) {
        char *copy = malloc(s.size);
        memcpy(copy, s.data, s.size);
        int flips = 1 + (int)(rnd() % 3);
        for (int f = 0; f < flips; f++) {
            size_t pos = rnd() % s.size;
            if (trial % 3 == 0) pos = s.size - 1 - rnd() % 64; /* aim at the restart array */
            copy[pos] = (char)rnd();
        }
        /* the exact size is what matters to ASan: a heap copy of exactly s.size */
        int rc = lt_block_new(copy, s.size, 1, "fuzz", &b);
        if (rc == LT_OK) { walk(b); lt_block_free(b); fine++; }
        else { CHECK_EQ_INT(rc, LT_ECORRUPT); corrupt++; }
    }
    /* truncations */
    for (size_t n = 0; n < 64; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, s.data + s.size - n, n);
        if (lt_block_new(copy, n, 1, "short", &b) == LT_OK) { walk(b); lt_block_free(b); }
    }
    CHECK(corrupt > 0 && fine > 0);
    lt_block_builder_free(bb);
}

static void test_block_handle(void) {
    char buf[LT_MAX_BLOCK_HANDLE];
    lt_block_handle h = { UINT64_MAX, 12345 }, g;
    int n = lt_block_handle_encode(&h, buf);
    CHECK(n <= LT_MAX_BLOCK_HANDLE);
    lt_slice in = lt_slice_make(buf, (size_t)n);
    CHECK(lt_block_handle_decode(&in, &g) && g.offset == h.offset && g.size == h.size && in.size == 0);
    for (int k = 0; k < n; k++) {
        lt_slice t = lt_slice_make(buf, (size_t)k);
        CHECK(!lt_block_handle_decode(&t, &g));
    }
}

static void test_bloom(void) {
    const int n = 10000;
    lt_buf f = { NULL, 0, 0 };
    char k[32];
    unsigned *h = malloc(n * sizeof *h);
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "user%d", i);
        h[i] = lt_bloom_hash(lt_slice_make(k, strlen(k)));
    }
    CHECK_OK(lt_bloom_build_hashes(h, (size_t)n, 10, &f));
    lt_slice fs = lt_slice_make(f.data, f.size);
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "user%d", i);
        CHECK(lt_bloom_may_match(fs, lt_slice_make(k, strlen(k))));
    }
    int fp = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "other%d", i);
        fp += lt_bloom_may_match(fs, lt_slice_make(k, strlen(k)));
    }
    fprintf(stderr, "  bloom 10 bits/key: %.2f%% false positives\n", fp / 1000.0);
    CHECK(fp < 2000);
    /* lt_bloom_build over keys gives the same filter */
    lt_buf g = { NULL, 0, 0 };
    lt_slice *ks = malloc(n * sizeof *ks);
    char (*store)[32] = malloc((size_t)n * 32);
    for (int i = 0; i < n; i++) {
        snprintf(store[i], 32, "user%d", i);
        ks[i] = lt_slice_make(store[i], strlen(store[i]));
    }
    CHECK_OK(lt_bloom_build(ks, (size_t)n, 10, &g));
    CHECK(g.size == f.size && memcmp(g.data, f.data, f.size) == 0);
    /* empty and malformed filters may match anything; an empty key set matches nothing */
    CHECK(lt_bloom_may_match(lt_slice_make("", 0), lt_slice_make("x", 1)));
    CHECK(lt_bloom_may_match(lt_slice_make("\0\0\0\x40", 4), lt_slice_make("x", 1)));
    CHECK(lt_bloom_may_match(lt_slice_make("\0\0\0\x06", 4), lt_slice_make("x", 1))); /* not whole lines */
    lt_buf e = { NULL, 0, 0 };
    CHECK_OK(lt_bloom_build_hashes(NULL, 0, 10, &e));
    CHECK(!lt_bloom_may_match(lt_slice_make(e.data, e.size), lt_slice_make("x", 1)));
    /* hash spreads: a few fixed values */
    CHECK(lt_bloom_hash(lt_slice_make("", 0)) != lt_bloom_hash(lt_slice_make("\0", 1)));
    lt_buf_free(&e);
    lt_buf_free(&g);
    lt_buf_free(&f);
    free(store);
    free(ks);
    free(h);
}

/* The block layer's inlined internal-key order equals dbformat.h's. */
static void test_ikey_order(void) {
    char a[40], b[40];
    for (int i = 0; i < 200000; i++) {
        size_t na = 8 + rnd() % 30, nb = 8 + rnd() % 30;
        int alpha = 1 + (int)(rnd() % 4); /* few distinct bytes: long common prefixes */
        for (size_t j = 0; j < na; j++) a[j] = (char)(alpha == 4 ? rnd() : 0xfe + rnd() % (unsigned)alpha);
        for (size_t j = 0; j < nb; j++) b[j] = rnd() % 4 ? (j < na ? a[j] : (char)rnd()) : (char)rnd();
        lt_slice x = lt_slice_make(a, na), y = lt_slice_make(b, nb);
        int want = lt_ikey_cmp(x, y), got = lt_block_ikey_cmp(x, y);
        CHECK((want < 0) == (got < 0) && (want > 0) == (got > 0));
        CHECK(lt_block_ikey_cmp(x, x) == 0);
    }
    /* short (malformed) keys do not crash */
    CHECK(lt_block_ikey_cmp(lt_slice_make("ab", 2), lt_slice_make("abcdefghij", 10)) < 0);
}

/* A random internal key: user keys from a small alphabet after a shared prefix, so
 * that 8-byte windows tie often, some user keys are prefixes of others, and one user
 * key can come in several versions. */
static size_t rand_ikey(char *k, size_t prefix) {
    size_t n = prefix + rnd() % 14;
    memset(k, 'p', prefix);
    for (size_t j = prefix; j < n; j++) k[j] = (char)(0xfe + rnd() % 3); /* fe ff 00 */
    uint64_t trailer = (rnd() % 5) << 8 | 1;
    lt_put_fixed64(k + n, trailer);
    return n + 8;
}

static int ikey_sort(const void *a, const void *b) {
    const char *x = a, *y = b;
    return lt_ikey_cmp(lt_slice_make(x + 1, (unsigned char)x[0]),
                       lt_slice_make(y + 1, (unsigned char)y[0]));
}

/* Index-block fences (lt_block_build_fence): every seek lands where it lands without
 * the fence, for restart intervals 1 and 4, shared prefixes of 0..12 bytes, and
 * targets below, between, equal to and above the keys. */
static void test_fence(void) {
    static char ks[600][40];
    for (int round = 0; round < 60; round++) {
        size_t prefix = (size_t)(round % 13), n = 16 + rnd() % 580;
        for (size_t i = 0; i < n; i++) ks[i][0] = (char)rand_ikey(ks[i] + 1, prefix);
        qsort(ks, n, sizeof ks[0], ikey_sort);
        lt_block_builder *bb = lt_block_builder_new(round % 2 ? 4 : 1);
        CHECK(bb != NULL);
        lt_slice prev = lt_slice_make("", 0);
        for (size_t i = 0; i < n; i++) {
            lt_slice k = lt_slice_make(ks[i] + 1, (unsigned char)ks[i][0]);
            if (i && lt_ikey_cmp(prev, k) == 0) continue;   /* duplicates: once */
            CHECK_OK(lt_block_builder_add(bb, k, lt_slice_make("v", 1)));
            prev = k;
        }
        lt_slice s = lt_block_builder_finish(bb);
        lt_block *plain, *fenced;
        CHECK_OK(lt_block_new(s.data, s.size, 0, "plain", &plain));
        CHECK_OK(lt_block_new(s.data, s.size, 0, "fenced", &fenced));
        CHECK_OK(lt_block_build_fence(fenced));
        for (int q = 0; q < 400; q++) {
            char t[40];
            size_t tn = rand_ikey(t, rnd() % 4 ? prefix : rnd() % 14);
            if (q % 7 == 0) t[rnd() % (tn - 8 + 1 > 1 ? tn - 8 : 1)] ^= (char)(1 + rnd() % 255);
            if (q % 5 == 0) {                 /* exactly a stored key */
                size_t i = rnd() % n;
                tn = (unsigned char)ks[i][0];
                memcpy(t, ks[i] + 1, tn);
            }
            lt_block_cursor a, b;
            lt_block_cursor_init(&a, plain, lt_block_ikey_cmp);
            lt_block_cursor_init(&b, fenced, lt_block_ikey_cmp);
            lt_block_cursor_seek(&a, lt_slice_make(t, tn));
            lt_block_cursor_seek(&b, lt_slice_make(t, tn));
            CHECK_EQ_INT(a.status, LT_OK);
            CHECK_EQ_INT(b.status, LT_OK);
            CHECK_EQ_INT((int)a.cur, (int)b.cur);
            lt_block_cursor_done(&a);
            lt_block_cursor_done(&b);
        }
        lt_block_free(plain);
        lt_block_free(fenced);
        lt_block_builder_free(bb);
    }
}

int main(void) {
    RUN(test_roundtrip);
    RUN(test_long_keys);
    RUN(test_malformed_blocks);
    RUN(test_block_handle);
    RUN(test_bloom);
    RUN(test_ikey_order);
    RUN(test_fence);
    TEST_MAIN_END();
}
