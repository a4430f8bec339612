/* test_memtable.c: the memtable against a sorted-array model (gets at many sequence
 * numbers, tombstones, iteration both ways, seeks), and one writer racing two readers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include "../db/dbformat.h"
#include "../db/memtable.h"
#include "../util/status.h"
#include "testutil.h"

/* ---- model ------------------------------------------------------------------------- */

typedef struct model_entry {
    char ukey[16];
    size_t ulen;
    uint64_t seq;
    int type;
    char val[32];
    size_t vlen;
    char ikey[24];  /* ukey | trailer */
    size_t ilen;
} model_entry;

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return rng_state;
}

static int cmp_model(const void *a, const void *b) {
    const model_entry *x = a, *y = b;
    return lt_ikey_cmp(lt_slice_make(x->ikey, x->ilen), lt_slice_make(y->ikey, y->ilen));
}

/* User keys include the empty key and keys that are prefixes of others. */
static void make_ukey(int k, char *out, size_t *len) {
    static const char *const fixed[] = { "", "a", "ab", "abc", "b", "b\xff", "\x00" };
    if (k < 7) {
        *len = k == 6 ? 1 : strlen(fixed[k]);
        memcpy(out, fixed[k], *len);
    } else {
        *len = (size_t)snprintf(out, 16, "key%05d", k * 7 % 1000);
    }
}

#define NKEYS 120
#define NENT 3000

static model_entry model[NENT];

/* Newest model version of ukey with seq <= s, or NULL. */
static const model_entry *model_get(const char *uk, size_t ul, uint64_t s) {
    const model_entry *best = NULL;
    for (int i = 0; i < NENT; i++) {
        const model_entry *e = &model[i];
        if (e->ulen == ul && memcmp(e->ukey, uk, ul) == 0 && e->seq <= s &&
            (!best || e->seq > best->seq))
            best = e;
    }
    return best;
}

static lt_memtable *build_model_table(void) {
    /* unique sequence numbers 1..NENT assigned in shuffled order */
    uint64_t seqs[NENT];
    for (int i = 0; i < NENT; i++) seqs[i] = (uint64_t)i + 1;
    for (int i = NENT - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        uint64_t t = seqs[i]; seqs[i] = seqs[j]; seqs[j] = t;
    }
    lt_memtable *m = lt_memtable_new();
    if (!m) return NULL;
    for (int i = 0; i < NENT; i++) {
        model_entry *e = &model[i];
        make_ukey((int)(rnd() % NKEYS), e->ukey, &e->ulen);
        e->seq = seqs[i];
        e->type = rnd() % 5 == 0 ? LT_TYPE_DELETION : LT_TYPE_VALUE;
        e->vlen = e->type == LT_TYPE_VALUE ? (size_t)snprintf(e->val, sizeof e->val, "v%llu",
                                                              (unsigned long long)e->seq) : 0;
        if (e->type == LT_TYPE_VALUE && e->seq % 7 == 0) e->vlen = 0;  /* empty values */
        memcpy(e->ikey, e->ukey, e->ulen);
        lt_put_fixed64(e->ikey + e->ulen, lt_pack_trailer(e->seq, e->type));
        e->ilen = e->ulen + 8;
        if (lt_memtable_add(m, e->seq, e->type, lt_slice_make(e->ukey, e->ulen),
                            lt_slice_make(e->val, e->vlen)) != LT_OK) {
            lt_memtable_unref(m);
            return NULL;
        }
    }
    qsort(model, NENT, sizeof model[0], cmp_model);
    return m;
}

static int entry_matches(lt_iter *it, const model_entry *e) {
    lt_slice k = lt_iter_key(it), v = lt_iter_value(it);
    return lt_slice_eq(k, lt_slice_make(e->ikey, e->ilen)) &&
           lt_slice_eq(v, lt_slice_make(e->val, e->vlen));
}

static void test_get_model(void) {
    lt_memtable *m = build_model_table();
    CHECK(m != NULL);
    CHECK_EQ_INT(lt_memtable_count(m), NENT);
    CHECK(lt_memtable_memory_usage(m) > NENT * 16);
    for (int k = 0; k < NKEYS + 5; k++) {  /* the last few keys were never written */
        char uk[16]; size_t ul;
        if (k < NKEYS) make_ukey(k, uk, &ul);
        else ul = (size_t)snprintf(uk, sizeof uk, "zz%d", k);
        for (uint64_t s = 0; s <= NENT + 1; s += 1 + rnd() % 97) {
            const model_entry *e = model_get(uk, ul, s);
            lt_slice v = { 0, 0 };
            int del = -1;
            int rc = lt_memtable_get(m, lt_slice_make(uk, ul), s, &v, &del);
            if (!e) {
                CHECK_EQ_INT(rc, LT_ENOTFOUND);
                CHECK_EQ_INT(del, 0);
            } else if (e->type == LT_TYPE_DELETION) {
                CHECK_EQ_INT(rc, LT_ENOTFOUND);
                CHECK_EQ_INT(del, 1);
            } else {
                CHECK_EQ_INT(rc, LT_OK);
                CHECK(lt_slice_eq(v, lt_slice_make(e->val, e->vlen)));
            }
        }
        /* the newest version, through the largest sequence */
        const model_entry *e = model_get(uk, ul, LT_MAX_SEQ);
        lt_slice v; int del;
        int rc = lt_memtable_get(m, lt_slice_make(uk, ul), UINT64_MAX, &v, &del);
        CHECK_EQ_INT(rc, e && e->type == LT_TYPE_VALUE ? LT_OK : LT_ENOTFOUND);
    }
    /* a duplicate (key, seq) and a bad type are refused */
    CHECK_EQ_INT(lt_memtable_add(m, model[0].seq, model[0].type,
                                 lt_slice_make(model[0].ukey, model[0].ulen),
                                 lt_slice_make("x", 1)), LT_EINVAL);
    CHECK_EQ_INT(lt_memtable_add(m, 99999, 7, lt_slice_make("k", 1), lt_slice_make("", 0)),
                 LT_EINVAL);
    CHECK_EQ_INT(lt_memtable_count(m), NENT);
    lt_memtable_unref(m);
}

static void test_iterate_model(void) {
    lt_memtable *m = build_model_table();
    CHECK(m != NULL);
    lt_iter *it = lt_memtable_iter(m);
    CHECK(it != NULL);
    lt_memtable_unref(m);  /* the iterator keeps it alive */
    CHECK(!lt_iter_valid(it));
    lt_iter_seek_first(it);
    for (int i = 0; i < NENT; i++, lt_iter_next(it)) {
        CHECK(lt_iter_valid(it));
        CHECK(entry_matches(it, &model[i]));
    }
    CHECK(!lt_iter_valid(it));
    lt_iter_seek_last(it);
    for (int i = NENT - 1; i >= 0; i--, lt_iter_prev(it)) {
        CHECK(lt_iter_valid(it));
        CHECK(entry_matches(it, &model[i]));
    }
    CHECK(!lt_iter_valid(it));
    CHECK_EQ_INT(lt_iter_status(it), LT_OK);

    /* seeks to random internal keys, then a random walk */
    for (int round = 0; round < 400; round++) {
        char t[24]; size_t ul;
        make_ukey((int)(rnd() % (NKEYS + 10)), t, &ul);
        uint64_t s = rnd() % (NENT + 2);
        lt_put_fixed64(t + ul, lt_pack_trailer(s, LT_TYPE_FOR_SEEK));
        lt_slice target = lt_slice_make(t, ul + 8);
        int pos = 0;
        while (pos < NENT &&
               lt_ikey_cmp(lt_slice_make(model[pos].ikey, model[pos].ilen), target) < 0)
            pos++;
        lt_iter_seek(it, target);
        for (int step = 0; step < 12; step++) {
            if (pos >= NENT || pos < 0) { CHECK(!lt_iter_valid(it)); break; }
            CHECK(lt_iter_valid(it));
            CHECK(entry_matches(it, &model[pos]));
            if (rnd() % 3 == 0) { lt_iter_prev(it); pos--; }
            else { lt_iter_next(it); pos++; }
        }
    }
    /* a short seek key (bare user key) lands on the first version of that key */
    lt_iter_seek(it, lt_slice_make("ab", 2));
    int pos = 0;
    while (pos < NENT && lt_slice_cmp(lt_slice_make(model[pos].ukey, model[pos].ulen),
                                      lt_slice_make("ab", 2)) < 0)
        pos++;
    CHECK(lt_iter_valid(it));
    CHECK(entry_matches(it, &model[pos]));
    lt_iter_destroy(it);
}

static void test_empty_table(void) {
    lt_memtable *m = lt_memtable_new();
    CHECK(m != NULL);
    lt_iter *it = lt_memtable_iter(m);
    CHECK(it != NULL);
    lt_iter_seek_first(it); CHECK(!lt_iter_valid(it));
    lt_iter_seek_last(it); CHECK(!lt_iter_valid(it));
    lt_iter_seek(it, lt_slice_make("abcdefgh1", 9)); CHECK(!lt_iter_valid(it));
    lt_slice v; int del = 7;
    CHECK_EQ_INT(lt_memtable_get(m, lt_slice_make("a", 1), 10, &v, &del), LT_ENOTFOUND);
    CHECK_EQ_INT(del, 0);
    CHECK_EQ_INT(lt_memtable_count(m), 0);
    lt_iter_destroy(it);
    lt_memtable_unref(m);
}

/* ---- one writer, two readers ------------------------------------------------------- */

#define CONC_N 200000
#define CONC_KEYS 50000

typedef struct conc {
    lt_memtable *m;
    _Atomic uint64_t published;  /* entries 0..published-1 are inserted */
    _Atomic int done;
    _Atomic long errors;
    _Atomic long scans;
    _Atomic long partial_scans;  /* scans that started while the writer was mid-way */
} conc;

/* Entry i: user key "k%08u" of a scrambled index (about 4 versions each), seq i + 1,
 * value "v<i>". */
static size_t conc_key(uint64_t i, char *out) {
    uint32_t k = (uint32_t)((i * 2654435761u) % CONC_KEYS);
    return (size_t)snprintf(out, 16, "k%08u", k);
}

static void *writer_main(void *arg) {
    conc *c = arg;
    for (uint64_t i = 0; i < CONC_N; i++) {
        char k[16], v[24];
        size_t kl = conc_key(i, k), vl = (size_t)snprintf(v, sizeof v, "v%llu",
                                                          (unsigned long long)i);
        if (lt_memtable_add(c->m, i + 1, LT_TYPE_VALUE, lt_slice_make(k, kl),
                            lt_slice_make(v, vl)) != LT_OK) {
            atomic_fetch_add(&c->errors, 1);
            break;
        }
        atomic_store_explicit(&c->published, i + 1, memory_order_release);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

/* A key is well formed if it is "k" + 8 digits + trailer and its value matches its seq. */
static int entry_ok(lt_slice k, lt_slice v) {
    if (k.size != 17 || k.data[0] != 'k' || lt_ikey_type(k) != LT_TYPE_VALUE) return 0;
    uint64_t seq = lt_ikey_seq(k);
    if (seq < 1 || seq > CONC_N) return 0;
    char want[16], wv[24];
    conc_key(seq - 1, want);
    size_t wvl = (size_t)snprintf(wv, sizeof wv, "v%llu", (unsigned long long)(seq - 1));
    return memcmp(k.data, want, 9) == 0 && lt_slice_eq(v, lt_slice_make(wv, wvl));
}

static uint64_t xorshift(uint64_t *r) {
    *r ^= *r << 13; *r ^= *r >> 7; *r ^= *r << 17;
    return *r;
}

/* Walk from the iterator's position; every key must be well formed and strictly
 * ordered in the walk's direction. Returns the number of entries seen, -1 on a bad one. */
static long walk(lt_iter *it, int backward, long limit) {
    char prev[32]; size_t plen = 0;
    long n = 0;
    for (; n < limit && lt_iter_valid(it); backward ? lt_iter_prev(it) : lt_iter_next(it), n++) {
        lt_slice k = lt_iter_key(it);
        if (!entry_ok(k, lt_iter_value(it))) return -1;
        if (plen) {
            int cmp = lt_ikey_cmp(lt_slice_make(prev, plen), k);
            if (backward ? cmp <= 0 : cmp >= 0) return -1;
        }
        memcpy(prev, k.data, k.size); plen = k.size;
    }
    return n;
}

static void *reader_main(void *arg) {
    conc *c = arg;
    lt_iter *it = lt_memtable_iter(c->m);
    if (!it) { atomic_fetch_add(&c->errors, 1); return NULL; }
    uint64_t r = (uint64_t)(uintptr_t)&it | 1;
    while (atomic_load_explicit(&c->published, memory_order_acquire) == 0) {}
    for (int round = 0, last = 0; !last; round++) {
        last = atomic_load(&c->done);
        uint64_t pub = atomic_load_explicit(&c->published, memory_order_acquire);
        int backward = (int)(xorshift(&r) & 1);
        if (round % 8 == 0 || last) {
            /* a full scan sees at least every entry published before it started */
            if (backward) lt_iter_seek_last(it); else lt_iter_seek_first(it);
            long n = walk(it, backward, CONC_N + 1);
            if (n < 0 || (uint64_t)n < pub || (last && n != CONC_N))
                atomic_fetch_add(&c->errors, 1);
            atomic_fetch_add(&c->scans, 1);
            if (pub < CONC_N) atomic_fetch_add(&c->partial_scans, 1);
        } else {
            /* a short walk from a random seek */
            char t[24];
            size_t kl = (size_t)snprintf(t, 16, "k%08u", (unsigned)(xorshift(&r) % CONC_KEYS));
            lt_put_fixed64(t + kl, lt_pack_trailer(LT_MAX_SEQ, LT_TYPE_FOR_SEEK));
            lt_iter_seek(it, lt_slice_make(t, kl + 8));
            if (walk(it, backward, 300) < 0) atomic_fetch_add(&c->errors, 1);
        }
        /* point reads of published entries at their own sequence number */
        for (int j = 0; j < 300; j++) {
            uint64_t i = xorshift(&r) % pub;
            char k[16], wv[24];
            size_t kl = conc_key(i, k);
            size_t wvl = (size_t)snprintf(wv, sizeof wv, "v%llu", (unsigned long long)i);
            lt_slice v; int del;
            if (lt_memtable_get(c->m, lt_slice_make(k, kl), i + 1, &v, &del) != LT_OK ||
                !lt_slice_eq(v, lt_slice_make(wv, wvl)))
                atomic_fetch_add(&c->errors, 1);
        }
    }
    lt_iter_destroy(it);
    return NULL;
}

static void test_concurrent(void) {
    conc c;
    c.m = lt_memtable_new();
    CHECK(c.m != NULL);
    atomic_init(&c.published, 0);
    atomic_init(&c.done, 0);
    atomic_init(&c.errors, 0);
    atomic_init(&c.scans, 0);
    atomic_init(&c.partial_scans, 0);
    pthread_t w, r[2];
    CHECK_EQ_INT(pthread_create(&r[0], NULL, reader_main, &c), 0);
    CHECK_EQ_INT(pthread_create(&r[1], NULL, reader_main, &c), 0);
    CHECK_EQ_INT(pthread_create(&w, NULL, writer_main, &c), 0);
    pthread_join(w, NULL);
    pthread_join(r[0], NULL);
    pthread_join(r[1], NULL);
    CHECK_EQ_INT(atomic_load(&c.errors), 0);
    CHECK(atomic_load(&c.scans) >= 2);
    fprintf(stderr, "     %ld full scans, %ld of them during the writes\n", (long)atomic_load(&c.scans),
            (long)atomic_load(&c.partial_scans));
    CHECK_EQ_INT(lt_memtable_count(c.m), CONC_N);
    lt_memtable_unref(c.m);
}

int main(void) {
    RUN(test_empty_table);
    RUN(test_get_model);
    RUN(test_iterate_model);
    RUN(test_concurrent);
    TEST_MAIN_END();
}
