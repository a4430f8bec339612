/* iterator.c: the iterators built only from other iterators: the empty (or
 * error-carrying) iterator, the merging iterator over n children, and the two-level
 * iterator (index -> blocks). Contracts in iterator.h.
 *
 * Errors stop iteration: as soon as a child (merging) or the index or a block
 * (two-level) reports a bad status, the combined iterator becomes not valid and its
 * status reports that error, so a reader never skips silently over a damaged part. */
#include <stdlib.h>
#include "iterator.h"
#include "status.h"

/* ---- empty ------------------------------------------------------------------------- */

typedef struct empty_iter {
    lt_iter base;
    int status;
} empty_iter;

static int e_valid(lt_iter *it) { (void)it; return 0; }
static void e_move(lt_iter *it) { (void)it; }
static void e_seek(lt_iter *it, lt_slice t) { (void)it; (void)t; }
static lt_slice e_slice(lt_iter *it) { (void)it; return lt_slice_make("", 0); }
static int e_status(lt_iter *it) { return ((empty_iter *)it)->status; }
static void e_destroy(lt_iter *it);

static const lt_iter_vtbl empty_vtbl = {
    e_valid, e_move, e_move, e_seek, e_move, e_move, e_slice, e_slice, e_status, e_destroy,
};
/* The OK empty iterator is shared and never freed, so it cannot fail to allocate. */
static empty_iter empty_ok = { { &empty_vtbl }, LT_OK };

static void e_destroy(lt_iter *it) {
    if (it != &empty_ok.base) free(it);
}

lt_iter *lt_iter_empty(int status) {
    if (status == LT_OK) return &empty_ok.base;
    empty_iter *e = malloc(sizeof *e);
    if (!e) {
        lt_seterr(LT_ENOMEM, "iterator: out of memory");
        return NULL;
    }
    e->base.v = &empty_vtbl;
    e->status = status;
    return &e->base;
}

/* ---- merging ----------------------------------------------------------------------- *
 * Forward invariant: every child is at its first entry not yet yielded in merged
 * order; `cur` is the child with the smallest key, the lowest index among ties.
 * Reverse invariant: every child is at its last entry before the merged position;
 * `cur` has the largest key, the highest index among ties, so reverse order is exactly
 * forward order reversed. Switching direction at key K held by child c repositions
 * every other child i: forward needs i < c after its entries == K, i > c at its first
 * entry >= K; reverse needs i < c at its last entry <= K, i > c at its last < K.
 * Each child's key and state are cached so a step costs one child move and a scan of
 * the cache. */

enum { M_FORWARD, M_REVERSE };

typedef struct m_child {
    lt_iter *it;
    lt_slice key;   /* cached key when state == 1 */
    int state;      /* 1 valid, 0 exhausted, -1 stopped by an error */
} m_child;

typedef struct merge_iter {
    lt_iter base;
    lt_cmp_fn cmp;
    int n, cur, dir;  /* cur < 0: not valid */
    m_child kids[];
} merge_iter;

static void m_refresh(m_child *c) {
    if (lt_iter_valid(c->it)) {
        c->state = 1;
        c->key = lt_iter_key(c->it);
    } else {
        c->state = lt_iter_status(c->it) == LT_OK ? 0 : -1;
    }
}

static void m_find_smallest(merge_iter *m) {
    int best = -1;
    for (int i = 0; i < m->n; i++) {
        const m_child *c = &m->kids[i];
        if (c->state < 0) { m->cur = -1; return; }
        if (c->state && (best < 0 || m->cmp(c->key, m->kids[best].key) < 0)) best = i;
    }
    m->cur = best;
}

static void m_find_largest(merge_iter *m) {
    int best = -1;
    for (int i = m->n - 1; i >= 0; i--) {
        const m_child *c = &m->kids[i];
        if (c->state < 0) { m->cur = -1; return; }
        if (c->state && (best < 0 || m->cmp(c->key, m->kids[best].key) > 0)) best = i;
    }
    m->cur = best;
}

/* Position child i just after (forward) or just before (reverse) key k of child cur. */
static void m_reposition(merge_iter *m, int i, lt_slice k, int dir) {
    lt_iter *it = m->kids[i].it;
    lt_iter_seek(it, k);
    if (i < m->cur)
        while (lt_iter_valid(it) && m->cmp(lt_iter_key(it), k) == 0) lt_iter_next(it);
    if (dir == M_REVERSE) {
        if (lt_iter_valid(it)) lt_iter_prev(it);
        else if (lt_iter_status(it) == LT_OK) lt_iter_seek_last(it);
    }
    m_refresh(&m->kids[i]);
}

static void m_switch(merge_iter *m, int dir) {
    lt_slice k = m->kids[m->cur].key;  /* stays valid: child cur does not move here */
    for (int i = 0; i < m->n; i++)
        if (i != m->cur) m_reposition(m, i, k, dir);
    m->dir = dir;
}

static int m_valid(lt_iter *it) { return ((merge_iter *)it)->cur >= 0; }

static void m_seek_first(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++) { lt_iter_seek_first(m->kids[i].it); m_refresh(&m->kids[i]); }
    m->dir = M_FORWARD;
    m_find_smallest(m);
}

static void m_seek_last(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++) { lt_iter_seek_last(m->kids[i].it); m_refresh(&m->kids[i]); }
    m->dir = M_REVERSE;
    m_find_largest(m);
}

static void m_seek(lt_iter *it, lt_slice target) {
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++) { lt_iter_seek(m->kids[i].it, target); m_refresh(&m->kids[i]); }
    m->dir = M_FORWARD;
    m_find_smallest(m);
}

static void m_next(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    if (m->dir != M_FORWARD) m_switch(m, M_FORWARD);
    m_child *c = &m->kids[m->cur];
    lt_iter_next(c->it);
    m_refresh(c);
    m_find_smallest(m);
}

static void m_prev(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    if (m->dir != M_REVERSE) m_switch(m, M_REVERSE);
    m_child *c = &m->kids[m->cur];
    lt_iter_prev(c->it);
    m_refresh(c);
    m_find_largest(m);
}

static lt_slice m_key(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    return m->kids[m->cur].key;
}

static lt_slice m_value(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    return lt_iter_value(m->kids[m->cur].it);
}

static int m_status(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++) {
        int st = lt_iter_status(m->kids[i].it);
        if (st != LT_OK) return st;
    }
    return LT_OK;
}

static void m_destroy(lt_iter *it) {
    merge_iter *m = (merge_iter *)it;
    for (int i = 0; i < m->n; i++) lt_iter_destroy(m->kids[i].it);
    free(m);
}

static const lt_iter_vtbl merge_vtbl = {
    m_valid, m_seek_first, m_seek_last, m_seek, m_next, m_prev,
    m_key, m_value, m_status, m_destroy,
};

lt_iter *lt_iter_merging(lt_cmp_fn cmp, lt_iter **children, int n) {
    merge_iter *m = NULL;
    for (int i = 0; i < n; i++)
        if (!children[i]) goto fail;  /* a child that failed to allocate */
    if (n <= 0) return lt_iter_empty(LT_OK);
    if (n == 1) return children[0];
    if (!(m = malloc(sizeof *m + (size_t)n * sizeof(m_child)))) goto fail;
    m->base.v = &merge_vtbl;
    m->cmp = cmp;
    m->n = n;
    m->cur = -1;
    m->dir = M_FORWARD;
    for (int i = 0; i < n; i++) {
        m->kids[i].it = children[i];
        m->kids[i].key = lt_slice_make("", 0);
        m->kids[i].state = 0;
    }
    return &m->base;

fail:  /* the children stay the caller's */
    lt_seterr(LT_ENOMEM, "merging iterator: out of memory");
    return NULL;
}

/* ---- two-level --------------------------------------------------------------------- *
 * `data` iterates the block named by the index entry whose value is cached in
 * `handle`; a step that leaves the block moves the index and opens the next block,
 * skipping empty blocks. Moving within one index entry never reopens its block. */

typedef struct tl_iter {
    lt_iter base;
    lt_iter *index;
    lt_block_opener open;
    void *arg;
    lt_iter *data;      /* NULL when the index is not valid or after an error */
    lt_buf handle;      /* index value that `data` was opened from */
    int have_handle;    /* 0 if caching the handle failed: reopen next time */
    int err;            /* latched error of a block (or its opener) */
    void (*on_seek)(void *arg);   /* lt_iter_two_level_on_seek */
} tl_iter;

static void tl_set_data(tl_iter *t, lt_iter *data) {
    lt_iter_destroy(t->data);
    t->data = data;
}

static void tl_fail(tl_iter *t, int err) {
    t->err = err;
    tl_set_data(t, NULL);
}

/* Open the block of the current index entry unless it is the one already open. */
static void tl_init_data(tl_iter *t) {
    if (!lt_iter_valid(t->index)) { tl_set_data(t, NULL); return; }
    lt_slice h = lt_iter_value(t->index);
    if (t->data && t->have_handle && lt_slice_eq(h, lt_slice_make(t->handle.data, t->handle.size)))
        return;
    lt_iter *d = t->open(t->arg, h);
    if (!d) {
        tl_fail(t, lt_seterr(LT_ENOMEM, "two-level iterator: out of memory opening a block"));
        return;
    }
    tl_set_data(t, d);
    lt_buf_clear(&t->handle);
    t->have_handle = lt_buf_append(&t->handle, h.data, h.size) == LT_OK;
}

/* After a block ran out (or failed), move through the index to the next entry that
 * exists. `forward` picks the direction. */
static void tl_skip_empty(tl_iter *t, int forward) {
    while (!t->err && (!t->data || !lt_iter_valid(t->data))) {
        if (t->data) {
            int st = lt_iter_status(t->data);
            if (st != LT_OK) { tl_fail(t, st); return; }
        }
        if (!lt_iter_valid(t->index)) { tl_set_data(t, NULL); return; }
        if (forward) lt_iter_next(t->index); else lt_iter_prev(t->index);
        tl_init_data(t);
        if (t->data) {
            if (forward) lt_iter_seek_first(t->data); else lt_iter_seek_last(t->data);
        }
    }
}

static int tl_valid(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    return t->data && lt_iter_valid(t->data);
}

static void tl_seek(lt_iter *it, lt_slice target) {
    tl_iter *t = (tl_iter *)it;
    if (t->err) return;
    if (t->on_seek) t->on_seek(t->arg);
    lt_iter_seek(t->index, target);
    tl_init_data(t);
    if (t->data) lt_iter_seek(t->data, target);
    tl_skip_empty(t, 1);
}

static void tl_seek_first(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    if (t->err) return;
    if (t->on_seek) t->on_seek(t->arg);
    lt_iter_seek_first(t->index);
    tl_init_data(t);
    if (t->data) lt_iter_seek_first(t->data);
    tl_skip_empty(t, 1);
}

static void tl_seek_last(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    if (t->err) return;
    if (t->on_seek) t->on_seek(t->arg);
    lt_iter_seek_last(t->index);
    tl_init_data(t);
    if (t->data) lt_iter_seek_last(t->data);
    tl_skip_empty(t, 0);
}

static void tl_next(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    lt_iter_next(t->data);
    tl_skip_empty(t, 1);
}

static void tl_prev(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    lt_iter_prev(t->data);
    tl_skip_empty(t, 0);
}

static lt_slice tl_key(lt_iter *it) { return lt_iter_key(((tl_iter *)it)->data); }
static lt_slice tl_value(lt_iter *it) { return lt_iter_value(((tl_iter *)it)->data); }

static int tl_status(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    int st = lt_iter_status(t->index);
    if (st != LT_OK) return st;
    if (t->err) return t->err;
    return t->data ? lt_iter_status(t->data) : LT_OK;
}

static void tl_destroy(lt_iter *it) {
    tl_iter *t = (tl_iter *)it;
    lt_iter_destroy(t->data);
    lt_iter_destroy(t->index);
    lt_buf_free(&t->handle);
    free(t);
}

static const lt_iter_vtbl tl_vtbl = {
    tl_valid, tl_seek_first, tl_seek_last, tl_seek, tl_next, tl_prev,
    tl_key, tl_value, tl_status, tl_destroy,
};

lt_iter *lt_iter_two_level(lt_iter *index, lt_block_opener open_block, void *arg) {
    tl_iter *t = index ? calloc(1, sizeof *t) : NULL;
    if (!t) {  /* the index stays the caller's */
        lt_seterr(LT_ENOMEM, "two-level iterator: out of memory");
        return NULL;
    }
    t->base.v = &tl_vtbl;
    t->index = index;
    t->open = open_block;
    t->arg = arg;
    return &t->base;
}

void lt_iter_two_level_on_seek(lt_iter *it, void (*fn)(void *arg)) {
    ((tl_iter *)it)->on_seek = fn;
}
