/* test_util.c: unit tests of the utilities: CRC-32C vectors and both implementations,
 * fixed-width and varint coding (round trips, truncated and overlong input), the
 * growable buffer, the arena, and the per-thread error messages. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "../util/arena.h"
#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/slice.h"
#include "../util/status.h"
#include "testutil.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void test_crc_vectors(void) {
    unsigned char buf[32];
    CHECK_EQ_INT(lt_crc32c("123456789", 9), 0xE3069283u);
    memset(buf, 0, sizeof buf);
    CHECK_EQ_INT(lt_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof buf);
    CHECK_EQ_INT(lt_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)i;
    CHECK_EQ_INT(lt_crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) buf[i] = (unsigned char)(31 - i);
    CHECK_EQ_INT(lt_crc32c(buf, 32), 0x113FDB5Cu);
    CHECK_EQ_INT(lt_crc32c("", 0), 0);
    CHECK_EQ_INT(lt_crc32c_extend_portable(0, "123456789", 9), 0xE3069283u);
    CHECK(lt_crc32c("a", 1) != lt_crc32c("foo", 3));
    fprintf(stderr, "     crc32c uses %s\n", lt_crc32c_hardware() ? "SSE4.2" : "tables");
}

static void test_crc_extend_and_impls(void) {
    static unsigned char data[4096 + 16];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (unsigned char)rnd();
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = rnd() % 16, n = rnd() % 4096, cut = n ? rnd() % n : 0;
        uint32_t whole = lt_crc32c(data + off, n);
        CHECK_EQ_INT(whole, lt_crc32c_extend_portable(0, data + off, n));
        uint32_t part = lt_crc32c_extend(lt_crc32c(data + off, cut), data + off + cut, n - cut);
        CHECK_EQ_INT(whole, part);
        CHECK_EQ_INT(lt_crc_unmask(lt_crc_mask(whole)), whole);
        CHECK(lt_crc_mask(whole) != whole);
    }
}

static void test_fixed(void) {
    char b[8];
    lt_put_fixed32(b, 0x04030201u);
    CHECK(memcmp(b, "\x01\x02\x03\x04", 4) == 0);
    CHECK_EQ_INT(lt_get_fixed32(b), 0x04030201u);
    lt_put_fixed64(b, 0x0807060504030201ull);
    CHECK(memcmp(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8) == 0);
    CHECK(lt_get_fixed64(b) == 0x0807060504030201ull);
}

static void test_varint_roundtrip(void) {
    char buf[LT_MAX_VARINT64];
    for (int i = 0; i < 20000; i++) {
        int bits = (int)(rnd() % 65);
        uint64_t v = bits == 64 ? rnd() : rnd() & ((1ull << bits) - 1);
        if (i < 64) v = i == 63 ? UINT64_MAX : (1ull << i);
        char *end = lt_put_varint64(buf, v);
        CHECK_EQ_INT(end - buf, lt_varint_length(v));
        uint64_t got = 0;
        CHECK(lt_get_varint64(buf, end, &got) == end);
        CHECK(got == v);
        for (char *lim = buf; lim < end; lim++) /* every truncation is rejected */
            CHECK(lt_get_varint64(buf, lim, &got) == NULL);
        uint32_t v32 = (uint32_t)v, g32 = 0;
        end = lt_put_varint32(buf, v32);
        CHECK_EQ_INT(end - buf, lt_varint_length(v32));
        CHECK(end - buf <= LT_MAX_VARINT32);
        CHECK(lt_get_varint32(buf, end, &g32) == end);
        CHECK_EQ_INT(g32, v32);
        for (char *lim = buf; lim < end; lim++)
            CHECK(lt_get_varint32(buf, lim, &g32) == NULL);
    }
    /* Overlong encodings (continuation bit set past the maximum length) are rejected. */
    memset(buf, 0x80, sizeof buf);
    uint32_t g32;
    uint64_t g64;
    CHECK(lt_get_varint32(buf, buf + 6, &g32) == NULL);
    CHECK(lt_get_varint64(buf, buf + 10, &g64) == NULL);
    lt_slice s = lt_slice_make(buf, 3);
    CHECK(!lt_slice_get_varint32(&s, &g32));
    CHECK_EQ_INT(s.size, 3);
}

static void test_buf(void) {
    lt_buf b = { 0 };
    CHECK_OK(lt_buf_append(&b, NULL, 0));
    for (int i = 0; i < 10000; i++) CHECK_OK(lt_buf_append_byte(&b, (unsigned char)i));
    CHECK_EQ_INT(b.size, 10000);
    CHECK(b.cap >= b.size && (b.cap & (b.cap - 1)) == 0); /* doubled from 64 */
    for (int i = 0; i < 10000; i++) CHECK_EQ_INT((unsigned char)b.data[i], (unsigned char)i);
    lt_buf_clear(&b);
    CHECK_OK(lt_buf_append_fixed32(&b, 0xdeadbeefu));
    CHECK_OK(lt_buf_append_fixed64(&b, 0x0123456789abcdefull));
    CHECK_OK(lt_buf_append_varint32(&b, 300));
    CHECK_OK(lt_buf_append_varint64(&b, 1ull << 40));
    CHECK_OK(lt_buf_append_lenprefixed(&b, "hello", 5));
    CHECK_OK(lt_buf_append_lenprefixed(&b, "", 0));
    CHECK_EQ_INT(b.size, 4 + 8 + 2 + 6 + 6 + 1);
    lt_slice in = lt_slice_make(b.data, b.size), out;
    uint32_t v32;
    uint64_t v64;
    CHECK_EQ_INT(lt_get_fixed32(in.data), 0xdeadbeefu);
    CHECK(lt_get_fixed64(in.data + 4) == 0x0123456789abcdefull);
    in.data += 12; in.size -= 12;
    CHECK(lt_slice_get_varint32(&in, &v32) && v32 == 300);
    CHECK(lt_slice_get_varint64(&in, &v64) && v64 == (1ull << 40));
    CHECK(lt_slice_get_lenprefixed(&in, &out) && lt_slice_eq(out, lt_slice_make("hello", 5)));
    CHECK(lt_slice_get_lenprefixed(&in, &out) && out.size == 0 && in.size == 0);
    /* A failing reservation leaves the buffer as it was. */
    size_t size = b.size, cap = b.cap;
    char *data = b.data;
    CHECK_EQ_INT(lt_buf_reserve(&b, SIZE_MAX - 4), LT_ENOMEM);
    CHECK(b.size == size && b.cap == cap && b.data == data);
    lt_buf_free(&b);
    CHECK(b.data == NULL && b.size == 0 && b.cap == 0);
    CHECK_OK(lt_buf_append(&b, "again", 5)); /* reusable after free */
    lt_buf_free(&b);
}

static void test_slice_cmp(void) {
    CHECK(lt_slice_cmp(lt_slice_make("a", 1), lt_slice_make("ab", 2)) < 0);
    CHECK(lt_slice_cmp(lt_slice_make("b", 1), lt_slice_make("ab", 2)) > 0);
    CHECK(lt_slice_cmp(lt_slice_make("", 0), lt_slice_make("", 0)) == 0);
    CHECK(lt_slice_cmp(lt_slice_make("\xff", 1), lt_slice_make("\x01", 1)) > 0);
}

static void test_arena(void) {
    lt_arena *a = lt_arena_new();
    CHECK(a != NULL);
    size_t base = lt_arena_memory_usage(a);
    enum { N = 5000 };
    static char *ptrs[N];
    static size_t sizes[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = i % 97 == 0 ? 1000 + rnd() % 9000 : rnd() % 200;
        char *p = i % 2 ? lt_arena_alloc_aligned(a, n) : lt_arena_alloc(a, n);
        CHECK(p != NULL);
        if (i % 2) CHECK(((uintptr_t)p & (sizeof(void *) - 1)) == 0);
        memset(p, i & 0xff, n);
        ptrs[i] = p;
        sizes[i] = n;
        total += n;
    }
    for (int i = 0; i < N; i++) /* nothing overlapped */
        for (size_t j = 0; j < sizes[i]; j++) CHECK_EQ_INT((unsigned char)ptrs[i][j], i & 0xff);
    size_t used = lt_arena_memory_usage(a);
    CHECK(used >= base + total);
    CHECK(used <= base + total + total / 2 + 64 * 1024); /* little waste */
    char *big = lt_arena_alloc(a, 1 << 20);
    CHECK(big != NULL);
    CHECK(lt_arena_memory_usage(a) >= used + (1 << 20));
    CHECK(lt_arena_alloc(a, 0) != NULL);
    lt_arena_free(a);
}

static void *other_thread(void *arg) {
    (void)arg;
    const char *m = lt_errmsg();
    int empty = m[0] == '\0';
    lt_seterr(LT_EIO, "other thread");
    return empty ? (void *)1 : NULL;
}

static void test_errors(void) {
    lt_clearerr();
    CHECK(strcmp(lt_errmsg(), "") == 0);
    CHECK_EQ_INT(lt_seterr(LT_ECORRUPT, "bad block at offset %d", 42), LT_ECORRUPT);
    CHECK(strcmp(lt_errmsg(), "bad block at offset 42") == 0);
    CHECK_EQ_INT(lt_seterr(LT_EIO, "wrapped: %s", lt_errmsg()), LT_EIO);
    CHECK(strcmp(lt_errmsg(), "wrapped: bad block at offset 42") == 0);
    pthread_t t;
    void *res = NULL;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    pthread_join(t, &res);
    CHECK(res == (void *)1); /* the other thread saw its own, empty message */
    CHECK(strcmp(lt_errmsg(), "wrapped: bad block at offset 42") == 0);
    CHECK_EQ_INT(lt_seterr_errno(ENOSPC, "write %s", "x.log"), LT_ENOSPC);
    CHECK(strcmp(lt_errmsg(), "write x.log: No space left on device") == 0);
    CHECK_EQ_INT(lt_seterr_errno(ENOENT, "open %s", "y"), LT_EIO);
    CHECK(strcmp(lt_errmsg(), "open y: No such file or directory") == 0);
    char long_name[2000];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_EQ_INT(lt_seterr_errno(EACCES, "open %s", long_name), LT_EIO);
    CHECK(strlen(lt_errmsg()) < 512);
    CHECK(strcmp(lt_strerror(LT_ELOCKED), "database is locked by another process") == 0);
    for (int c = LT_EBUSY; c <= LT_ENOTFOUND; c++)
        CHECK(strcmp(lt_strerror(c), "unknown error code") != 0);
    CHECK(strcmp(lt_strerror(-1), "unknown error code") == 0);
    lt_clearerr();
    CHECK(lt_errmsg()[0] == '\0');
}

int main(void) {
    RUN(test_crc_vectors);
    RUN(test_crc_extend_and_impls);
    RUN(test_fixed);
    RUN(test_varint_roundtrip);
    RUN(test_buf);
    RUN(test_slice_cmp);
    RUN(test_arena);
    RUN(test_errors);
    TEST_MAIN_END();
}
