/* test_cache.c: the ARC block cache: hits and misses, replacement of a key, capacity,
 * pinned entries outliving eviction, scan resistance, ghost-hit promotion,
 * erase_file, statistics, and a multithreaded insert/lookup/release stress. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lightning.h"
#include "../table/cache.h"
#include "testutil.h"

static atomic_long deleted;

typedef struct val {
    uint64_t file, off;
    int *freed; /* set when deleted, if not NULL */
} val;

static void val_delete(void *p) {
    val *v = p;
    if (v->freed) *v->freed = 1;
    atomic_fetch_add(&deleted, 1);
    free(v);
}

static val *mkval(uint64_t file, uint64_t off, int *freed) {
    val *v = malloc(sizeof *v);
    v->file = file;
    v->off = off;
    v->freed = freed;
    return v;
}

/* Look the key up; on a miss insert it. Returns 1 on a hit. */
static int touch(lt_cache *c, uint64_t file, uint64_t off, size_t charge) {
    lt_cache_handle *h = lt_cache_lookup(c, file, off);
    int hit = h != NULL;
    if (!h) h = lt_cache_insert(c, file, off, mkval(file, off, NULL), charge, val_delete);
    lt_cache_release(c, h);
    return hit;
}

static void test_basic_and_stats(void) {
    lt_cache_stats st;
    lt_cache *c = lt_cache_new(1 << 20);
    CHECK(c != NULL);
    CHECK(lt_cache_lookup(c, 1, 0) == NULL);
    lt_cache_handle *h = lt_cache_insert(c, 1, 0, mkval(1, 0, NULL), 100, val_delete);
    CHECK(h != NULL);
    val *v = lt_cache_value(h);
    CHECK(v->file == 1 && v->off == 0);
    lt_cache_release(c, h);
    h = lt_cache_lookup(c, 1, 0);
    CHECK(h != NULL && lt_cache_value(h) == v);
    lt_cache_release(c, h);
    CHECK(lt_cache_lookup(c, 1, 4096) == NULL);
    CHECK(lt_cache_lookup(c, 2, 0) == NULL);
    lt_cache_get_stats(c, &st);
    CHECK_EQ_INT(st.hits, 1);
    CHECK_EQ_INT(st.misses, 3);
    CHECK_EQ_INT(st.inserts, 1);
    CHECK_EQ_INT(st.evictions, 0);
    CHECK_EQ_INT(st.usage, 100);
    CHECK_EQ_INT(st.capacity, 1 << 20);
    lt_cache_free(c);
}

static void test_replace_key(void) {
    int freed1 = 0, freed2 = 0;
    lt_cache *c = lt_cache_new(1 << 20);
    lt_cache_handle *h1 = lt_cache_insert(c, 3, 7, mkval(3, 7, &freed1), 10, val_delete);
    lt_cache_handle *h2 = lt_cache_insert(c, 3, 7, mkval(3, 7, &freed2), 20, val_delete);
    CHECK(!freed1 && !freed2); /* h1 still pins the old value */
    lt_cache_handle *h3 = lt_cache_lookup(c, 3, 7);
    CHECK(h3 == h2);
    lt_cache_release(c, h1);
    CHECK(freed1 && !freed2);
    lt_cache_release(c, h3);
    lt_cache_release(c, h2);
    lt_cache_stats st;
    lt_cache_get_stats(c, &st);
    CHECK_EQ_INT(st.usage, 20);
    lt_cache_free(c);
    CHECK(freed2);
}

static void test_capacity(void) {
    const size_t cap = 64 * 1024;
    lt_cache_stats st;
    long before = atomic_load(&deleted);
    lt_cache *c = lt_cache_new(cap);
    for (uint64_t i = 0; i < 2000; i++) {
        touch(c, 1, i * 4096, 700 + (i % 7) * 100);
        lt_cache_get_stats(c, &st);
        CHECK(st.usage <= cap);
    }
    CHECK(st.usage > cap / 2);
    CHECK_EQ_INT(st.inserts, 2000);
    /* every evicted (unpinned) entry has been deleted */
    CHECK_EQ_INT(atomic_load(&deleted) - before, (long)st.evictions);
    lt_cache_free(c);
    CHECK_EQ_INT(atomic_load(&deleted) - before, 2000);
}

static void test_pinned_survive_eviction(void) {
    int freed = 0;
    lt_cache *c = lt_cache_new(10000);
    lt_cache_handle *h = lt_cache_insert(c, 9, 0, mkval(9, 0, &freed), 1000, val_delete);
    for (uint64_t i = 1; i <= 100; i++) touch(c, 9, i, 1000);
    CHECK(lt_cache_lookup(c, 9, 0) == NULL); /* evicted ... */
    CHECK(!freed);                           /* ... but still pinned */
    val *v = lt_cache_value(h);
    CHECK(v->file == 9 && v->off == 0);
    lt_cache_release(c, h);
    CHECK(freed);
    /* an entry bigger than the whole cache is handed out but never resident */
    freed = 0;
    h = lt_cache_insert(c, 9, 1000, mkval(9, 1000, &freed), 20000, val_delete);
    CHECK(h != NULL && !freed);
    CHECK(lt_cache_lookup(c, 9, 1000) == NULL);
    lt_cache_release(c, h);
    CHECK(freed);
    lt_cache_free(c);
}

/* A working set referenced twice (T2) survives a one-time scan many times larger
 * than the cache; the scan itself does not stay. */
static void scan_resistance(size_t cap, size_t charge) {
    lt_cache *c = lt_cache_new(cap);
    size_t nwork = cap / charge / 4, nscan = 8 * cap / charge;
    for (int round = 0; round < 3; round++)
        for (uint64_t i = 0; i < nwork; i++) touch(c, 1, i, charge);
    for (uint64_t i = 0; i < nscan; i++) touch(c, 2, i, charge);
    size_t hits = 0, scan_hits = 0;
    for (uint64_t i = 0; i < nwork; i++) hits += (size_t)touch(c, 1, i, charge);
    for (uint64_t i = 0; i < nscan / 2; i++) {
        lt_cache_handle *h = lt_cache_lookup(c, 2, i);
        if (h) { scan_hits++; lt_cache_release(c, h); }
    }
    fprintf(stderr, "  cap %zu: working set %zu/%zu hits after a scan of %zu; %zu of the early scan resident\n",
            cap, hits, nwork, nscan, scan_hits);
    lt_cache_free(c);
    CHECK(hits * 100 >= nwork * 99);
    CHECK(scan_hits == 0);
}

static void test_scan_resistance(void) {
    scan_resistance(400 * 1024, 100);       /* one shard */
    scan_resistance(16 * 1024 * 1024, 1000); /* sixteen shards */
}

/* A key evicted from T1 and inserted again while remembered in B1 goes to T2 and
 * so survives the next scan. */
static void test_ghost_hit_promotes(void) {
    const size_t cap = 100 * 1000, charge = 1000;
    lt_cache *c = lt_cache_new(cap);
    for (int round = 0; round < 2; round++)  /* 40 entries in T2 */
        for (uint64_t i = 0; i < 40; i++) touch(c, 1, i, charge);
    touch(c, 3, 0, charge);                  /* X once: T1 */
    for (uint64_t i = 0; i < 70; i++) touch(c, 2, i, charge); /* X goes to B1 */
    CHECK(lt_cache_lookup(c, 3, 0) == NULL);
    touch(c, 3, 0, charge);                  /* ghost hit: X into T2 */
    for (uint64_t i = 100; i < 400; i++) touch(c, 2, i, charge);
    lt_cache_handle *h = lt_cache_lookup(c, 3, 0);
    CHECK(h != NULL);
    lt_cache_release(c, h);
    /* a key seen once and scanned away is not promoted this way */
    touch(c, 4, 0, charge);
    for (uint64_t i = 1000; i < 1300; i++) touch(c, 2, i, charge);
    CHECK(lt_cache_lookup(c, 4, 0) == NULL);
    lt_cache_free(c);
}

static void test_erase_file(void) {
    int freed[10] = { 0 };
    lt_cache *c = lt_cache_new(1 << 20);
    for (uint64_t i = 0; i < 10; i++)
        lt_cache_release(c, lt_cache_insert(c, 1 + i % 2, i, mkval(1 + i % 2, i, &freed[i]), 10, val_delete));
    lt_cache_handle *pinned = lt_cache_lookup(c, 1, 2);
    CHECK(pinned != NULL);
    lt_cache_erase_file(c, 1);
    for (uint64_t i = 0; i < 10; i++) {
        lt_cache_handle *h = lt_cache_lookup(c, 1 + i % 2, i);
        if (i % 2 == 0) {
            CHECK(h == NULL);
            CHECK(freed[i] == (i != 2));
        } else {
            CHECK(h != NULL && !freed[i]);
            lt_cache_release(c, h);
        }
    }
    lt_cache_release(c, pinned);
    CHECK(freed[2]);
    lt_cache_stats st;
    lt_cache_get_stats(c, &st);
    CHECK_EQ_INT(st.usage, 50);
    lt_cache_free(c);
}

/* ---- multithreaded stress ---- */

typedef struct stress_arg {
    lt_cache *c;
    unsigned seed;
    long bad;
} stress_arg;

static void *stress_thread(void *p) {
    stress_arg *a = p;
    unsigned s = a->seed;
    lt_cache_handle *held[4] = { NULL, NULL, NULL, NULL };
    for (int i = 0; i < 200000; i++) {
        s = s * 1103515245u + 12345u;
        uint64_t file = (s >> 8) % 7, off = ((s >> 12) % 3000) * 4096;
        lt_cache_handle *h = lt_cache_lookup(a->c, file, off);
        if (!h) h = lt_cache_insert(a->c, file, off, mkval(file, off, NULL), 500 + (s >> 24) * 8, val_delete);
        val *v = lt_cache_value(h);
        if (v->file != file || v->off != off) a->bad++;
        /* keep a few handles pinned for a while */
        int slot = (int)((s >> 5) & 3);
        if (held[slot]) lt_cache_release(a->c, held[slot]);
        held[slot] = h;
        if ((s & 0xffff) == 0) lt_cache_erase_file(a->c, file);
    }
    for (int k = 0; k < 4; k++)
        if (held[k]) lt_cache_release(a->c, held[k]);
    return NULL;
}

static void test_threads(void) {
    long before = atomic_load(&deleted);
    lt_cache *c = lt_cache_new(4 << 20);
    pthread_t th[4];
    stress_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].c = c;
        args[i].seed = 17u + 7919u * (unsigned)i;
        args[i].bad = 0;
        pthread_create(&th[i], NULL, stress_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    lt_cache_stats st;
    lt_cache_get_stats(c, &st);
    fprintf(stderr, "  hits %llu misses %llu inserts %llu evictions %llu usage %zu\n",
            (unsigned long long)st.hits, (unsigned long long)st.misses,
            (unsigned long long)st.inserts, (unsigned long long)st.evictions, st.usage);
    CHECK(st.usage <= st.capacity);
    CHECK_EQ_INT(st.hits + st.misses, 800000);
    CHECK_EQ_INT(st.inserts, st.misses);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(args[i].bad, 0);
    lt_cache_free(c);
    CHECK_EQ_INT(atomic_load(&deleted) - before, (long)st.inserts);
}

int main(void) {
    RUN(test_basic_and_stats);
    RUN(test_replace_key);
    RUN(test_capacity);
    RUN(test_pinned_survive_eviction);
    RUN(test_scan_resistance);
    RUN(test_ghost_hit_promotes);
    RUN(test_erase_file);
    RUN(test_threads);
    TEST_MAIN_END();
}
