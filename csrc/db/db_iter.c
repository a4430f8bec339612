/* db_iter.c: the user-facing range iterator. It merges the memtables and every table
 * file of a pinned version (internal keys, all versions), and turns that into the
 * user's view at one sequence number: for each user key in [start, end) the newest
 * version visible at that sequence, skipping keys whose newest version is a deletion.
 * One direction per iterator, chosen at creation; entries are handed out in batches
 * (lt_iter_next_batch) so a scan crosses from Python into C once per many entries. */
#include <stdlib.h>
#include "db_impl.h"
#include "../util/status.h"

struct lt_iterator {
    lt_db *db;
    int closed;
    struct lt_iterator *prev, *next;   /* handle list (under db->children_mu) */
    lt_iter *in;                       /* merged internal iterator */
    lt_memtable *mem, *imm;
    lt_version *v;
    uint64_t seq;
    int reverse;
    int has_start, has_end;
    lt_buf start, end;
    int started, finished;
    int pending;                       /* an entry is waiting in ek/ev */
    lt_buf ek, ev;
    lt_buf skip;                       /* forward: user key already handled */
    int has_skip;
    int status;
};

static void release_internals(struct lt_iterator *it) {
    if (it->in) { lt_iter_destroy(it->in); it->in = NULL; }
    if (it->mem) { lt_memtable_unref(it->mem); it->mem = NULL; }
    if (it->imm) { lt_memtable_unref(it->imm); it->imm = NULL; }
    if (it->v) { lt_version_unref(it->v); it->v = NULL; }
}

/* REQUIRES: db->children_mu held. */
void db_iter_release(struct lt_iterator *it) {
    release_internals(it);
    it->closed = 1;
    if (it->prev) it->prev->next = it->next; else it->db->iters = it->next;
    if (it->next) it->next->prev = it->prev;
    it->prev = it->next = NULL;
}

/* Set the range, direction and position state of `it` for a new scan. */
static int iter_set_range(lt_db *db, struct lt_iterator *it, lt_snapshot *snap,
                          const void *start, size_t slen, const void *end, size_t elen,
                          int reverse) {
    if (snap && (snap->released || snap->db != db))
        return lt_seterr(snap->released ? LT_ECLOSED : LT_EINVAL, "iterator: snapshot %s",
                         snap->released ? "is released" : "belongs to another handle");
    it->reverse = reverse;
    it->has_start = start != NULL;
    it->has_end = end != NULL;
    it->start.size = it->end.size = it->ek.size = it->ev.size = it->skip.size = 0;
    it->started = it->finished = it->pending = it->has_skip = it->status = 0;
    if ((start && lt_buf_append(&it->start, slen ? start : "", slen)) ||
        (end && lt_buf_append(&it->end, elen ? end : "", elen)))
        return lt_seterr(LT_ENOMEM, "iterator: out of memory");
    return LT_OK;
}

/* Open `it` (new, or closed by lt_iter_close) on [start, end) at `snap`: pin the
 * memtables and version, build the merged internal iterator, register with the
 * handle. The caller is inside db_enter. On failure `it` is left closed. */
static int iter_open(lt_db *db, struct lt_iterator *it, lt_snapshot *snap, const void *start,
                     size_t slen, const void *end, size_t elen, int reverse) {
    lt_engine *e = db->e;
    int rc = iter_set_range(db, it, snap, start, slen, end, elen, reverse), n = 0, cap = 8;
    if (rc) return rc;
    lt_iter *small[8], **its = small;
    pthread_mutex_lock(&e->mu);
    it->seq = snap ? snap->seq : atomic_load(&e->visible_seq);
    it->mem = e->mem;
    lt_memtable_ref(it->mem);
    if ((it->imm = e->imm)) lt_memtable_ref(it->imm);
    it->v = lt_vset_current_ref(e->vs);
    pthread_mutex_unlock(&e->mu);
    its[n++] = lt_memtable_iter(it->mem);
    if (it->imm) its[n++] = lt_memtable_iter(it->imm);
    for (int i = 0; i < n; i++) if (!its[i]) rc = lt_seterr(LT_ENOMEM, "iterator: out of memory");
    if (rc == LT_OK) rc = lt_version_iterators(it->v, &its, &n, &cap, small);
    if (rc == LT_OK && !(it->in = lt_iter_merging(lt_ikey_cmp, its, n)))
        rc = lt_seterr(LT_ENOMEM, "iterator: out of memory");
    if (rc) for (int i = 0; i < n; i++) lt_iter_destroy(its[i]);
    if (its != small) free(its);
    if (rc) {
        release_internals(it);
        it->closed = 1;
        return rc;
    }
    it->closed = 0;
    pthread_mutex_lock(&db->children_mu);
    it->prev = NULL;
    it->next = db->iters;
    if (db->iters) db->iters->prev = it;
    db->iters = it;
    pthread_mutex_unlock(&db->children_mu);
    return LT_OK;
}

int lt_iter_new(lt_db *db, lt_snapshot *snap, const void *start, size_t slen, const void *end,
                size_t elen, int reverse, lt_iterator **out) {
    int rc = db_enter(db, "iterator");
    if (rc) return rc;
    struct lt_iterator *it = calloc(1, sizeof *it);
    if (!it) { db_leave(db); return lt_seterr(LT_ENOMEM, "iterator: out of memory"); }
    it->db = db;
    if ((rc = iter_open(db, it, snap, start, slen, end, elen, reverse))) {
        lt_buf_free(&it->start);
        lt_buf_free(&it->end);
        free(it);
        db_leave(db);
        return rc;
    }
    db_handle_ref(db);
    *out = it;
    db_leave(db);
    return LT_OK;
}

int lt_iter_reopen(lt_iterator *it, lt_snapshot *snap, const void *start, size_t slen,
                   const void *end, size_t elen, int reverse) {
    lt_db *db = it->db;
    int rc = db_enter(db, "iterator");
    if (rc) return rc;
    int same = 0;
    if (!it->closed && it->in && snap && it->status == LT_OK &&
        lt_iter_status(it->in) == LT_OK) {
        /* Still open on the memtables and files that are current: its merged
         * iterator serves the new range as well (only a seek away), which spares
         * building one per short scan. */
        lt_engine *e = db->e;
        pthread_mutex_lock(&e->mu);
        lt_version *v = lt_vset_current_ref(e->vs);
        same = it->mem == e->mem && it->imm == e->imm && it->v == v;
        pthread_mutex_unlock(&e->mu);
        lt_version_unref(v);
    }
    if (same && (rc = iter_set_range(db, it, snap, start, slen, end, elen, reverse)) == LT_OK) {
        it->seq = snap->seq;
    } else {
        lt_iter_close(it);
        rc = iter_open(db, it, snap, start, slen, end, elen, reverse);
    }
    db_leave(db);
    return rc;
}

static lt_slice S(const lt_buf *b) { return lt_slice_make(b->data ? b->data : "", b->size); }

static int set_pending(struct lt_iterator *it, lt_slice k, lt_slice v) {
    it->ek.size = it->ev.size = 0;
    if (lt_buf_append(&it->ek, k.data, k.size) || lt_buf_append(&it->ev, v.data, v.size))
        return lt_seterr(LT_ENOMEM, "iterator: out of memory");
    it->pending = 1;
    return LT_OK;
}

/* Position the internal iterator at the first candidate. */
static int start(struct lt_iterator *it) {
    char stack[256];
    lt_buf heap = {0};
    lt_slice k;
    it->started = 1;
    if (!it->reverse ? !it->has_start : !it->has_end) {
        if (!it->reverse) lt_iter_seek_first(it->in);
        else lt_iter_seek_last(it->in);
        return LT_OK;
    }
    if (lt_seek_key(S(!it->reverse ? &it->start : &it->end), LT_MAX_SEQ, stack, sizeof stack,
                    &heap, &k))
        return LT_ENOMEM;
    lt_iter_seek(it->in, k);
    if (it->reverse) {
        if (lt_iter_valid(it->in)) lt_iter_prev(it->in); else lt_iter_seek_last(it->in);
    }
    lt_buf_free(&heap);
    return LT_OK;
}

/* Find the next visible entry in key order and make it pending. */
static int step_forward(struct lt_iterator *it) {
    lt_iter *in = it->in;
    for (; lt_iter_valid(in); lt_iter_next(in)) {
        lt_slice ik = lt_iter_key(in);
        if (!lt_ikey_valid(ik)) return lt_seterr(LT_ECORRUPT, "iterator: malformed internal key");
        if (lt_ikey_seq(ik) > it->seq) continue;
        lt_slice uk = lt_ikey_user(ik);
        if (it->has_skip && lt_slice_eq(uk, S(&it->skip))) continue;
        if (it->has_end && lt_slice_cmp(uk, S(&it->end)) >= 0) { it->finished = 1; return LT_OK; }
        it->skip.size = 0;
        if (lt_buf_append(&it->skip, uk.data, uk.size)) return lt_seterr(LT_ENOMEM, "iterator: out of memory");
        it->has_skip = 1;
        if (lt_ikey_type(ik) == LT_TYPE_DELETION) continue;
        int rc = set_pending(it, uk, lt_iter_value(in));
        lt_iter_next(in);
        return rc;
    }
    int rc = lt_iter_status(in);
    if (rc == LT_OK) it->finished = 1;
    return rc;
}

/* Going backward, versions of a key arrive oldest first: keep the last visible one
 * until the user key changes. */
static int step_reverse(struct lt_iterator *it) {
    lt_iter *in = it->in;
    for (;;) {
        int have = 0, type = 0;
        while (lt_iter_valid(in)) {
            lt_slice ik = lt_iter_key(in);
            if (!lt_ikey_valid(ik)) return lt_seterr(LT_ECORRUPT, "iterator: malformed internal key");
            if (lt_ikey_seq(ik) <= it->seq) {
                lt_slice uk = lt_ikey_user(ik);
                if (have && !lt_slice_eq(uk, S(&it->ek))) break;
                if (!have && it->has_start && lt_slice_cmp(uk, S(&it->start)) < 0) { it->finished = 1; return LT_OK; }
                int rc = set_pending(it, uk, lt_iter_value(in));
                if (rc) return rc;
                have = 1;
                type = lt_ikey_type(ik);
            }
            lt_iter_prev(in);
        }
        int rc = lt_iter_status(in);
        if (rc) { it->pending = 0; return rc; }
        if (!have) { it->pending = 0; it->finished = 1; return LT_OK; }
        if (type == LT_TYPE_VALUE) return LT_OK;
        it->pending = 0;   /* newest visible version is a deletion: next key */
    }
}

int lt_iter_next_batch(lt_iterator *it, char *buf, size_t cap, size_t max_items,
                       size_t *n_items, size_t *used) {
    *n_items = 0;
    *used = 0;
    if (!it) return lt_seterr(LT_EINVAL, "iterator: null handle");
    lt_db *db = it->db;
    int rc = db_enter(db, "iterator");
    if (rc) return rc;
    if (it->closed) { db_leave(db); return lt_seterr(LT_ECLOSED, "iterator: closed"); }
    if (it->status) { db_leave(db); return lt_seterr(it->status, "iterator: stopped by an earlier error"); }
    if (!it->started && (rc = start(it))) goto out;
    size_t n = 0, off = 0;
    while (n < max_items) {
        if (!it->pending) {
            if (it->finished) break;
            rc = it->reverse ? step_reverse(it) : step_forward(it);
            if (rc) break;
            if (!it->pending) break;
        }
        size_t need = 8 + it->ek.size + it->ev.size;
        if (off + need > cap) {
            if (n == 0) *used = need;
            break;
        }
        lt_put_fixed32(buf + off, (uint32_t)it->ek.size);
        lt_put_fixed32(buf + off + 4, (uint32_t)it->ev.size);
        if (it->ek.size) memcpy(buf + off + 8, it->ek.data, it->ek.size);
        if (it->ev.size) memcpy(buf + off + 8 + it->ek.size, it->ev.data, it->ev.size);
        off += need;
        n++;
        it->pending = 0;
    }
    *n_items = n;
    if (n > 0) *used = off;
out:
    if (rc) {
        it->status = rc;
        /* keep the message set by the failing step */
    }
    db_leave(db);
    return rc;
}

int lt_iter_close(lt_iterator *it) {
    if (!it) return LT_OK;
    /* Not db_enter: a close that races with lt_db_close must still leave the handle's
     * list under children_mu, as the database's close does (it releases every
     * iterator there before the engine goes, so a still-open one may release its
     * internals here; the handle itself lives while `it` holds a reference). */
    lt_db *db = it->db;
    if (db_forked(db)) { it->closed = 1; return LT_OK; }  /* pins the parent's: leaked */
    pthread_mutex_lock(&db->children_mu);
    if (!it->closed) db_iter_release(it);
    pthread_mutex_unlock(&db->children_mu);
    return LT_OK;
}

void lt_iter_free(lt_iterator *it) {
    if (!it) return;
    lt_iter_close(it);
    lt_buf_free(&it->start);
    lt_buf_free(&it->end);
    lt_buf_free(&it->ek);
    lt_buf_free(&it->ev);
    lt_buf_free(&it->skip);
    db_handle_unref(it->db);
    free(it);
}
