/* test_iterator.c: the merging and two-level iterators against sorted models, over
 * vector-backed test iterators: both directions, direction switches after seeks,
 * repeated keys, empty blocks, block caching and errors from children and openers. */
#include <stdint.h>
#include <stdio.h>
#include "../util/iterator.h"
#include "../util/status.h"
#include "testutil.h"

/* ---- a vector-backed iterator over sorted C strings ------------------------------ */

typedef struct vec_iter {
    lt_iter base;
    const char *const *keys, *const *vals;
    int n, pos;
    int fail_at;  /* arriving at this position fails with LT_ECORRUPT (-2: never) */
    int failed;
} vec_iter;

static void vec_set(vec_iter *v, int pos) {
    v->pos = pos;
    if (pos == v->fail_at) v->failed = 1;
}
static int vec_valid(lt_iter *it) {
    vec_iter *v = (vec_iter *)it;
    return !v->failed && v->pos >= 0 && v->pos < v->n;
}
static void vec_first(lt_iter *it) { vec_set((vec_iter *)it, 0); }
static void vec_last(lt_iter *it) { vec_set((vec_iter *)it, ((vec_iter *)it)->n - 1); }
static void vec_seek(lt_iter *it, lt_slice t) {
    vec_iter *v = (vec_iter *)it;
    int p = 0;
    while (p < v->n && lt_slice_cmp(lt_slice_make(v->keys[p], strlen(v->keys[p])), t) < 0) p++;
    vec_set(v, p);
}
static void vec_next(lt_iter *it) { vec_set((vec_iter *)it, ((vec_iter *)it)->pos + 1); }
static void vec_prev(lt_iter *it) { vec_set((vec_iter *)it, ((vec_iter *)it)->pos - 1); }
static lt_slice vec_key(lt_iter *it) {
    vec_iter *v = (vec_iter *)it;
    return lt_slice_make(v->keys[v->pos], strlen(v->keys[v->pos]));
}
static lt_slice vec_value(lt_iter *it) {
    vec_iter *v = (vec_iter *)it;
    return lt_slice_make(v->vals[v->pos], strlen(v->vals[v->pos]));
}
static int vec_status(lt_iter *it) { return ((vec_iter *)it)->failed ? LT_ECORRUPT : LT_OK; }
static void vec_destroy(lt_iter *it) { free(it); }

static const lt_iter_vtbl vec_vtbl = {
    vec_valid, vec_first, vec_last, vec_seek, vec_next, vec_prev,
    vec_key, vec_value, vec_status, vec_destroy,
};

static lt_iter *vec_new(const char *const *keys, const char *const *vals, int n, int fail_at) {
    vec_iter *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->base.v = &vec_vtbl;
    v->keys = keys; v->vals = vals; v->n = n; v->pos = -1; v->fail_at = fail_at;
    return &v->base;
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return rng_state;
}
static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Model entries: key and value strings in the order the combined iterator yields. */
typedef struct model { const char *keys[4096]; const char *vals[4096]; int n; } model;

static int at_model(lt_iter *it, const model *m, int pos) {
    if (pos < 0 || pos >= m->n) return !lt_iter_valid(it);
    return lt_iter_valid(it) &&
           lt_slice_eq(lt_iter_key(it), lt_slice_make(m->keys[pos], strlen(m->keys[pos]))) &&
           lt_slice_eq(lt_iter_value(it), lt_slice_make(m->vals[pos], strlen(m->vals[pos])));
}

/* Random operations (seeks to present and absent keys, seek_first, seek_last, next,
 * prev) compared step by step with a cursor over the model. 1 if every step matched. */
static int random_walk(lt_iter *it, const model *m, int steps) {
    int pos = -1;
    for (int s = 0; s < steps; s++) {
        int op = (int)(rnd() % 10);
        if (pos < 0 || pos >= m->n) op = op % 3;  /* only repositioning when not valid */
        if (op == 0) {
            char t[32];
            snprintf(t, sizeof t, "k%03d%s", (int)(rnd() % 70), rnd() % 2 ? "" : "+");
            lt_iter_seek(it, lt_slice_make(t, strlen(t)));
            for (pos = 0; pos < m->n && strcmp(m->keys[pos], t) < 0; pos++) {}
        } else if (op == 1) {
            lt_iter_seek_first(it); pos = 0;
        } else if (op == 2) {
            lt_iter_seek_last(it); pos = m->n - 1;
        } else if (op < 6) {
            lt_iter_next(it); pos++;
        } else {
            lt_iter_prev(it); pos--;
        }
        if (!at_model(it, m, pos)) {
            fprintf(stderr, "random walk: mismatch at step %d (op %d, pos %d of %d)\n",
                    s, op, pos, m->n);
            return 0;
        }
    }
    return lt_iter_status(it) == LT_OK;
}

static int full_scans(lt_iter *it, const model *m) {
    int pos = 0;
    for (lt_iter_seek_first(it); pos < m->n; lt_iter_next(it), pos++)
        if (!at_model(it, m, pos)) return 0;
    if (lt_iter_valid(it)) return 0;
    pos = m->n - 1;
    for (lt_iter_seek_last(it); pos >= 0; lt_iter_prev(it), pos--)
        if (!at_model(it, m, pos)) return 0;
    return !lt_iter_valid(it) && lt_iter_status(it) == LT_OK;
}

/* ---- merging ----------------------------------------------------------------------- */

#define NCHILD 6
#define PER_CHILD 40

static void test_merging_model(void) {
    for (int round = 0; round < 30; round++) {
        static char *keys[NCHILD][PER_CHILD], *vals[NCHILD][PER_CHILD];
        static model m;
        int counts[NCHILD];
        lt_iter *kids[NCHILD];
        m.n = 0;
        for (int c = 0; c < NCHILD; c++) {
            counts[c] = c == 2 ? 0 : (int)(rnd() % PER_CHILD) + 1;  /* child 2 is empty */
            for (int i = 0; i < counts[c]; i++) {
                char k[32];
                snprintf(k, sizeof k, "k%03d", (int)(rnd() % 60));  /* many repeats */
                keys[c][i] = xstrdup(k);
            }
            qsort(keys[c], (size_t)counts[c], sizeof(char *), cmp_str);
            for (int i = 0; i < counts[c]; i++) {
                char v[32];
                snprintf(v, sizeof v, "c%d.%d", c, i);
                vals[c][i] = xstrdup(v);
            }
            kids[c] = vec_new((const char *const *)keys[c], (const char *const *)vals[c],
                              counts[c], -2);
        }
        /* model order: key, then child, then position within the child */
        for (int k = 0; k < 60; k++) {
            char key[32];
            snprintf(key, sizeof key, "k%03d", k);
            for (int c = 0; c < NCHILD; c++)
                for (int i = 0; i < counts[c]; i++)
                    if (strcmp(keys[c][i], key) == 0) {
                        m.keys[m.n] = keys[c][i]; m.vals[m.n] = vals[c][i]; m.n++;
                    }
        }
        lt_iter *it = lt_iter_merging(lt_slice_cmp, kids, NCHILD);
        int ok = it && full_scans(it, &m) && random_walk(it, &m, 3000);
        lt_iter_destroy(it);
        for (int c = 0; c < NCHILD; c++)
            for (int i = 0; i < counts[c]; i++) { free(keys[c][i]); free(vals[c][i]); }
        CHECK(ok);
    }
}

static void test_merging_small(void) {
    static const char *const k0[] = { "a", "c" }, *const v0[] = { "0a", "0c" };
    static const char *const k1[] = { "b", "c", "d" }, *const v1[] = { "1b", "1c", "1d" };
    /* n == 0 and n == 1 */
    lt_iter *it = lt_iter_merging(lt_slice_cmp, NULL, 0);
    CHECK(it != NULL);
    lt_iter_seek_first(it);
    CHECK(!lt_iter_valid(it));
    lt_iter_destroy(it);
    lt_iter *one[1] = { vec_new(k0, v0, 2, -2) };
    it = lt_iter_merging(lt_slice_cmp, one, 1);
    CHECK(it != NULL);
    lt_iter_seek_last(it);
    CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_value(it), lt_slice_make("0c", 2)));
    lt_iter_destroy(it);
    /* a direction switch at a repeated key: c from child 0 comes before c from child 1 */
    lt_iter *two[2] = { vec_new(k0, v0, 2, -2), vec_new(k1, v1, 3, -2) };
    it = lt_iter_merging(lt_slice_cmp, two, 2);
    CHECK(it != NULL);
    lt_iter_seek(it, lt_slice_make("c", 1));
    CHECK(lt_slice_eq(lt_iter_value(it), lt_slice_make("0c", 2)));
    lt_iter_next(it);
    CHECK(lt_slice_eq(lt_iter_value(it), lt_slice_make("1c", 2)));
    lt_iter_prev(it);
    CHECK(lt_slice_eq(lt_iter_value(it), lt_slice_make("0c", 2)));
    lt_iter_prev(it);
    CHECK(lt_slice_eq(lt_iter_value(it), lt_slice_make("1b", 2)));
    lt_iter_next(it);
    CHECK(lt_slice_eq(lt_iter_value(it), lt_slice_make("0c", 2)));
    lt_iter_destroy(it);
    /* a NULL child (failed allocation) fails the merge; the children stay ours */
    lt_iter *bad[2] = { vec_new(k0, v0, 2, -2), NULL };
    CHECK(lt_iter_merging(lt_slice_cmp, bad, 2) == NULL);
    lt_iter_destroy(bad[0]);
}

static void test_merging_errors(void) {
    static const char *const k0[] = { "a", "c", "e", "g" }, *const v0[] = { "", "", "", "" };
    static const char *const k1[] = { "b", "d", "f" }, *const v1[] = { "", "", "" };
    /* child 1 fails when it arrives at "d": the merge must stop there, not skip it */
    lt_iter *kids[3] = { vec_new(k0, v0, 4, -2), vec_new(k1, v1, 3, 1), lt_iter_empty(LT_OK) };
    lt_iter *it = lt_iter_merging(lt_slice_cmp, kids, 3);
    CHECK(it != NULL);
    lt_iter_seek_first(it);
    CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), lt_slice_make("a", 1)));
    lt_iter_next(it);
    CHECK(lt_iter_valid(it) && lt_slice_eq(lt_iter_key(it), lt_slice_make("b", 1)));
    lt_iter_next(it);
    CHECK(!lt_iter_valid(it));
    CHECK_EQ_INT(lt_iter_status(it), LT_ECORRUPT);
    lt_iter_destroy(it);
    /* an error-carrying empty child */
    lt_iter *kids2[2] = { vec_new(k0, v0, 4, -2), lt_iter_empty(LT_EIO) };
    it = lt_iter_merging(lt_slice_cmp, kids2, 2);
    CHECK(it != NULL);
    lt_iter_seek_first(it);
    CHECK(!lt_iter_valid(it));
    CHECK_EQ_INT(lt_iter_status(it), LT_EIO);
    lt_iter_destroy(it);
}

/* ---- two-level --------------------------------------------------------------------- */

#define NBLOCKS 12

typedef struct fake_table {
    char *keys[400], *vals[400];
    int start[NBLOCKS + 1];          /* block b holds entries [start[b], start[b+1]) */
    char *index_keys[NBLOCKS], *index_vals[NBLOCKS];
    int opens;
    int err_block, null_block, fail_entry;  /* -1: none */
} fake_table;

static lt_iter *fake_open(void *arg, lt_slice handle) {
    fake_table *t = arg;
    int b = atoi(handle.data + 3);  /* "blk<b>", NUL-terminated in index_vals */
    t->opens++;
    if (b == t->err_block) return lt_iter_empty(LT_ECORRUPT);
    if (b == t->null_block) return NULL;
    int fail = t->fail_entry >= t->start[b] && t->fail_entry < t->start[b + 1]
                   ? t->fail_entry - t->start[b] : -2;
    return vec_new((const char *const *)t->keys + t->start[b],
                   (const char *const *)t->vals + t->start[b], t->start[b + 1] - t->start[b],
                   fail);
}

/* Blocks of 0..9 entries (blocks 0, 5 and the last are always empty); index keys are
 * the largest key so far, as a table index would have. */
static void fake_build(fake_table *t, model *m) {
    int n = 0;
    memset(t, 0, sizeof *t);
    t->err_block = t->null_block = t->fail_entry = -1;
    for (int b = 0; b < NBLOCKS; b++) {
        t->start[b] = n;
        int cnt = (b == 0 || b == 5 || b == NBLOCKS - 1) ? 0 : (int)(rnd() % 10);
        for (int i = 0; i < cnt; i++, n++) {
            char k[32], v[32];
            snprintf(k, sizeof k, "k%03d", n * 60 / 80);  /* keys repeat across blocks */
            snprintf(v, sizeof v, "e%d", n);
            t->keys[n] = xstrdup(k); t->vals[n] = xstrdup(v);
        }
        char iv[32];
        snprintf(iv, sizeof iv, "blk%d", b);
        t->index_keys[b] = xstrdup(n ? t->keys[n - 1] : "");
        t->index_vals[b] = xstrdup(iv);
    }
    t->start[NBLOCKS] = n;
    m->n = n;
    for (int i = 0; i < n; i++) { m->keys[i] = t->keys[i]; m->vals[i] = t->vals[i]; }
}

static void fake_free(fake_table *t) {
    for (int i = 0; i < t->start[NBLOCKS]; i++) { free(t->keys[i]); free(t->vals[i]); }
    for (int b = 0; b < NBLOCKS; b++) { free(t->index_keys[b]); free(t->index_vals[b]); }
}

static lt_iter *fake_iter(fake_table *t) {
    lt_iter *index = vec_new((const char *const *)t->index_keys,
                             (const char *const *)t->index_vals, NBLOCKS, -2);
    return lt_iter_two_level(index, fake_open, t);
}

static void test_two_level_model(void) {
    for (int round = 0; round < 20; round++) {
        static fake_table t;
        static model m;
        fake_build(&t, &m);
        lt_iter *it = fake_iter(&t);
        CHECK(it != NULL);
        int ok = 1;
        lt_iter_seek_first(it);
        for (int i = 0; i < m.n; i++, lt_iter_next(it)) ok = ok && at_model(it, &m, i);
        ok = ok && !lt_iter_valid(it) && t.opens == NBLOCKS;  /* each block opened once */
        t.opens = 0;
        ok = ok && full_scans(it, &m) && t.opens == 2 * NBLOCKS;
        ok = ok && random_walk(it, &m, 3000);
        /* seeking twice inside one block does not reopen it */
        if (ok && m.n > 0) {
            const char *target = m.keys[rnd() % (uint64_t)m.n];
            int pos = 0;
            while (strcmp(m.keys[pos], target) < 0) pos++;
            lt_iter_seek(it, lt_slice_make(target, strlen(target)));
            int before = t.opens;
            lt_iter_seek(it, lt_slice_make(target, strlen(target)));
            ok = at_model(it, &m, pos) && t.opens == before;
        }
        lt_iter_destroy(it);
        fake_free(&t);
        CHECK(ok);
    }
}

static void test_two_level_errors(void) {
    static fake_table t;
    static model m;
    rng_state = 12345;
    fake_build(&t, &m);
    CHECK(t.start[8] > t.start[7] && t.start[9] > t.start[8]);  /* blocks 7, 8 not empty */
    for (int kind = 0; kind < 3; kind++) {
        /* kind 0: opener error on block 7; 1: opener out of memory; 2: first entry of
         * block 8 corrupt. Forward iteration stops there with the error. */
        t.err_block = kind == 0 ? 7 : -1;
        t.null_block = kind == 1 ? 7 : -1;
        t.fail_entry = kind == 2 ? t.start[8] : -1;
        int stop = kind == 2 ? t.start[8] : t.start[7];
        int want = kind == 1 ? LT_ENOMEM : LT_ECORRUPT;
        lt_iter *it = fake_iter(&t);
        CHECK(it != NULL);
        int i = 0;
        for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it), i++)
            CHECK(at_model(it, &m, i));
        CHECK_EQ_INT(i, stop);
        CHECK_EQ_INT(lt_iter_status(it), want);
        if (kind == 1) CHECK(strstr(lt_errmsg(), "two-level") != NULL);
        /* the error is latched: later seeks stay invalid, even past the bad block */
        lt_iter_seek_first(it);
        CHECK(!lt_iter_valid(it));
        lt_iter_seek(it, lt_slice_make(m.keys[m.n - 1], strlen(m.keys[m.n - 1])));
        CHECK(!lt_iter_valid(it));
        lt_iter_seek_last(it);
        CHECK(!lt_iter_valid(it));
        CHECK_EQ_INT(lt_iter_status(it), want);
        lt_iter_destroy(it);
        /* backward from the end stops after the blocks past the bad one */
        it = fake_iter(&t);
        CHECK(it != NULL);
        i = m.n - 1;
        for (lt_iter_seek_last(it); lt_iter_valid(it); lt_iter_prev(it), i--)
            CHECK(at_model(it, &m, i));
        CHECK_EQ_INT(i, kind == 2 ? t.start[8] : t.start[8] - 1);
        CHECK_EQ_INT(lt_iter_status(it), want);
        lt_iter_destroy(it);
    }
    /* an index that fails */
    lt_iter *it = lt_iter_two_level(lt_iter_empty(LT_EIO), fake_open, &t);
    CHECK(it != NULL);
    lt_iter_seek(it, lt_slice_make("k", 1));
    CHECK(!lt_iter_valid(it));
    CHECK_EQ_INT(lt_iter_status(it), LT_EIO);
    lt_iter_destroy(it);
    CHECK(lt_iter_two_level(NULL, fake_open, &t) == NULL);
    fake_free(&t);
}

int main(void) {
    RUN(test_merging_small);
    RUN(test_merging_model);
    RUN(test_merging_errors);
    RUN(test_two_level_model);
    RUN(test_two_level_errors);
    TEST_MAIN_END();
}
