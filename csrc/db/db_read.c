/* db_read.c: the public entry points that are not the commit pipeline's internals:
 * point reads, writes and batches, snapshots, flush, compact and statistics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"
#include "../util/status.h"

/* ---- the per-thread value buffer of lt_get -------------------------------------- */

static pthread_key_t val_key;
static pthread_once_t val_once = PTHREAD_ONCE_INIT;

static void val_free(void *p) {
    lt_buf *b = p;
    lt_buf_free(b);
    free(b);
}
static void val_init(void) { pthread_key_create(&val_key, val_free); }

static lt_buf *thread_value_buf(void) {
    pthread_once(&val_once, val_init);
    lt_buf *b = pthread_getspecific(val_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (b && pthread_setspecific(val_key, b)) { free(b); b = NULL; }
    }
    return b;
}

/* ---- reads ---------------------------------------------------------------------- */

int lt_get(lt_db *db, lt_snapshot *snap, const void *key, size_t klen, const char **val,
           size_t *vlen) {
    return db_get(db, snap, key, klen, 0, val, vlen);
}

int db_get(lt_db *db, lt_snapshot *snap, const void *key, size_t klen, int flags,
           const char **val, size_t *vlen) {
    int rc = db_enter(db, "get");
    if (rc) return rc;
    lt_engine *e = db->e;
    lt_buf *out = thread_value_buf();
    if (!out) { db_leave(db); return lt_seterr(LT_ENOMEM, "get: out of memory"); }
    if (snap && (snap->released || snap->db != db)) {
        db_leave(db);
        return lt_seterr(snap->released ? LT_ECLOSED : LT_EINVAL, "get: snapshot %s",
                         snap->released ? "is released" : "belongs to another handle");
    }
    if (klen > LT_MAX_KEY_SIZE) {
        db_leave(db);
        return lt_seterr(LT_EINVAL, "get: key of %zu bytes exceeds the limit of %u bytes", klen, LT_MAX_KEY_SIZE);
    }
    lt_slice k = lt_slice_make(klen ? key : "", klen);
    pthread_mutex_lock(&e->mu);
    uint64_t seq = snap ? snap->seq : atomic_load_explicit(&e->visible_seq, memory_order_acquire);
    lt_memtable *mem = e->mem, *imm = e->imm;
    lt_memtable_ref(mem);
    if (imm) lt_memtable_ref(imm);
    lt_version *v = lt_vset_current_ref(e->vs);
    pthread_mutex_unlock(&e->mu);

    lt_slice found;
    int deleted = 0;
    rc = lt_memtable_get(mem, k, seq, &found, &deleted);
    if (rc == LT_ENOTFOUND && !deleted && imm) rc = lt_memtable_get(imm, k, seq, &found, &deleted);
    if (rc == LT_OK) {
        out->size = 0;
        if (lt_buf_append(out, found.data, found.size)) rc = lt_seterr(LT_ENOMEM, "get: out of memory");
    } else if (rc == LT_ENOTFOUND && !deleted) {
        rc = lt_version_get(v, k, seq, flags, out);
    }
    lt_memtable_unref(mem);
    if (imm) lt_memtable_unref(imm);
    lt_version_unref(v);
    atomic_fetch_add_explicit(&e->st.gets, 1, memory_order_relaxed);
    if (rc == LT_OK) {
        *val = out->data ? out->data : "";
        *vlen = out->size;
    }
    db_leave(db);
    return rc;
}

/* ---- writes --------------------------------------------------------------------- */

int lt_write(lt_db *db, lt_batch *b, lt_validate_fn validate, void *arg, uint64_t *seq) {
    int rc = db_enter(db, "write");
    if (rc) return rc;
    if (db->read_only) { db_leave(db); return lt_seterr(LT_EREADONLY, "write: database is open read-only"); }
    if (!b || lt_batch_count(b) == 0) {
        if (seq) *seq = atomic_load(&db->e->visible_seq);
        db_leave(db);
        return LT_OK;
    }
    lt_writer w;
    memset(&w, 0, sizeof w);
    w.batch = b;
    w.sync = db->e->opt.sync == LT_SYNC_FULL;
    w.validate = validate;
    w.arg = arg;
    rc = db_write_internal(db->e, &w);
    if (rc == LT_OK && seq) *seq = w.last_seq;
    db_leave(db);
    return rc;
}

static int single(lt_db *db, int put, const void *key, size_t klen, const void *val, size_t vlen) {
    /* A one-record batch on the stack keeps single writes free of malloc. */
    char stack[512];
    lt_batch b;
    b.rep.data = stack;
    b.rep.cap = sizeof stack;
    b.rep.size = LT_BATCH_HEADER;
    memset(stack, 0, LT_BATCH_HEADER);
    size_t need = LT_BATCH_HEADER + 1 + 2 * LT_MAX_VARINT32 + klen + vlen;
    int rc;
    if (need > sizeof stack) {
        b.rep.data = NULL;
        b.rep.cap = b.rep.size = 0;
    }
    rc = put ? lt_batch_put(&b, key, klen, val, vlen) : lt_batch_delete(&b, key, klen);
    if (rc == LT_OK) rc = lt_write(db, &b, NULL, NULL, NULL);
    if (b.rep.data != stack) lt_buf_free(&b.rep);
    return rc;
}

int lt_put(lt_db *db, const void *key, size_t klen, const void *val, size_t vlen) {
    return single(db, 1, key, klen, val, vlen);
}
int lt_delete(lt_db *db, const void *key, size_t klen) { return single(db, 0, key, klen, NULL, 0); }

/* ---- snapshots ------------------------------------------------------------------ */

int lt_snapshot_new(lt_db *db, lt_snapshot **out) {
    int rc = db_enter(db, "snapshot");
    if (rc) return rc;
    lt_engine *e = db->e;
    lt_snapshot *s = calloc(1, sizeof *s);
    if (!s) { db_leave(db); return lt_seterr(LT_ENOMEM, "snapshot: out of memory"); }
    s->db = db;
    db_handle_ref(db);
    pthread_mutex_lock(&db->children_mu);
    pthread_mutex_lock(&e->mu);
    s->seq = atomic_load(&e->visible_seq);
    /* Newest last: the list stays in sequence order. */
    s->prev = e->snaps.prev;
    s->next = &e->snaps;
    s->prev->next = s;
    e->snaps.prev = s;
    pthread_mutex_unlock(&e->mu);
    s->hprev = db->snaps.hprev;
    s->hnext = &db->snaps;
    s->hprev->hnext = s;
    db->snaps.hprev = s;
    pthread_mutex_unlock(&db->children_mu);
    *out = s;
    db_leave(db);
    return LT_OK;
}

uint64_t lt_snapshot_seq(const lt_snapshot *s) { return s->seq; }

int lt_snapshot_release(lt_snapshot *s) {
    if (!s) return LT_OK;
    /* Not db_enter: see lt_iter_close (a release racing with lt_db_close). */
    lt_db *db = s->db;
    if (db_forked(db)) { s->released = 1; return LT_OK; }  /* the parent's: leave it */
    pthread_mutex_lock(&db->children_mu);
    if (!s->released) {
        pthread_mutex_lock(&db->e->mu);
        s->prev->next = s->next;
        s->next->prev = s->prev;
        pthread_mutex_unlock(&db->e->mu);
        s->hprev->hnext = s->hnext;
        s->hnext->hprev = s->hprev;
        s->released = 1;
    }
    pthread_mutex_unlock(&db->children_mu);
    return LT_OK;
}

void lt_snapshot_free(lt_snapshot *s) {
    if (!s) return;
    lt_snapshot_release(s);
    db_handle_unref(s->db);
    free(s);
}

/* ---- maintenance ---------------------------------------------------------------- */

int lt_db_flush(lt_db *db) {
    int rc = db_enter(db, "flush");
    if (rc) return rc;
    lt_engine *e = db->e;
    if (db->read_only) { db_leave(db); return lt_seterr(LT_EREADONLY, "flush: database is open read-only"); }
    lt_writer w;
    memset(&w, 0, sizeof w);
    w.force_switch = 1;
    rc = db_write_internal(e, &w);
    if (rc == LT_OK) {
        pthread_mutex_lock(&e->mu);
        while (e->imm && !e->bg_error) pthread_cond_wait(&e->bg_cv, &e->mu);
        if (e->bg_error) rc = lt_seterr(LT_EBUSY, "flush: %s", e->bg_errmsg);
        pthread_mutex_unlock(&e->mu);
    }
    db_leave(db);
    return rc;
}

int lt_db_compact(lt_db *db, const void *start, size_t slen, const void *end, size_t elen) {
    int rc = db_enter(db, "compact");
    if (rc) return rc;
    if (db->read_only) { db_leave(db); return lt_seterr(LT_EREADONLY, "compact: database is open read-only"); }
    db_leave(db);
    rc = lt_db_flush(db);
    if (rc) return rc;
    if ((rc = db_enter(db, "compact"))) return rc;
    lt_slice b = lt_slice_make(start ? start : "", slen), e = lt_slice_make(end ? end : "", elen);
    rc = db_compact_range(db->e, start ? &b : NULL, end ? &e : NULL);
    db_leave(db);
    return rc;
}

/* ---- statistics ----------------------------------------------------------------- */

#define U(x) ((unsigned long long)atomic_load(&(x)))

int lt_db_stats(lt_db *db, char *buf, size_t cap, size_t *needed) {
    int rc = db_enter(db, "stats");
    if (rc) return rc;
    lt_engine *e = db->e;
    lt_buf out = {0};
    char tmp[1024];
    pthread_mutex_lock(&e->mu);
    lt_version *v = lt_vset_current_ref(e->vs);
    size_t mem = lt_memtable_memory_usage(e->mem), imm = e->imm ? lt_memtable_memory_usage(e->imm) : 0;
    int nsnap = 0;
    for (lt_snapshot *s = e->snaps.next; s != &e->snaps; s = s->next) nsnap++;
    int bgerr = e->bg_error;
    unsigned long long tracked = (unsigned long long)lt_conflict_count(e->conflict);
    size_t tracked_bytes = lt_conflict_memory(e->conflict);
    pthread_mutex_unlock(&e->mu);
    lt_cache_stats cs;
    lt_cache_get_stats(e->cache, &cs);
    int n = snprintf(tmp, sizeof tmp, "{\"levels\": [");
    lt_buf_append(&out, tmp, (size_t)n);
    uint64_t total_bytes = 0, total_files = 0;
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        uint64_t bytes = lt_version_level_bytes(v, l);
        total_bytes += bytes;
        total_files += (uint64_t)v->nfiles[l];
        n = snprintf(tmp, sizeof tmp, "%s{\"level\": %d, \"files\": %d, \"bytes\": %llu}",
                     l ? ", " : "", l, v->nfiles[l], (unsigned long long)bytes);
        lt_buf_append(&out, tmp, (size_t)n);
    }
    n = snprintf(tmp, sizeof tmp,
        "], \"table_files\": %llu, \"table_bytes\": %llu, \"memtable_bytes\": %zu, "
        "\"immutable_memtable_bytes\": %zu, \"last_sequence\": %llu, \"snapshots\": %d, "
        "\"cache\": {\"hits\": %llu, \"misses\": %llu, \"inserts\": %llu, \"evictions\": %llu, "
        "\"usage\": %zu, \"capacity\": %zu}, ",
        (unsigned long long)total_files, (unsigned long long)total_bytes, mem, imm,
        (unsigned long long)atomic_load(&e->visible_seq), nsnap,
        (unsigned long long)cs.hits, (unsigned long long)cs.misses,
        (unsigned long long)cs.inserts, (unsigned long long)cs.evictions, cs.usage, cs.capacity);
    lt_buf_append(&out, tmp, (size_t)n);
    n = snprintf(tmp, sizeof tmp,
        "\"commits\": %llu, \"write_groups\": %llu, \"wal_syncs\": %llu, \"wal_bytes\": %llu, "
        "\"flushes\": %llu, \"compactions\": %llu, \"trivial_moves\": %llu, "
        "\"compaction_bytes_read\": %llu, \"compaction_bytes_written\": %llu, "
        "\"manifest_syncs\": %llu, \"write_stalls\": %llu, \"write_stall_micros\": %llu, "
        "\"gets\": %llu, \"validation_rejects\": %llu, \"background_error\": %d, \"sync\": \"%s\"}",
        U(e->st.commits), U(e->st.write_groups), U(e->st.wal_syncs), U(e->st.wal_bytes),
        U(e->st.flushes), U(e->st.compactions), U(e->st.trivial_moves),
        U(e->st.compaction_bytes_read), U(e->st.compaction_bytes_written),
        (unsigned long long)e->vs->manifest_syncs, U(e->st.stalls), U(e->st.stall_micros),
        U(e->st.gets), U(e->st.conflicts), bgerr,
        e->opt.sync == LT_SYNC_FULL ? "full" : e->opt.sync == LT_SYNC_NORMAL ? "normal" : "off");
    lt_buf_append(&out, tmp, (size_t)n);
    /* Transactions (txn.c): replace the closing brace with the transaction counters. */
    if (out.size && out.data[out.size - 1] == '}') out.size--;
    n = snprintf(tmp, sizeof tmp,
        ", \"transactions\": {\"active\": %llu, \"commits\": %llu, \"aborts\": {\"conflict\": %llu, "
        "\"rollback\": %llu, \"error\": %llu}, \"conflict_tracker_keys\": %llu, "
        "\"conflict_tracker_bytes\": %zu}}",
        U(e->st.txn_active), U(e->st.txn_commits), U(e->st.txn_aborts_conflict),
        U(e->st.txn_aborts_rollback), U(e->st.txn_aborts_error), tracked, tracked_bytes);
    lt_buf_append(&out, tmp, (size_t)n);
    /* Recovery at open (db_open.c): replace the closing brace again. */
    const lt_recovery_info *ri = &e->recovery;
    if (out.size && out.data[out.size - 1] == '}') out.size--;
    n = snprintf(tmp, sizeof tmp,
        ", \"recovery\": {\"wal_recovery\": \"%s\", \"records_replayed\": %llu, "
        "\"torn_tails\": %llu, \"torn_bytes\": %llu, \"records_dropped\": %llu, "
        "\"logs_set_aside\": %llu, \"manifest_torn_bytes\": %llu, \"damage\": \"",
        e->opt.wal_recovery == LT_WAL_POINT_IN_TIME ? "point_in_time" : "strict",
        (unsigned long long)ri->records_replayed, (unsigned long long)ri->torn_tails,
        (unsigned long long)ri->torn_bytes, (unsigned long long)ri->records_dropped,
        (unsigned long long)ri->logs_set_aside, (unsigned long long)e->vs->manifest_torn_bytes);
    lt_buf_append(&out, tmp, (size_t)n);
    for (const char *p = ri->damage; *p; p++) {   /* a JSON string */
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\') { tmp[0] = '\\'; tmp[1] = (char)ch; n = 2; }
        else if (ch < 0x20) n = snprintf(tmp, sizeof tmp, "\\u%04x", ch);
        else { tmp[0] = (char)ch; n = 1; }
        lt_buf_append(&out, tmp, (size_t)n);
    }
    lt_buf_append(&out, "\"}}", 3);
    lt_version_unref(v);
    *needed = out.size + 1;
    if (cap > 0) {
        size_t k = out.size < cap - 1 ? out.size : cap - 1;
        if (k) memcpy(buf, out.data, k);
        buf[k] = 0;
    }
    lt_buf_free(&out);
    db_leave(db);
    return LT_OK;
}
