/* memtable.c: the memtable: a skiplist of encoded entries living in an arena, ordered
 * by internal key, with one writer and lock-free readers (contract in memtable.h).
 *
 * Node layout: one pointer-aligned arena allocation per entry,
 *
 *   mt_node { key, klen, next[height] } | varint32 ikey_len | internal key | varint32 vlen | value
 *
 * The bytes after the node are the entry exactly as memtable.h specifies; `key` points
 * at the internal key inside them and `klen` is its length, so searches compare with
 * one memcmp and one fixed64 load and never decode a varint. Heights are 1..MT_MAX_HEIGHT,
 * each level kept with probability 1/MT_BRANCHING, drawn from a per-memtable xorshift
 * generator that only the writer touches.
 *
 * Publication (the invariants readers rely on):
 *  1. A node's key, klen and next[] are written before the node becomes reachable.
 *  2. The writer links a node bottom-up with release stores; readers load every link
 *     with acquire, so a node reached through a link is fully initialised (1).
 *  3. A reader may see a node at level 0 but not yet above: that only lengthens its
 *     search. max_height is relaxed: a stale value makes a reader start lower; a new
 *     value leads to head links that are NULL or already published.
 *  4. Nodes are never removed or moved before the arena is freed, which happens only
 *     when the last reference (every iterator holds one) is dropped.
 *
 * Writer's splice: the writer keeps the search path of its last insert (splice[]) and
 * starts the next insert's search from it when that key comes later (find_ge_writer),
 * so ascending inserts, such as a sorted batch, cost O(1) searches. Readers never look
 * at it; it changes only in insert_at, so it always is the last insert's exact path. */
#include <stdatomic.h>
#include <stdlib.h>
#include "memtable.h"
#include "dbformat.h"
#include "../util/arena.h"
#include "../util/coding.h"
#include "../util/status.h"

#define MT_MAX_HEIGHT 12
#define MT_BRANCHING 4

typedef struct mt_node {
    const char *key;                  /* internal key, inside this node's entry */
    uint32_t klen;                    /* internal key length (>= 8) */
    _Atomic(struct mt_node *) next[]; /* next[0..height) */
} mt_node;

struct lt_memtable {
    lt_arena *arena;
    mt_node *head;               /* sentinel of height MT_MAX_HEIGHT, no key */
    _Atomic int max_height;      /* levels in use, >= 1 */
    uint32_t rng;                /* xorshift32 state: writer only */
    /* Writer only: the search path of the last inserted entry K (splice[i] = last node
     * <= K at level i; head where none), or have_splice = 0 before the first insert. */
    mt_node *splice[MT_MAX_HEIGHT];
    int have_splice;
    _Atomic uint64_t count;
    _Atomic int refs;
};

/* A search target: an internal key split into user key and trailer. */
typedef struct mt_target {
    const char *ukey;
    size_t ulen;
    uint64_t trailer;
} mt_target;

static inline mt_node *load_next(const mt_node *n, int level) {
    return atomic_load_explicit(&((mt_node *)n)->next[level], memory_order_acquire);
}

/* Internal-key order of a node against a target: <0 if the node sorts first. */
static inline int node_cmp(const mt_node *n, const mt_target *t) {
    size_t nl = n->klen - 8, m = nl < t->ulen ? nl : t->ulen;
    int r = m ? memcmp(n->key, t->ukey, m) : 0;
    if (r) return r;
    if (nl != t->ulen) return nl < t->ulen ? -1 : 1;
    uint64_t tr = lt_get_fixed64(n->key + nl);
    return (tr > t->trailer) ? -1 : (tr < t->trailer);
}

/* Split an internal key; a target shorter than 8 bytes is taken as a bare user key
 * sorting before all its versions (the library must not crash on a short seek key). */
static inline mt_target target_of(lt_slice ikey) {
    mt_target t;
    if (ikey.size >= 8) {
        t.ukey = ikey.data; t.ulen = ikey.size - 8; t.trailer = lt_ikey_trailer(ikey);
    } else {
        t.ukey = ikey.data; t.ulen = ikey.size; t.trailer = UINT64_MAX;
    }
    return t;
}

static inline mt_target target_of_node(const mt_node *n) {
    mt_target t = { n->key, n->klen - 8, lt_get_fixed64(n->key + n->klen - 8) };
    return t;
}

/* First node >= t, or NULL, searching down from node x (< t) at `level`; known_ge is
 * a node already known to be >= t (or NULL). Fills prev[0..level] (if prev). */
static mt_node *find_ge_from(mt_node *x, int level, mt_node *known_ge, const mt_target *t,
                             mt_node **prev) {
    for (;;) {
        mt_node *nx = load_next(x, level);
        if (nx && nx != known_ge && node_cmp(nx, t) < 0) {
            x = nx;
        } else {
            if (prev) prev[level] = x;
            if (level == 0) return nx;
            known_ge = nx;
            level--;
        }
    }
}

/* First node >= t, or NULL. Fills prev[level] (if prev) with the last node < t at
 * each level. A node already found >= t at one level is not compared again below. */
static mt_node *find_ge(const lt_memtable *m, const mt_target *t, mt_node **prev) {
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
    return find_ge_from(m->head, level, NULL, t, prev);
}

#define MT_SPLICE_LEVELS 3   /* levels of the splice tried before a search from the top */

/* find_ge with prev, for the writer: inserts in ascending order (a sorted batch) reuse
 * the previous insert's path. When the last inserted K < t, every splice node is < t,
 * and if the splice brackets t at level l (next node NULL or >= t) it does at every
 * level above (the first node > K at a higher level is not before the one at l), so
 * only the levels below l are searched. */
static mt_node *find_ge_writer(const lt_memtable *m, const mt_target *t, mt_node **prev) {
    int max_h = atomic_load_explicit(&m->max_height, memory_order_relaxed);
    if (m->have_splice && node_cmp(m->splice[0], t) < 0) {
        for (int l = 0; l < max_h && l < MT_SPLICE_LEVELS; l++) {
            mt_node *nx = load_next(m->splice[l], l);
            if (nx && node_cmp(nx, t) < 0) continue;
            for (int i = l + 1; i < max_h; i++) prev[i] = m->splice[i];
            if (l == 0) { prev[0] = m->splice[0]; return nx; }
            return find_ge_from(m->splice[l], l, nx, t, prev);
        }
    }
    return find_ge_from(m->head, max_h - 1, NULL, t, prev);
}

/* Last node < t, or NULL. */
static mt_node *find_lt(const lt_memtable *m, const mt_target *t) {
    mt_node *x = m->head, *known_ge = NULL;
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
    for (;;) {
        mt_node *nx = load_next(x, level);
        if (nx && nx != known_ge && node_cmp(nx, t) < 0) {
            x = nx;
        } else {
            if (level == 0) return x == m->head ? NULL : x;
            known_ge = nx;
            level--;
        }
    }
}

static mt_node *find_last(const lt_memtable *m) {
    mt_node *x = m->head;
    int level = atomic_load_explicit(&m->max_height, memory_order_relaxed) - 1;
    for (;;) {
        mt_node *nx = load_next(x, level);
        if (nx) {
            x = nx;
        } else {
            if (level == 0) return x == m->head ? NULL : x;
            level--;
        }
    }
}

/* One xorshift32 draw supplies up to 16 two-bit coin flips (we need at most 11). */
static int random_height(lt_memtable *m) {
    uint32_t x = m->rng;
    x ^= x << 13; x ^= x >> 17; x ^= x << 5;
    m->rng = x;
    int h = 1;
    while (h < MT_MAX_HEIGHT && (x % MT_BRANCHING) == 0) { h++; x /= MT_BRANCHING; }
    return h;
}

static inline lt_slice node_value(const mt_node *n) {
    const char *p = n->key + n->klen;
    uint32_t vlen = 0;
    p = lt_get_varint32(p, p + LT_MAX_VARINT32, &vlen); /* written by us: well formed */
    return lt_slice_make(p, vlen);
}

lt_memtable *lt_memtable_new(void) {
    lt_memtable *m = calloc(1, sizeof *m);
    if (!m) goto fail;
    if (!(m->arena = lt_arena_new())) goto fail_m;
    size_t hsize = sizeof(mt_node) + MT_MAX_HEIGHT * sizeof(_Atomic(mt_node *));
    m->head = (mt_node *)lt_arena_alloc_aligned(m->arena, hsize);
    if (!m->head) goto fail_arena;
    m->head->key = NULL;
    m->head->klen = 8;
    for (int i = 0; i < MT_MAX_HEIGHT; i++)
        atomic_init(&m->head->next[i], NULL);
    atomic_init(&m->max_height, 1);
    atomic_init(&m->count, 0);
    atomic_init(&m->refs, 1);
    m->rng = 0x9e3779b9u;
    return m;

fail_arena:
    lt_arena_free(m->arena);
fail_m:
    free(m);
fail:
    lt_seterr(LT_ENOMEM, "memtable: out of memory creating a memtable");
    return NULL;
}

void lt_memtable_ref(lt_memtable *m) {
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void lt_memtable_unref(lt_memtable *m) {
    if (!m) return;
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        lt_arena_free(m->arena);
        free(m);
    }
}

static int check_add_args(uint64_t seq, int type, lt_slice key, lt_slice value) {
    if (type != LT_TYPE_VALUE && type != LT_TYPE_DELETION)
        return lt_seterr(LT_EINVAL, "memtable add: unknown record type %d", type);
    if (seq > LT_MAX_SEQ || key.size > UINT32_MAX - 8 || value.size > UINT32_MAX)
        return lt_seterr(LT_EINVAL, "memtable add: sequence %llu or sizes (%zu, %zu) out of range",
                         (unsigned long long)seq, key.size, value.size);
    return LT_OK;
}

/* Insert the entry for target `t` (= key, trailer) after prev[level] at each level.
 * REQUIRES: prev is find_ge's output for `t`, and the writer has not inserted since. */
static int insert_at(lt_memtable *m, mt_node **prev, const mt_target *t, lt_slice key,
                     lt_slice value) {
    uint32_t klen = (uint32_t)key.size + 8, vlen = (uint32_t)value.size;
    int height = random_height(m);
    size_t node_size = sizeof(mt_node) + (size_t)height * sizeof(_Atomic(mt_node *));
    size_t entry_size = (size_t)lt_varint_length(klen) + klen +
                        (size_t)lt_varint_length(vlen) + vlen;
    char *mem = lt_arena_alloc_aligned(m->arena, node_size + entry_size);
    if (!mem)
        return lt_seterr(LT_ENOMEM, "memtable add: out of memory for a %zu-byte entry",
                         entry_size);

    mt_node *n = (mt_node *)mem;
    char *p = lt_put_varint32(mem + node_size, klen);
    n->key = p;
    n->klen = klen;
    if (key.size) memcpy(p, key.data, key.size);
    lt_put_fixed64(p + key.size, t->trailer);
    p = lt_put_varint32(p + klen, vlen);
    if (vlen) memcpy(p, value.data, vlen);

    int max_h = atomic_load_explicit(&m->max_height, memory_order_relaxed);
    if (height > max_h) {
        for (int i = max_h; i < height; i++) prev[i] = m->head;
        atomic_store_explicit(&m->max_height, height, memory_order_relaxed);
    }
    for (int i = 0; i < height; i++) {
        mt_node *succ = atomic_load_explicit(&prev[i]->next[i], memory_order_relaxed);
        atomic_init(&n->next[i], succ);
        atomic_store_explicit(&prev[i]->next[i], n, memory_order_release);
    }
    /* The path of n: n itself where it is linked, prev[] above, head above max_h. */
    int top = height > max_h ? height : max_h;
    for (int i = 0; i < MT_MAX_HEIGHT; i++)
        m->splice[i] = i < height ? n : i < top ? prev[i] : m->head;
    m->have_splice = 1;
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
    return LT_OK;
}

/* What node `n` (the first entry at or after a seek for `key`, or NULL) says about
 * `key`: LT_OK with *value (a value version), or LT_ENOTFOUND with *deleted set when
 * it is a deletion of `key` (0 when `n` is another key's). */
static int node_version(const mt_node *n, lt_slice key, lt_slice *value, int *deleted) {
    *deleted = 0;
    if (!n || n->klen - 8 != key.size ||
        (key.size != 0 && memcmp(n->key, key.data, key.size) != 0))
        return LT_ENOTFOUND;
    if (lt_ikey_type(lt_slice_make(n->key, n->klen)) == LT_TYPE_VALUE) {
        *value = node_value(n);
        return LT_OK;
    }
    *deleted = 1;
    return LT_ENOTFOUND;
}

static int dup_error(uint64_t seq) {
    return lt_seterr(LT_EINVAL, "memtable add: version with sequence %llu already present",
                     (unsigned long long)seq);
}

int lt_memtable_add(lt_memtable *m, uint64_t seq, int type, lt_slice key, lt_slice value) {
    return lt_memtable_add_checked(m, seq, type, key, value, NULL, NULL);
}

int lt_memtable_add_checked(lt_memtable *m, uint64_t seq, int type, lt_slice key,
                            lt_slice value, lt_memtable_check_fn check, void *arg) {
    int rc = check_add_args(seq, type, key, value);
    if (rc) return rc;
    mt_target t = { key.data, key.size, lt_pack_trailer(seq, type) };
    mt_node *prev[MT_MAX_HEIGHT];
    mt_node *at = find_ge_writer(m, &t, prev);
    if (at && node_cmp(at, &t) == 0) return dup_error(seq);
    if (check) {
        /* seq is newer than every version of key: `at`, if it is key's, is the newest */
        int deleted;
        lt_slice v = lt_slice_make("", 0);
        rc = node_version(at, key, &v, &deleted);
        if ((rc = check(arg, rc, deleted, v)) != LT_OK) return rc;
    }
    return insert_at(m, prev, &t, key, value);
}

int lt_memtable_get(lt_memtable *m, lt_slice key, uint64_t seq, lt_slice *value, int *deleted) {
    if (seq > LT_MAX_SEQ) seq = LT_MAX_SEQ;
    mt_target t = { key.data, key.size, lt_pack_trailer(seq, LT_TYPE_FOR_SEEK) };
    int del;
    int rc = node_version(find_ge(m, &t, NULL), key, value, &del);
    if (deleted) *deleted = del;
    return rc;
}

size_t lt_memtable_memory_usage(const lt_memtable *m) {
    return lt_arena_memory_usage(m->arena);
}

uint64_t lt_memtable_count(const lt_memtable *m) {
    return atomic_load_explicit(&((lt_memtable *)m)->count, memory_order_relaxed);
}

/* ---- iterator ---------------------------------------------------------------------- */

typedef struct mt_iter {
    lt_iter base;
    lt_memtable *m;
    const mt_node *node; /* NULL: not valid */
} mt_iter;

static int mi_valid(lt_iter *it) { return ((mt_iter *)it)->node != NULL; }

static void mi_seek_first(lt_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->node = load_next(i->m->head, 0);
}

static void mi_seek_last(lt_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->node = find_last(i->m);
}

static void mi_seek(lt_iter *it, lt_slice target) {
    mt_iter *i = (mt_iter *)it;
    mt_target t = target_of(target);
    i->node = find_ge(i->m, &t, NULL);
}

static void mi_next(lt_iter *it) {
    mt_iter *i = (mt_iter *)it;
    i->node = load_next(i->node, 0);
}

static void mi_prev(lt_iter *it) {
    mt_iter *i = (mt_iter *)it;
    mt_target t = target_of_node(i->node);
    i->node = find_lt(i->m, &t);
}

static lt_slice mi_key(lt_iter *it) {
    const mt_node *n = ((mt_iter *)it)->node;
    return lt_slice_make(n->key, n->klen);
}

static lt_slice mi_value(lt_iter *it) { return node_value(((mt_iter *)it)->node); }

static int mi_status(lt_iter *it) { (void)it; return LT_OK; }

static void mi_destroy(lt_iter *it) {
    mt_iter *i = (mt_iter *)it;
    lt_memtable_unref(i->m);
    free(i);
}

static const lt_iter_vtbl mt_iter_vtbl = {
    mi_valid, mi_seek_first, mi_seek_last, mi_seek, mi_next, mi_prev,
    mi_key, mi_value, mi_status, mi_destroy,
};

lt_iter *lt_memtable_iter(lt_memtable *m) {
    mt_iter *i = malloc(sizeof *i);
    if (!i) {
        lt_seterr(LT_ENOMEM, "memtable: out of memory creating an iterator");
        return NULL;
    }
    i->base.v = &mt_iter_vtbl;
    lt_memtable_ref(m);
    i->m = m;
    i->node = NULL;
    return &i->base;
}
