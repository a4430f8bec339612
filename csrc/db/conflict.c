/* conflict.c: the conflict tracker (see conflict.h for its invariants): records the
 * keys of recent commits and answers "written after snapshot S?" for keys and ranges. */
#include <stdlib.h>
#include "conflict.h"
#include "dbformat.h"
#include "../util/status.h"

#define PRUNE_MIN 4096u   /* entries before the first prune is considered */

lt_conflict *lt_conflict_new(void) {
    lt_conflict *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (!(c->keys = lt_memtable_new())) { free(c); return NULL; }
    c->prune_at = PRUNE_MIN;
    return c;
}

void lt_conflict_free(lt_conflict *c) {
    if (!c) return;
    lt_memtable_unref(c->keys);
    free(c);
}

static void raise_floor(lt_conflict *c, uint64_t seq) {
    if (seq > c->floor) c->floor = seq;
}

typedef struct rec_ctx { lt_conflict *c; uint64_t seq; int failed; } rec_ctx;

static int record_one(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value) {
    (void)seq; (void)type; (void)value;
    rec_ctx *r = arg;
    int rc = lt_memtable_add(r->c->keys, r->seq, LT_TYPE_VALUE, key, lt_slice_make("", 0));
    if (rc == LT_ENOMEM) { r->failed = 1; return rc; }
    return LT_OK;   /* LT_EINVAL: (key, seq) already recorded by this batch */
}

void lt_conflict_record(lt_conflict *c, const lt_batch *b, uint64_t last_seq,
                        uint64_t oldest_snapshot) {
    if (c->active == 0) { raise_floor(c, last_seq); return; }
    rec_ctx r = { c, last_seq, 0 };
    if (lt_batch_iterate(b, record_one, &r) != LT_OK || r.failed) raise_floor(c, last_seq);
    if (lt_memtable_count(c->keys) >= c->prune_at) lt_conflict_prune(c, oldest_snapshot);
}

void lt_conflict_register(lt_conflict *c) { c->active++; }

void lt_conflict_unregister(lt_conflict *c) {
    if (c->active > 0) c->active--;
    if (c->active == 0 && lt_memtable_count(c->keys) > 0) {
        lt_memtable *fresh = lt_memtable_new();
        if (fresh) {   /* on ENOMEM keep the old entries: harmless, pruned later */
            lt_memtable_unref(c->keys);
            c->keys = fresh;
            c->prune_at = PRUNE_MIN;
        }
    }
}

static int seek_key(lt_iter *it, lt_slice key) {
    char stack[256];
    lt_buf heap = {0};
    lt_slice k;
    if (lt_seek_key(key, LT_MAX_SEQ, stack, sizeof stack, &heap, &k)) return LT_ENOMEM;
    lt_iter_seek(it, k);
    lt_buf_free(&heap);
    return LT_OK;
}

int lt_conflict_key(lt_conflict *c, lt_slice key, uint64_t snap, uint64_t *seq) {
    if (lt_memtable_count(c->keys) == 0) return 0;
    lt_iter *it = lt_memtable_iter(c->keys);
    int hit = 0;
    if (!it || seek_key(it, key)) {
        hit = 1;            /* cannot look: fail safe, report a conflict */
        *seq = 0;
    } else if (lt_iter_valid(it)) {
        lt_slice ik = lt_iter_key(it);
        if (lt_slice_eq(lt_ikey_user(ik), key) && lt_ikey_seq(ik) > snap) {
            hit = 1;
            *seq = lt_ikey_seq(ik);
        }
    }
    lt_iter_destroy(it);
    return hit;
}

int lt_conflict_range(lt_conflict *c, const lt_slice *start, const lt_slice *end,
                      uint64_t snap, lt_slice *key, uint64_t *seq) {
    if (lt_memtable_count(c->keys) == 0) return 0;
    lt_iter *it = lt_memtable_iter(c->keys);
    *key = lt_slice_make("", 0);
    *seq = 0;
    if (!it) return 1;
    if (start) {
        if (seek_key(it, *start)) { lt_iter_destroy(it); return 1; }
    } else {
        lt_iter_seek_first(it);
    }
    int hit = 0;
    for (; lt_iter_valid(it); lt_iter_next(it)) {
        lt_slice ik = lt_iter_key(it);
        lt_slice uk = lt_ikey_user(ik);
        if (end && lt_slice_cmp(uk, *end) >= 0) break;
        if (lt_ikey_seq(ik) > snap) {
            hit = 1;
            *key = uk;      /* the arena outlives the iterator: valid under mu */
            *seq = lt_ikey_seq(ik);
            break;
        }
    }
    lt_iter_destroy(it);
    return hit;
}

void lt_conflict_prune(lt_conflict *c, uint64_t below) {
    lt_memtable *fresh = lt_memtable_new();
    lt_iter *it = fresh ? lt_memtable_iter(c->keys) : NULL;
    int ok = it != NULL;
    if (ok) {
        for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) {
            lt_slice ik = lt_iter_key(it);
            if (lt_ikey_seq(ik) <= below) continue;
            if (lt_memtable_add(fresh, lt_ikey_seq(ik), LT_TYPE_VALUE, lt_ikey_user(ik),
                                lt_slice_make("", 0)) != LT_OK) { ok = 0; break; }
        }
    }
    lt_iter_destroy(it);
    if (ok) {
        lt_memtable_unref(c->keys);
        c->keys = fresh;
    } else if (fresh) {
        lt_memtable_unref(fresh);
    }
    uint64_t n = lt_memtable_count(c->keys);
    c->prune_at = n * 2 > PRUNE_MIN ? n * 2 : PRUNE_MIN;
}

uint64_t lt_conflict_count(const lt_conflict *c) { return lt_memtable_count(c->keys); }
size_t lt_conflict_memory(const lt_conflict *c) { return lt_memtable_memory_usage(c->keys); }
