/* test_table.c: sorted tables end to end on the memory env: build tables of 0, 1,
 * 1000 and 100k internal keys (several versions per user key, values of 0..300 bytes
 * and some of ~10 KB) with a real test codec (byte-wise RLE), then check point
 * lookups, absent keys and the bloom filter's false-positive rate, full iteration
 * both ways, seeks, with no cache, a large cache and a 16 KB cache (eviction while
 * iterators pin blocks), concurrent readers, and corruption: flipped data bytes,
 * footer magic and version, truncation, random byte flips (errors, never wrong data). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lightning.h"
#include "../db/dbformat.h"
#include "../env/env.h"
#include "../table/cache.h"
#include "../table/format.h"
#include "../table/table.h"
#include "../util/coding.h"
#include "testutil.h"

/* ---- a small real codec: byte-wise run-length encoding --------------------------- *
 * control byte c < 128: c+1 literal bytes follow; c >= 128: the next byte repeats
 * c-128+3 times. */
#define RLE_ERR ((size_t)-1)
static atomic_long rle_decompressions;

static void *rle_create(void) { return malloc(16); }
static size_t rle_free(void *ctx) { free(ctx); return 0; }
static unsigned rle_is_error(size_t r) { return r == RLE_ERR; }
static size_t rle_bound(size_t n) { return n + n / 128 + 2; }

static size_t rle_compress(void *cctx, void *dst, size_t cap, const void *src, size_t n, int level) {
    const unsigned char *s = src;
    unsigned char *d = dst;
    size_t i = 0, o = 0;
    (void)cctx; (void)level;
    while (i < n) {
        size_t run = 1;
        while (i + run < n && run < 130 && s[i + run] == s[i]) run++;
        if (run >= 3) {
            if (o + 2 > cap) return RLE_ERR;
            d[o++] = (unsigned char)(128 + run - 3);
            d[o++] = s[i];
            i += run;
            continue;
        }
        size_t lit = 0; /* literals up to the next run of 3 */
        while (i + lit < n && lit < 128 &&
               !(i + lit + 2 < n && s[i + lit] == s[i + lit + 1] && s[i + lit] == s[i + lit + 2]))
            lit++;
        if (o + 1 + lit > cap) return RLE_ERR;
        d[o++] = (unsigned char)(lit - 1);
        memcpy(d + o, s + i, lit);
        o += lit;
        i += lit;
    }
    return o;
}

static size_t rle_decompress(void *dctx, void *dst, size_t cap, const void *src, size_t n) {
    const unsigned char *s = src;
    unsigned char *d = dst;
    size_t i = 0, o = 0;
    (void)dctx;
    atomic_fetch_add(&rle_decompressions, 1);
    while (i < n) {
        unsigned c = s[i++];
        if (c < 128) {
            size_t lit = c + 1;
            if (i + lit > n || o + lit > cap) return RLE_ERR;
            memcpy(d + o, s + i, lit);
            i += lit;
            o += lit;
        } else {
            size_t run = c - 128 + 3;
            if (i >= n || o + run > cap) return RLE_ERR;
            memset(d + o, s[i++], run);
            o += run;
        }
    }
    return o;
}

static const lt_codec rle_codec = {
    rle_create, rle_free, rle_compress, rle_create, rle_free, rle_decompress,
    rle_is_error, rle_bound, 0,
};

/* ---- the model ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

typedef struct ent { char *k; size_t klen; char *v; size_t vlen; } ent;
static ent *M;
static size_t NM;

static lt_slice EK(size_t i) { return lt_slice_make(M[i].k, M[i].klen); }
static lt_slice EV(size_t i) { return lt_slice_make(M[i].v, M[i].vlen); }

typedef struct ukey { char b[24]; size_t n; } ukey;
static int ukey_cmp(const void *a, const void *b) {
    const ukey *x = a, *y = b;
    return lt_slice_cmp(lt_slice_make(x->b, x->n), lt_slice_make(y->b, y->n));
}

static void random_user_key(ukey *u) {
    u->n = 1 + rnd() % 20;
    int small = rnd() % 2;
    for (size_t j = 0; j < u->n; j++) u->b[j] = small ? (char)('a' + rnd() % 3) : (char)rnd();
}

static void free_model(void) {
    for (size_t i = 0; i < NM; i++) { free(M[i].k); free(M[i].v); }
    free(M);
    M = NULL;
    NM = 0;
}

static char *make_ikey(const char *u, size_t n, uint64_t seq, int type) {
    char *k = malloc(n + 8);
    memcpy(k, u, n);
    lt_put_fixed64(k + n, lt_pack_trailer(seq, type));
    return k;
}

/* n internal keys: distinct user keys with 1..3 versions each, in order. */
static void make_model(size_t n) {
    free_model();
    M = calloc(n ? n : 1, sizeof *M);
    size_t nu = n + 16, got = 0;
    ukey *us = malloc(nu * sizeof *us);
    for (size_t i = 0; i < nu; i++) random_user_key(&us[i]);
    qsort(us, nu, sizeof *us, ukey_cmp);
    for (size_t i = 0; i < nu && NM < n; i++) {
        if (got && ukey_cmp(&us[i], &us[got - 1]) == 0) continue;
        us[got++] = us[i];
        int versions = 1 + (int)(rnd() % 3);
        uint64_t seq = 10000 + rnd() % 1000000000;
        for (int v = 0; v < versions && NM < n; v++) {
            int type = rnd() % 10 == 0 ? LT_TYPE_DELETION : LT_TYPE_VALUE;
            ent *e = &M[NM++];
            e->k = make_ikey(us[i].b, us[i].n, seq, type);
            e->klen = us[i].n + 8;
            size_t r = rnd() % 100;
            e->vlen = type == LT_TYPE_DELETION ? 0 : r < 2 ? 9000 + rnd() % 2000 : rnd() % 301;
            e->v = malloc(e->vlen + 1);
            if (rnd() % 2) {
                for (size_t j = 0; j < e->vlen;) { /* runs: compressible */
                    size_t run = 1 + rnd() % 20;
                    char c = (char)rnd();
                    for (; run && j < e->vlen; run--) e->v[j++] = c;
                }
            } else {
                for (size_t j = 0; j < e->vlen; j++) e->v[j] = (char)rnd();
            }
            seq -= 1 + rnd() % 1000;
        }
    }
    free(us);
    if (NM < n) { /* ran out of user keys: top up past the largest key */
        fprintf(stderr, "model short: %zu < %zu\n", NM, n);
        abort();
    }
}

/* First model index with key >= k (NM if none). */
static size_t lower_bound(lt_slice k) {
    size_t lo = 0, hi = NM;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (lt_ikey_cmp(EK(mid), k) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ---- building and opening -------------------------------------------------------- */

static lt_env *env;

static uint64_t build(const char *path, const lt_table_options *o) {
    lt_wfile *wf;
    if (env->v->new_writable(env, path, &wf) != LT_OK) abort();
    lt_table_builder *b = lt_table_builder_new(o, wf);
    for (size_t i = 0; i < NM; i++)
        if (lt_table_builder_add(b, EK(i), EV(i)) != LT_OK) abort();
    if (lt_table_builder_finish(b) != LT_OK) abort();
    if (lt_table_builder_entries(b) != NM) abort();
    uint64_t size = lt_table_builder_file_size(b);
    if (size != lt_wsize(wf)) abort();
    lt_table_builder_free(b);
    lt_wclose(wf);
    return size;
}

static int open_table(const char *path, const lt_table_options *o, lt_cache *c, lt_table **t) {
    lt_rfile *rf;
    uint64_t size;
    int rc = env->v->file_size(env, path, &size);
    if (rc == LT_OK) rc = env->v->new_readable(env, path, &rf);
    if (rc == LT_OK) rc = lt_table_open(o, rf, 7, size, c, path, t);
    return rc;
}

typedef struct found {
    int called;
    lt_buf k, v;
} found;

static void saver(void *arg, lt_slice k, lt_slice v) {
    found *f = arg;
    f->called++;
    lt_buf_clear(&f->k);
    lt_buf_clear(&f->v);
    lt_buf_append(&f->k, k.data, k.size);
    lt_buf_append(&f->v, v.data, v.size);
}

static int found_is(const found *f, size_t i) {
    return f->called == 1 && lt_slice_eq(lt_slice_make(f->k.data, f->k.size), EK(i)) &&
           lt_slice_eq(lt_slice_make(f->v.data, f->v.size), EV(i));
}

static int same_user(lt_slice a, lt_slice b) { return lt_slice_eq(lt_ikey_user(a), lt_ikey_user(b)); }

/* Look up k; the answer must be model[lower_bound(k)] or, when the table's search
 * stays in an earlier block, nothing with k's user key missed. */
static int check_get_filter(lt_table *t, lt_slice k, found *f, int use_filter) {
    f->called = 0;
    if (lt_table_get(t, k, use_filter, f, saver) != LT_OK) return 0;
    size_t j = lower_bound(k);
    if (f->called) return j < NM && found_is(f, j);
    return j == NM || !same_user(EK(j), k);
}

static int check_get(lt_table *t, lt_slice k, found *f) { return check_get_filter(t, k, f, 1); }

/* ---- the checks ------------------------------------------------------------------ */

static void check_gets(lt_table *t, int cached, int bloom) {
    found f = { 0, { NULL, 0, 0 }, { NULL, 0, 0 } };
    char kb[64];
    for (size_t i = 0; i < NM; i++) {
        f.called = 0;
        CHECK_OK(lt_table_get(t, EK(i), 1, &f, saver));
        CHECK(found_is(&f, i));
        /* newest version of the user key, and the one just older than version i */
        lt_slice u = lt_ikey_user(EK(i));
        memcpy(kb, u.data, u.size);
        lt_put_fixed64(kb + u.size, lt_pack_trailer(LT_MAX_SEQ, LT_TYPE_FOR_SEEK));
        CHECK(check_get(t, lt_slice_make(kb, u.size + 8), &f) && f.called);
        uint64_t seq = lt_ikey_seq(EK(i));
        lt_put_fixed64(kb + u.size, lt_pack_trailer(seq - 1, LT_TYPE_FOR_SEEK));
        CHECK(check_get(t, lt_slice_make(kb, u.size + 8), &f));
    }
    /* absent user keys */
    uint64_t before = lt_table_blocks_read(t);
    size_t absent = 0, ncall = 0;
    for (int i = 0; i < 20000; i++) {
        ukey u;
        random_user_key(&u);
        memcpy(kb, u.b, u.n);
        lt_put_fixed64(kb + u.n, lt_pack_trailer(LT_MAX_SEQ, LT_TYPE_FOR_SEEK));
        lt_slice k = lt_slice_make(kb, u.n + 8);
        size_t j = lower_bound(k);
        if (j < NM && same_user(EK(j), k)) continue;
        absent++;
        CHECK(check_get(t, k, &f));
        ncall += (size_t)f.called;
    }
    if (!cached && bloom && NM >= 1000 && absent) {
        double fp = (double)(lt_table_blocks_read(t) - before) / (double)absent;
        fprintf(stderr, "  %zu entries: %zu absent keys, %.2f%% read a block (bloom false positives)\n",
                NM, absent, 100.0 * fp);
        CHECK(fp < 0.03);
    }
    /* without the filter (use_filter 0): the same answers, present or absent, and an
     * absent key then reads its block */
    before = lt_table_blocks_read(t);
    for (int i = 0; i < 2000; i++) {
        ukey u;
        random_user_key(&u);
        memcpy(kb, u.b, u.n);
        lt_put_fixed64(kb + u.n, lt_pack_trailer(LT_MAX_SEQ, LT_TYPE_FOR_SEEK));
        CHECK(check_get_filter(t, lt_slice_make(kb, u.n + 8), &f, 0));
        if (NM == 0) continue;
        size_t j = (size_t)i * 7 % NM;
        f.called = 0;
        CHECK_OK(lt_table_get(t, EK(j), 0, &f, saver));
        CHECK(found_is(&f, j));
    }
    if (!cached && bloom && NM >= 1000)
        CHECK(lt_table_blocks_read(t) - before > 1000);   /* (each get reads one) */
    (void)ncall;
    lt_buf_free(&f.k);
    lt_buf_free(&f.v);
}

static void check_iteration(lt_table *t) {
    lt_iter *it = lt_table_iter(t);
    CHECK(it != NULL);
    size_t i = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it), i++) {
        CHECK(i < NM);
        CHECK(lt_slice_eq(lt_iter_key(it), EK(i)) && lt_slice_eq(lt_iter_value(it), EV(i)));
    }
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);
    CHECK_EQ_INT(i, NM);
    for (lt_iter_seek_last(it); lt_iter_valid(it); lt_iter_prev(it)) {
        CHECK(i > 0);
        i--;
        CHECK(lt_slice_eq(lt_iter_key(it), EK(i)) && lt_slice_eq(lt_iter_value(it), EV(i)));
    }
    CHECK_EQ_INT(i, 0);
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);
    /* random seeks, then a few steps either way */
    char kb[64];
    for (int s = 0; s < 3000; s++) {
        lt_slice target;
        if (NM && rnd() % 2) {
            size_t j = rnd() % NM;
            lt_slice u = lt_ikey_user(EK(j));
            memcpy(kb, u.data, u.size);
            uint64_t seq = lt_ikey_seq(EK(j)) + (rnd() % 3) - 1;
            lt_put_fixed64(kb + u.size, lt_pack_trailer(seq, LT_TYPE_FOR_SEEK));
            target = lt_slice_make(kb, u.size + 8);
        } else {
            ukey u;
            random_user_key(&u);
            memcpy(kb, u.b, u.n);
            lt_put_fixed64(kb + u.n, lt_pack_trailer(rnd() % 1000000, LT_TYPE_FOR_SEEK));
            target = lt_slice_make(kb, u.n + 8);
        }
        size_t j = lower_bound(target);
        lt_iter_seek(it, target);
        CHECK(lt_iter_valid(it) == (j < NM));
        if (j == NM) continue;
        for (int step = 0; step < 6; step++) {
            CHECK(lt_slice_eq(lt_iter_key(it), EK(j)) && lt_slice_eq(lt_iter_value(it), EV(j)));
            if (rnd() % 2) {
                lt_iter_next(it);
                if (++j == NM) { CHECK(!lt_iter_valid(it)); break; }
            } else {
                lt_iter_prev(it);
                if (j-- == 0) { CHECK(!lt_iter_valid(it)); break; }
            }
            CHECK(lt_iter_valid(it));
        }
    }
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);
    lt_iter_destroy(it);
}

static void check_all(const lt_table_options *o, const char *path) {
    int before = lt_test_failures;
    size_t caps[3] = { 0, 64u << 20, 16u << 10 };
    for (int ci = 0; ci < 3 && lt_test_failures == before; ci++) {
        lt_cache *c = caps[ci] ? lt_cache_new(caps[ci]) : NULL;
        lt_table *t;
        lt_iter *pins[3] = { NULL, NULL, NULL };
        CHECK_OK(open_table(path, o, c, &t));
        if (ci == 2 && NM) { /* iterators parked on blocks while the cache churns */
            for (int p = 0; p < 3; p++) {
                pins[p] = lt_table_iter(t);
                lt_iter_seek(pins[p], EK(NM * (size_t)p / 3));
            }
        }
        check_gets(t, c != NULL, o->bloom_bits_per_key > 0);
        check_iteration(t);
        for (int p = 0; p < 3; p++) {
            if (!pins[p]) continue;
            size_t j = NM * (size_t)p / 3;
            CHECK(lt_iter_valid(pins[p]) && lt_slice_eq(lt_iter_key(pins[p]), EK(j)));
            CHECK(lt_slice_eq(lt_iter_value(pins[p]), EV(j)));
            lt_iter_next(pins[p]);
            CHECK(lt_iter_valid(pins[p]) == (j + 1 < NM));
            lt_iter_destroy(pins[p]);
        }
        if (c) {
            lt_cache_stats st;
            lt_cache_get_stats(c, &st);
            CHECK(st.usage <= st.capacity);
            if (NM > 1000) CHECK(st.hits > 0);
        }
        lt_table_free(t);
        lt_cache_free(c);
        if (lt_test_failures != before) fprintf(stderr, "  (with cache of %zu bytes)\n", caps[ci]);
    }
}

static void run_sizes(const lt_table_options *o, const char *tag) {
    size_t sizes[4] = { 0, 1, 1000, 100000 };
    for (int s = 0; s < 4; s++) {
        int before = lt_test_failures;
        char path[64];
        snprintf(path, sizeof path, "/db/%s-%zu.ldt", tag, sizes[s]);
        make_model(sizes[s]);
        long dec = atomic_load(&rle_decompressions);
        build(path, o);
        check_all(o, path);
        if (o->codec && sizes[s] >= 1000) { /* both compressed and raw blocks exist */
            lt_table *t;
            CHECK_OK(open_table(path, o, NULL, &t));
            dec = atomic_load(&rle_decompressions);
            lt_iter *it = lt_table_iter(t);
            for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) {}
            lt_iter_destroy(it);
            long d = atomic_load(&rle_decompressions) - dec;
            uint64_t r = lt_table_blocks_read(t);
            fprintf(stderr, "  %zu entries: %llu data blocks, %ld compressed\n", sizes[s],
                    (unsigned long long)r, d);
            CHECK(d > 0 && (uint64_t)d < r);
            lt_table_free(t);
        }
        if (lt_test_failures != before) { fprintf(stderr, "  (%s, %zu entries)\n", tag, sizes[s]); return; }
    }
}

static void test_default_codec(void) {
    lt_table_options o = { 4096, 16, 10, &rle_codec };
    run_sizes(&o, "default");
}

static void test_small_blocks_raw(void) {
    lt_table_options o = { 256, 4, 0, NULL };
    run_sizes(&o, "small");
}

static void test_one_entry_blocks(void) {
    lt_table_options o = { 1, 1, 10, &rle_codec };
    make_model(1000);
    build("/db/tiny.ldt", &o);
    check_all(&o, "/db/tiny.ldt");
}

/* ---- concurrent readers --------------------------------------------------------- */

typedef struct reader_arg { lt_table *t; uint64_t seed; int bad; } reader_arg;

static void *reader(void *p) {
    reader_arg *a = p;
    found f = { 0, { NULL, 0, 0 }, { NULL, 0, 0 } };
    uint64_t s = a->seed;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        size_t j = s % NM;
        f.called = 0;
        if (lt_table_get(a->t, EK(j), 1, &f, saver) != LT_OK || !found_is(&f, j)) a->bad++;
        if (i % 500 == 0) {
            lt_iter *it = lt_table_iter(a->t);
            lt_iter_seek(it, EK(j));
            for (int n = 0; n < 200 && j < NM; n++, j++) {
                if (!lt_iter_valid(it) || !lt_slice_eq(lt_iter_key(it), EK(j)) ||
                    !lt_slice_eq(lt_iter_value(it), EV(j))) { a->bad++; break; }
                lt_iter_next(it);
            }
            lt_iter_destroy(it);
        }
    }
    lt_buf_free(&f.k);
    lt_buf_free(&f.v);
    return NULL;
}

static void test_concurrent_readers(void) {
    lt_table_options o = { 4096, 16, 10, &rle_codec };
    make_model(100000);
    build("/db/mt.ldt", &o);
    for (int round = 0; round < 2; round++) {
        lt_cache *c = lt_cache_new(round ? 16u << 10 : 8u << 20);
        lt_table *t;
        CHECK_OK(open_table("/db/mt.ldt", &o, c, &t));
        pthread_t th[4];
        reader_arg args[4];
        for (int i = 0; i < 4; i++) {
            args[i] = (reader_arg){ t, 0x1234567ull * (uint64_t)(i + 1) + 99, 0 };
            pthread_create(&th[i], NULL, reader, &args[i]);
        }
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        for (int i = 0; i < 4; i++) CHECK_EQ_INT(args[i].bad, 0);
        lt_table_free(t);
        lt_cache_free(c);
    }
}

/* ---- corruption ------------------------------------------------------------------ */

static void read_whole(const char *path, char **data, size_t *n) {
    lt_rfile *rf;
    uint64_t size;
    size_t got;
    if (env->v->file_size(env, path, &size) || env->v->new_readable(env, path, &rf)) abort();
    *data = malloc(size + 1);
    if (lt_rread(rf, 0, size, *data, &got) || got != size) abort();
    *n = size;
    lt_rclose(rf);
}

static void write_whole(const char *path, const char *data, size_t n) {
    lt_wfile *wf;
    if (env->v->new_writable(env, path, &wf) || lt_wappend(wf, data, n) || lt_wclose(wf)) abort();
}

/* Open, get a few keys and iterate everything: errors are allowed, wrong data never. */
static void probe_damaged(const lt_table_options *o, const char *path, int *opened, int *errors) {
    lt_table *t;
    int rc = open_table(path, o, NULL, &t);
    if (rc != LT_OK) {
        if (rc != LT_ECORRUPT && rc != LT_EVERSION) lt_test_failures++;
        (*errors)++;
        return;
    }
    (*opened)++;
    found f = { 0, { NULL, 0, 0 }, { NULL, 0, 0 } };
    for (size_t i = 0; i < NM; i += 37) {
        f.called = 0;
        rc = lt_table_get(t, EK(i), 1, &f, saver);
        if (rc == LT_OK ? !found_is(&f, i) : (rc != LT_ECORRUPT || f.called)) lt_test_failures++;
    }
    lt_iter *it = lt_table_iter(t);
    size_t i = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it), i++)
        if (i >= NM || !lt_slice_eq(lt_iter_key(it), EK(i)) || !lt_slice_eq(lt_iter_value(it), EV(i))) {
            lt_test_failures++;
            break;
        }
    rc = lt_iter_status(it);
    if (rc == LT_OK ? i != NM : rc != LT_ECORRUPT) lt_test_failures++;
    lt_iter_destroy(it);
    lt_table_free(t);
    lt_buf_free(&f.k);
    lt_buf_free(&f.v);
}

static void test_corruption(void) {
    lt_table_options o = { 1024, 16, 10, NULL };
    const char *path = "/db/000007.ldt";
    char *orig, *d;
    size_t n;
    lt_table *t;
    found f = { 0, { NULL, 0, 0 }, { NULL, 0, 0 } };
    make_model(1000);
    build(path, &o);
    read_whole(path, &orig, &n);
    d = malloc(n);

    /* a flipped byte in data block 0 */
    memcpy(d, orig, n);
    d[10] ^= 0x20;
    write_whole(path, d, n);
    CHECK_OK(open_table(path, &o, NULL, &t));
    CHECK_EQ_INT(lt_table_get(t, EK(0), 1, &f, saver), LT_ECORRUPT);
    CHECK(f.called == 0);
    CHECK(strstr(lt_errmsg(), "checksum mismatch in block at offset 0") != NULL);
    CHECK(strstr(lt_errmsg(), path) != NULL);
    CHECK_OK(lt_table_get(t, EK(NM - 1), 1, &f, saver)); /* other blocks still read */
    CHECK(found_is(&f, NM - 1));
    lt_iter *it = lt_table_iter(t);
    lt_iter_seek_first(it);
    CHECK(!lt_iter_valid(it));
    CHECK_EQ_INT(lt_iter_status(it), LT_ECORRUPT);
    lt_iter_destroy(it);
    it = lt_table_iter(t);
    lt_iter_seek(it, EK(NM - 1));
    CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), EK(NM - 1)));
    lt_iter_destroy(it);
    lt_table_free(t);

    /* footer magic, version, truncation */
    memcpy(d, orig, n);
    d[n - 1] ^= 1;
    write_whole(path, d, n);
    CHECK_EQ_INT(open_table(path, &o, NULL, &t), LT_ECORRUPT);
    CHECK(strstr(lt_errmsg(), path) != NULL);
    memcpy(d, orig, n);
    lt_put_fixed32(d + n - 16, 2);
    write_whole(path, d, n);
    CHECK_EQ_INT(open_table(path, &o, NULL, &t), LT_EVERSION);
    CHECK(strstr(lt_errmsg(), path) != NULL);
    write_whole(path, orig, 30);
    CHECK_EQ_INT(open_table(path, &o, NULL, &t), LT_ECORRUPT);
    write_whole(path, orig, n - 1);
    CHECK_EQ_INT(open_table(path, &o, NULL, &t), LT_ECORRUPT);

    /* one random flipped byte anywhere, many times */
    int opened = 0, errors = 0, before = lt_test_failures;
    for (int trial = 0; trial < 400; trial++) {
        memcpy(d, orig, n);
        size_t pos = trial < 100 ? n - 1 - rnd() % 200 : rnd() % n; /* favour the tail */
        d[pos] ^= (char)(1 + rnd() % 255);
        write_whole(path, d, n);
        probe_damaged(&o, path, &opened, &errors);
        if (lt_test_failures != before) { fprintf(stderr, "  flip at %zu of %zu\n", pos, n); break; }
    }
    fprintf(stderr, "  random flips: %d tables opened, %d refused\n", opened, errors);
    free(d);
    free(orig);
    lt_buf_free(&f.k);
    lt_buf_free(&f.v);
}

static void test_compressed_corruption(void) {
    lt_table_options o = { 4096, 16, 10, &rle_codec }, raw = o;
    const char *path = "/db/000008.ldt";
    char *orig, *d;
    size_t n;
    lt_table *t;
    make_model(3000);
    build(path, &o);
    read_whole(path, &orig, &n);
    d = malloc(n);
    int opened = 0, errors = 0, before = lt_test_failures;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(d, orig, n);
        size_t pos = rnd() % n;
        d[pos] ^= (char)(1 + rnd() % 255);
        write_whole(path, d, n);
        probe_damaged(&o, path, &opened, &errors);
        if (lt_test_failures != before) { fprintf(stderr, "  flip at %zu of %zu\n", pos, n); break; }
    }
    /* compressed blocks need the codec */
    write_whole(path, orig, n);
    raw.codec = NULL;
    int rc = open_table(path, &raw, NULL, &t);
    if (rc == LT_OK) {
        lt_iter *it = lt_table_iter(t);
        for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) {}
        CHECK_EQ_INT(lt_iter_status(it), LT_EINVAL);
        lt_iter_destroy(it);
        lt_table_free(t);
    } else {
        CHECK_EQ_INT(rc, LT_EINVAL);
    }
    free(d);
    free(orig);
}

/* ---- readahead: a file wrapper that records what the table asks for ------------- */

typedef struct ra_file {
    lt_rfile base;
    lt_rfile *inner;
    uint64_t calls, last_off;
    int backwards;  /* a readahead started below the previous one */
} ra_file;

static int ra_read(lt_rfile *f, uint64_t off, size_t n, char *s, size_t *got) {
    return lt_rread(((ra_file *)f)->inner, off, n, s, got);
}
static void ra_ahead(lt_rfile *f, uint64_t off, size_t n) {
    ra_file *r = (ra_file *)f;
    if (r->calls && off <= r->last_off) r->backwards = 1;
    r->calls++;
    r->last_off = off;
    (void)n;
}
static uint64_t ra_size(lt_rfile *f) { return lt_rsize(((ra_file *)f)->inner); }
static void ra_close(lt_rfile *f) { lt_rclose(((ra_file *)f)->inner); free(f); }
static lt_env_vtbl ra_vtbl; /* only the readable-file entries are used */
static lt_env ra_env = { &ra_vtbl, 0, 0 };

static void test_readahead(void) {
    lt_table_options o = { 4096, 16, 10, NULL };
    const char *path = "/db/ra.ldt";
    ra_file rf = { { &ra_env }, NULL, 0, 0, 0 };
    uint64_t size;
    lt_table *t;
    ra_vtbl.read_at = ra_read;
    ra_vtbl.readahead = ra_ahead;
    ra_vtbl.rsize = ra_size;
    ra_vtbl.rclose = ra_close;
    make_model(100000);
    build(path, &o);
    CHECK_OK(env->v->file_size(env, path, &size));
    CHECK_OK(env->v->new_readable(env, path, &rf.inner));
    lt_rfile *wrapped = malloc(sizeof rf);
    memcpy(wrapped, &rf, sizeof rf);
    CHECK_OK(lt_table_open(&o, wrapped, 9, size, NULL, path, &t));
    ra_file *r = (ra_file *)wrapped;
    /* point lookups and a backward scan never read ahead */
    found f = { 0, { NULL, 0, 0 }, { NULL, 0, 0 } };
    for (size_t i = 0; i < NM; i += 101) CHECK_OK(lt_table_get(t, EK(i), 1, &f, saver));
    lt_iter *it = lt_table_iter(t);
    size_t n = 0;
    for (lt_iter_seek_last(it); lt_iter_valid(it); lt_iter_prev(it)) n++;
    CHECK_EQ_INT(n, NM);
    CHECK_EQ_INT(r->calls, 0);
    /* a forward scan asks for every 256 KB window once, in increasing order */
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) {}
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);
    fprintf(stderr, "  forward scan of %llu bytes: %llu readahead calls\n",
            (unsigned long long)size, (unsigned long long)r->calls);
    uint64_t windows = size / (256 * 1024); /* windows start at block offsets: some overlap */
    CHECK(r->calls >= windows - 1 && r->calls <= windows + windows / 20 + 2);
    CHECK(!r->backwards);
    CHECK(lt_table_bytes_read(t) >= 2 * size - size / 8); /* two full passes, roughly */
    lt_iter_destroy(it);
    lt_table_free(t);
    lt_buf_free(&f.k);
    lt_buf_free(&f.v);
}

/* lt_table_iter_fill: a scan adds at most `fill` blocks to the cache, and every seek
 * starts a new scan with a new budget (db_iter.c keeps iterators across scans). */
static void test_fill_budget(void) {
    lt_table_options o = { 4096, 16, 10, NULL };
    const char *path = "/db/fill.ldt";
    make_model(20000);
    build(path, &o);
    lt_cache *c = lt_cache_new(64u << 20);
    lt_table *t;
    CHECK_OK(open_table(path, &o, c, &t));
    lt_iter *it = lt_table_iter_fill(t, 2);
    lt_cache_stats st;
    for (int scan = 1; scan <= 3; scan++) {
        lt_iter_seek(it, EK(NM * (size_t)scan / 4));   /* untouched blocks each time */
        for (int i = 0; i < 2000 && lt_iter_valid(it); i++) lt_iter_next(it);  /* > 2 blocks */
        CHECK_EQ_INT(lt_iter_status(it), LT_OK);
        lt_cache_get_stats(c, &st);
        CHECK_EQ_INT(st.inserts, 2 * (uint64_t)scan);
    }
    lt_iter_destroy(it);
    lt_table_free(t);
    lt_cache_free(c);
}

static void test_builder_errors(void) {
    lt_table_options o = { 4096, 16, 10, NULL };
    lt_wfile *wf;
    char k1[16], k2[16];
    CHECK_OK(env->v->new_writable(env, "/db/bad.ldt", &wf));
    lt_table_builder *b = lt_table_builder_new(&o, wf);
    memcpy(k1, "bbbbbbbb", 8);
    lt_put_fixed64(k1 + 8, lt_pack_trailer(5, LT_TYPE_VALUE));
    memcpy(k2, "aaaaaaaa", 8);
    lt_put_fixed64(k2 + 8, lt_pack_trailer(5, LT_TYPE_VALUE));
    CHECK_EQ_INT(lt_table_builder_add(b, lt_slice_make(k1, 7), lt_slice_make("", 0)), LT_EINVAL);
    CHECK_OK(lt_table_builder_add(b, lt_slice_make(k1, 16), lt_slice_make("", 0)));
    CHECK_EQ_INT(lt_table_builder_add(b, lt_slice_make(k1, 16), lt_slice_make("", 0)), LT_EINVAL);
    CHECK_EQ_INT(lt_table_builder_add(b, lt_slice_make(k2, 16), lt_slice_make("", 0)), LT_EINVAL);
    CHECK_EQ_INT(lt_table_builder_finish(b), LT_EINVAL); /* failed builders stay failed */
    lt_table_builder_free(b);
    lt_wclose(wf);
}

int main(void) {
    if (lt_env_mem_new(&env) != LT_OK) return 1;
    env->v->mkdir(env, "/db");
    RUN(test_default_codec);
    RUN(test_small_blocks_raw);
    RUN(test_one_entry_blocks);
    RUN(test_concurrent_readers);
    RUN(test_corruption);
    RUN(test_compressed_corruption);
    RUN(test_readahead);
    RUN(test_fill_budget);
    RUN(test_builder_errors);
    free_model();
    lt_env_free(env);
    TEST_MAIN_END();
}
