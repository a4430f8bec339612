/* txn.c: transactions: a snapshot plus an ordered write buffer, merged reads and
 * scans, savepoints, and validation at commit against the conflict tracker.
 *
 * Design note.
 *   State     begin registers an lt_snapshot (so compaction keeps the versions it
 *             reads) and, for a read-write transaction, registers with the engine's
 *             conflict tracker (conflict.h) *before* taking the snapshot.
 *   Buffer    an lt_memtable used as an ordered map with history: every write is a
 *             new version (key, write number, type, value), write numbers counting
 *             1, 2, 3, ... so the newest write of a key shadows older ones and a
 *             deletion is a tombstone. Reads take the newest version.
 *   Savepoint the write number at the time it was taken; rolling back to it rebuilds
 *             the buffer from the versions at or below it (exact, O(buffer)).
 *   Reads     (serializable read-write) every key read is appended to `rkeys`, and
 *             every scanned range to `ranges`, for validation.
 *   Scans     merge the buffer (as of the scan's creation) over an lt_iterator at the
 *             snapshot, in either direction; the buffer wins on equal keys and its
 *             tombstones hide snapshot entries. Output is lt_iter_next_batch's format.
 *             lt_txn_scan does a short scan in one call with an iterator the
 *             transaction keeps (`scratch`, detached between calls).
 *   Commit    the newest version of each buffered key becomes one lt_batch, handed to
 *             lt_write with txn_validate as the hook: the commit leader runs it under
 *             the engine mutex, in commit order, after earlier commits (also earlier
 *             members of the same group) were recorded in the tracker.
 *   Validate  (snapshot)     any buffered key committed after the snapshot -> conflict;
 *             (serializable) also any key read, any key inside a scanned range.
 *             Transactions that wrote nothing skip validation: they serialize at
 *             their snapshot.
 *   Insert    lt_txn_insert looks up and writes with one search of the buffer
 *             (lt_memtable_add_checked). The absence read behind a successful insert
 *             is not recorded: the written key is validated anyway. A rollback to a
 *             savepoint that undoes such a put records the read then (`ins`).
 * Numbered invariants:
 *   1. Every version in `buf` has write number <= nwrites, and sps[] is increasing.
 *   2. Once `ended`, buf/rkeys/ranges/snap are released and every call but free and
 *      rollback returns LT_ECLOSED.
 *   3. `registered` implies the tracker's `active` count includes this transaction.
 *   4. Every version in `buf` written by lt_txn_insert under serializable has its write
 *      number in ins[0..nins); ins holds no write number above nwrites. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "db_impl.h"
#include "dbformat.h"
#include "../util/coding.h"
#include "../util/status.h"

typedef struct txn_range {
    int has_start, has_end, covered;
    size_t so, sl, eo, el;          /* its bounds: offsets and lengths in t->rbytes */
} txn_range;

struct lt_txn {
    lt_db *db;
    lt_snapshot *snap;
    uint64_t snap_seq;
    int isolation, read_only, registered, ended;
    size_t max_write_bytes, write_bytes;
    lt_memtable *buf;              /* writes (NULL when read-only) */
    uint64_t nwrites;              /* write number of the newest write */
    uint64_t *sps;                 /* savepoint stack: write numbers */
    size_t nsp, capsp;
    int reads;                     /* serializable read-write: reads are validated */
    lt_buf rkeys;                  /* the keys read: u32 length + bytes each, in the
                                    * order read (duplicates kept: cheaper to append
                                    * than to look up) */
    uint64_t *ins;                 /* serializable read-write: write numbers of the puts
                                    * of lt_txn_insert (increasing), whose absence reads
                                    * were not recorded */
    size_t nins, capins;
    txn_range *ranges;             /* serializable read-write: ranges scanned */
    lt_buf rbytes;                 /* their bounds (re-recording a range appends) */
    size_t nranges, capranges;
    lt_buf val;                    /* value returned by lt_txn_get from the buffer */
    lt_txn_iter *iters;            /* open iterators */
    lt_txn_iter *scratch;          /* lt_txn_scan's iterator, detached between calls */
    char msg[640];                 /* conflict message, written by txn_validate */
};

#define NO_RANGE ((size_t)-1)
#define SNAP_BATCH_ITEMS 256
#define SNAP_BUF_MIN (2u << 10)     /* snapshot-side batch buffer: first size */
#define SNAP_BUF_MAX (64u << 10)    /* and the size it grows to */

struct lt_txn_iter {
    lt_txn *t;                     /* NULL once closed */
    lt_txn_iter *prev, *next;
    int reverse, has_start, has_end;
    lt_buf start, end;
    size_t range;
    /* snapshot side: entries fetched from `sit` in batches */
    lt_iterator *sit;
    char *sbuf;
    size_t scap, spos, sleft;
    int sdone, shave;
    lt_slice sk, sv;
    /* buffer side */
    lt_iter *mit;
    uint64_t mseq;
    int bhave, bdel, bprev;
    lt_buf bk, bv;
    lt_buf last;                   /* last key delivered */
    int any, started, finished, status;
};

static lt_slice S(const lt_buf *b) { return lt_slice_make(b->data ? b->data : "", b->size); }

/* Escape a key for a message: printable ASCII as is, other bytes as \xNN, at most
 * 64 input bytes. */
static void describe_key(char *out, size_t cap, lt_slice k) {
    size_t o = 0, n = k.size < 64 ? k.size : 64;
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)k.data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (n < k.size && o + 4 < cap) { memcpy(out + o, "...", 3); o += 3; }
    out[o < cap ? o : cap - 1] = 0;
}

/* ---- validation (runs in the commit leader's thread, under the engine mutex) ----- */

static void conflict_msg(lt_txn *t, const char *what, lt_slice key, uint64_t seq) {
    char k[300];
    describe_key(k, sizeof k, key);
    snprintf(t->msg, sizeof t->msg,
             "commit: conflict on key '%s' (%s): another commit wrote it at sequence %llu, "
             "after this transaction's snapshot at %llu; retry the transaction",
             k, what, (unsigned long long)seq, (unsigned long long)t->snap_seq);
}

/* Visit the distinct user keys of a buffer memtable; stop at the first `fn` hit. */
static int check_keys(lt_txn *t, lt_memtable *m, lt_conflict *c, const char *what) {
    lt_iter *it = lt_memtable_iter(m);
    if (!it) { snprintf(t->msg, sizeof t->msg, "commit: out of memory while validating"); return LT_ENOMEM; }
    int rc = LT_OK;
    lt_buf prev = {0};
    int have = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it)) {
        lt_slice uk = lt_ikey_user(lt_iter_key(it));
        if (have && lt_slice_eq(uk, S(&prev))) continue;
        uint64_t seq = 0;
        if (lt_conflict_key(c, uk, t->snap_seq, &seq)) {
            conflict_msg(t, what, uk, seq);
            rc = LT_ECONFLICT;
            break;
        }
        prev.size = 0;
        if (lt_buf_append(&prev, uk.data, uk.size)) {
            snprintf(t->msg, sizeof t->msg, "commit: out of memory while validating");
            rc = LT_ENOMEM;
            break;
        }
        have = 1;
    }
    lt_buf_free(&prev);
    lt_iter_destroy(it);
    return rc;
}

/* The commit hook. It does not unregister the transaction early (to spare recording
 * its own keys when no other transaction is open): tried, and concurrent increments
 * under both isolation levels then lost updates (tests/test_txn_anomalies.py). */
static int txn_validate(void *arg, uint64_t last_seq) {
    lt_txn *t = arg;
    lt_conflict *c = t->db->e->conflict;
    if (last_seq <= t->snap_seq) return LT_OK;       /* nothing committed since */
    if (t->snap_seq < c->floor) {
        snprintf(t->msg, sizeof t->msg,
                 "commit: conflict: commits after this transaction's snapshot at %llu could "
                 "not be tracked (out of memory); retry the transaction",
                 (unsigned long long)t->snap_seq);
        return LT_ECONFLICT;
    }
    int rc = check_keys(t, t->buf, c, "written by this transaction");
    if (rc || t->isolation != LT_TXN_SERIALIZABLE) return rc;
    for (size_t off = 0; off < t->rkeys.size;) {
        uint32_t n;
        memcpy(&n, t->rkeys.data + off, 4);
        lt_slice k = lt_slice_make(t->rkeys.data + off + 4, n);
        uint64_t seq = 0;
        if (lt_conflict_key(c, k, t->snap_seq, &seq)) {
            conflict_msg(t, "read by this transaction", k, seq);
            return LT_ECONFLICT;
        }
        off += 4 + (size_t)n;
    }
    for (size_t i = 0; i < t->nranges; i++) {
        txn_range *r = &t->ranges[i];
        if (!r->covered) continue;
        const char *rb = t->rbytes.data ? t->rbytes.data : "";   /* (all bounds empty) */
        lt_slice s = lt_slice_make(rb + r->so, r->sl), e = lt_slice_make(rb + r->eo, r->el), k;
        uint64_t seq;
        if (lt_conflict_range(c, r->has_start ? &s : NULL, r->has_end ? &e : NULL,
                              t->snap_seq, &k, &seq)) {
            conflict_msg(t, "inside a range scanned by this transaction", k, seq);
            return LT_ECONFLICT;
        }
    }
    return LT_OK;
}


/* ---- begin / end ----------------------------------------------------------------- */

/* Transactions' iterator lists. A transaction is used by one thread at a time, but
 * lt_txn_iter_free may come from any thread at any moment (a garbage collector
 * freeing an abandoned scan), so list changes and detaching take this lock. */
static pthread_mutex_t iters_mu = PTHREAD_MUTEX_INITIALIZER;

void db_txn_atfork(int phase) {
    if (phase == 0) pthread_mutex_lock(&iters_mu);
    else pthread_mutex_unlock(&iters_mu);
}
static void iter_detach(lt_txn_iter *it);
static void iter_detach_locked(lt_txn_iter *it);
static void iter_release_memory(lt_txn_iter *it);

/* End the transaction: close its iterators, release its snapshot and registration,
 * free its buffers. `abort_stat` is the counter to bump (NULL: none). */
static void txn_end(lt_txn *t, atomic_uint_fast64_t *(*stat)(lt_engine *)) {
    if (t->ended) return;
    t->ended = 1;
    pthread_mutex_lock(&iters_mu);
    while (t->iters) iter_detach_locked(t->iters);
    pthread_mutex_unlock(&iters_mu);
    if (t->scratch && t->scratch->sit) lt_iter_close(t->scratch->sit);   /* lt_txn_scan's */
    if (t->snap) { lt_snapshot_free(t->snap); t->snap = NULL; }
    if (db_enter(t->db, "transaction end") == LT_OK) {
        lt_engine *e = t->db->e;
        if (t->registered) {
            pthread_mutex_lock(&e->mu);
            lt_conflict_unregister(e->conflict);
            pthread_mutex_unlock(&e->mu);
        }
        atomic_fetch_sub(&e->st.txn_active, 1);
        if (stat) atomic_fetch_add(stat(e), 1);
        db_leave(t->db);
    }
    /* else: the handle was closed; its engine may be gone and is not touched. */
    t->registered = 0;
    if (t->buf) { lt_memtable_unref(t->buf); t->buf = NULL; }
    lt_buf_free(&t->rkeys);
    t->reads = 0;
    lt_buf_free(&t->rbytes);
    free(t->ranges);
    t->ranges = NULL;
    t->nranges = t->capranges = 0;
    free(t->sps);
    t->sps = NULL;
    t->nsp = t->capsp = 0;
    free(t->ins);
    t->ins = NULL;
    t->nins = t->capins = 0;
    lt_buf_free(&t->val);
}

static atomic_uint_fast64_t *st_commits(lt_engine *e) { return &e->st.txn_commits; }
static atomic_uint_fast64_t *st_conflict(lt_engine *e) { return &e->st.txn_aborts_conflict; }
static atomic_uint_fast64_t *st_rollback(lt_engine *e) { return &e->st.txn_aborts_rollback; }
static atomic_uint_fast64_t *st_error(lt_engine *e) { return &e->st.txn_aborts_error; }

int lt_txn_begin(lt_db *db, int isolation, int read_only, size_t max_write_bytes,
                 lt_txn **out) {
    if (!out) return lt_seterr(LT_EINVAL, "transaction begin: null output pointer");
    *out = NULL;
    int rc = db_enter(db, "transaction begin");
    if (rc) return rc;
    lt_engine *e = db->e;
    if (isolation != LT_TXN_SNAPSHOT && isolation != LT_TXN_SERIALIZABLE) {
        db_leave(db);
        return lt_seterr(LT_EINVAL, "transaction begin: unknown isolation level %d", isolation);
    }
    if (!read_only && db->read_only) {
        db_leave(db);
        return lt_seterr(LT_EREADONLY, "transaction begin: database is open read-only");
    }
    lt_txn *t = calloc(1, sizeof *t);
    if (!t) { db_leave(db); return lt_seterr(LT_ENOMEM, "transaction begin: out of memory"); }
    t->db = db;
    db_handle_ref(db);
    t->isolation = isolation;
    t->read_only = read_only != 0;
    t->max_write_bytes = max_write_bytes ? max_write_bytes : LT_TXN_DEFAULT_MAX_WRITE_BYTES;
    if (!t->read_only) {
        t->reads = isolation == LT_TXN_SERIALIZABLE;
        if (!(t->buf = lt_memtable_new())) {
            rc = lt_seterr(LT_ENOMEM, "transaction begin: out of memory");
            goto fail;
        }
        /* Register before the snapshot (conflict.h, invariant 1). */
        pthread_mutex_lock(&e->mu);
        lt_conflict_register(e->conflict);
        pthread_mutex_unlock(&e->mu);
        t->registered = 1;
    }
    for (;;) {
        if ((rc = lt_snapshot_new(db, &t->snap))) goto fail;
        if (!t->registered) break;
        pthread_mutex_lock(&e->mu);
        uint64_t floor = e->conflict->floor;
        int bg = e->bg_error, closing = e->shutting_down || e->crashed;
        pthread_mutex_unlock(&e->mu);
        if (lt_snapshot_seq(t->snap) >= floor) break;
        /* A commit made while no transaction was registered is still being published:
         * its keys are not in the tracker, so wait until the snapshot covers it
         * (conflict.h, invariant 2). */
        lt_snapshot_free(t->snap);
        t->snap = NULL;
        if (bg) { rc = lt_seterr(LT_EBUSY, "transaction begin: %s", e->bg_errmsg); goto fail; }
        if (closing) { rc = lt_seterr(LT_ECLOSED, "transaction begin: database is closing"); goto fail; }
        struct timespec ts = { 0, 20000 };
        nanosleep(&ts, NULL);
    }
    t->snap_seq = lt_snapshot_seq(t->snap);
    atomic_fetch_add(&e->st.txn_active, 1);
    *out = t;
    db_leave(db);
    return LT_OK;
fail:
    if (t->registered) {
        pthread_mutex_lock(&e->mu);
        lt_conflict_unregister(e->conflict);
        pthread_mutex_unlock(&e->mu);
    }
    if (t->buf) lt_memtable_unref(t->buf);
    db_handle_unref(db);
    free(t);
    db_leave(db);
    return rc;
}

uint64_t lt_txn_snapshot_seq(const lt_txn *t) { return t ? t->snap_seq : 0; }
uint64_t lt_txn_write_count(const lt_txn *t) {
    return t && t->buf ? lt_memtable_count(t->buf) : 0;
}

/* Common entry check: LT_OK with db_enter done, or an error with the message set. */
static int txn_enter(lt_txn *t, const char *op) {
    if (!t) return lt_seterr(LT_EINVAL, "%s: null transaction", op);
    if (t->ended) return lt_seterr(LT_ECLOSED, "%s: the transaction has ended", op);
    return db_enter(t->db, op);
}

/* ---- reads and writes ------------------------------------------------------------- */

/* Serializable read-write: record `k` as read, for validation at commit. */
static int note_read(lt_txn *t, lt_slice k, const char *op) {
    if (!t->reads) return LT_OK;
    uint32_t n = (uint32_t)k.size;      /* keys are at most LT_MAX_KEY_SIZE */
    if (lt_buf_reserve(&t->rkeys, 4 + k.size))
        return lt_seterr(LT_ENOMEM, "%s: out of memory", op);
    char *p = t->rkeys.data + t->rkeys.size;
    memcpy(p, &n, 4);
    if (k.size) memcpy(p + 4, k.data, k.size);
    t->rkeys.size += 4 + k.size;
    return LT_OK;
}

/* The checks before buffering a write: LT_OK or the error, with its message. */
static int write_check(lt_txn *t, size_t klen, size_t vlen, const char *op) {
    if (t->read_only) return lt_seterr(LT_EREADONLY, "%s: the transaction is read-only", op);
    if (klen > LT_MAX_KEY_SIZE)
        return lt_seterr(LT_EINVAL, "%s: key of %zu bytes exceeds the limit of %u bytes", op, klen, LT_MAX_KEY_SIZE);
    if (vlen > LT_MAX_VALUE_SIZE)
        return lt_seterr(LT_EINVAL, "%s: value of %zu bytes exceeds the limit of %u bytes", op, vlen, LT_MAX_VALUE_SIZE);
    if (t->write_bytes + klen + vlen + 16 > t->max_write_bytes)
        return lt_seterr(LT_EINVAL, "%s: the transaction's write buffer would exceed its limit "
                         "of %zu bytes (%zu bytes buffered)", op, t->max_write_bytes, t->write_bytes);
    return LT_OK;
}

int lt_txn_get(lt_txn *t, const void *key, size_t klen, const char **val, size_t *vlen) {
    return lt_txn_get_ex(t, key, klen, 0, val, vlen);
}

int lt_txn_get_ex(lt_txn *t, const void *key, size_t klen, int flags, const char **val,
                  size_t *vlen) {
    int rc = txn_enter(t, "get");
    if (rc) return rc;
    lt_db *db = t->db;
    if (klen > LT_MAX_KEY_SIZE) {
        db_leave(db);
        return lt_seterr(LT_EINVAL, "get: key of %zu bytes exceeds the limit of %u bytes", klen, LT_MAX_KEY_SIZE);
    }
    lt_slice k = lt_slice_make(klen ? key : "", klen);
    /* Serializable: the read is recorded whatever it finds (an absent key read
     * conflicts with a later insert of it). */
    if ((rc = note_read(t, k, "get"))) { db_leave(db); return rc; }
    if (t->buf && t->nwrites > 0) {
        lt_slice found;
        int deleted = 0;
        rc = lt_memtable_get(t->buf, k, LT_MAX_SEQ, &found, &deleted);
        if (rc == LT_OK) {
            t->val.size = 0;
            if (lt_buf_append(&t->val, found.data, found.size)) {
                db_leave(db);
                return lt_seterr(LT_ENOMEM, "get: out of memory");
            }
            *val = t->val.data ? t->val.data : "";
            *vlen = t->val.size;
            db_leave(db);
            return LT_OK;
        }
        if (deleted) { db_leave(db); return LT_ENOTFOUND; }
    }
    rc = db_get(db, t->snap, k.data, k.size, flags, val, vlen);
    db_leave(db);
    return rc;
}

static int txn_write(lt_txn *t, int type, const void *key, size_t klen, const void *val,
                     size_t vlen, const char *op) {
    int rc = txn_enter(t, op);
    if (rc) return rc;
    lt_db *db = t->db;
    if ((rc = write_check(t, klen, vlen, op)) == LT_OK &&
        (rc = lt_memtable_add(t->buf, t->nwrites + 1, type, lt_slice_make(klen ? key : "", klen),
                                   lt_slice_make(vlen ? val : "", vlen))) == LT_OK) {
        t->nwrites++;
        t->write_bytes += klen + vlen + 16;
    }
    db_leave(db);
    return rc;
}

int lt_txn_put(lt_txn *t, const void *key, size_t klen, const void *val, size_t vlen) {
    return txn_write(t, LT_TYPE_VALUE, key, klen, val, vlen, "put");
}

int lt_txn_delete(lt_txn *t, const void *key, size_t klen) {
    return txn_write(t, LT_TYPE_DELETION, key, klen, NULL, 0, "delete");
}

/* Is `key` visible at the snapshot? LT_EEXISTS, LT_ENOTFOUND or an error. */
static int snapshot_has(lt_txn *t, lt_slice key) {
    const char *v;
    size_t n;
    int rc = lt_get(t->db, t->snap, key.data, key.size, &v, &n);
    return rc == LT_OK ? lt_seterr(LT_EEXISTS, "insert: the key already exists") : rc;
}

typedef struct insert_ctx { lt_txn *t; lt_slice key; size_t vlen; } insert_ctx;

/* lt_memtable_add_checked's hook: decide from the key's newest buffered version. */
static int insert_check(void *arg, int rc, int deleted, lt_slice value) {
    insert_ctx *c = arg;
    (void)value;
    if (rc == LT_OK) return lt_seterr(LT_EEXISTS, "insert: the key already exists");
    if (!deleted && (rc = snapshot_has(c->t, c->key)) != LT_ENOTFOUND) return rc;
    return write_check(c->t, c->key.size, c->vlen, "insert");
}

int lt_txn_insert(lt_txn *t, const void *key, size_t klen, const void *val, size_t vlen) {
    int rc = txn_enter(t, "insert");
    if (rc) return rc;
    lt_db *db = t->db;
    lt_slice k = lt_slice_make(klen ? key : "", klen);
    if (klen > LT_MAX_KEY_SIZE) {
        db_leave(db);
        return lt_seterr(LT_EINVAL, "insert: key of %zu bytes exceeds the limit of %u bytes", klen, LT_MAX_KEY_SIZE);
    }
    if (!t->buf) {   /* read-only: nothing to write, but an existing key is reported */
        rc = snapshot_has(t, k);
        if (rc == LT_ENOTFOUND) rc = write_check(t, klen, vlen, "insert");
    } else if (t->reads && t->nins == t->capins) {
        size_t c = t->capins ? t->capins * 2 : 64;
        uint64_t *p = realloc(t->ins, c * sizeof *p);
        if (p) { t->ins = p; t->capins = c; }
        else rc = lt_seterr(LT_ENOMEM, "insert: out of memory");
    }
    if (t->buf && rc == LT_OK) {
        insert_ctx c = { t, k, vlen };
        rc = lt_memtable_add_checked(t->buf, t->nwrites + 1, LT_TYPE_VALUE, k,
                                     lt_slice_make(vlen ? val : "", vlen), insert_check, &c);
        if (rc == LT_OK) {
            t->nwrites++;
            t->write_bytes += klen + vlen + 16;
            if (t->reads) t->ins[t->nins++] = t->nwrites;
        }
    }
    /* Not inserted: the caller learnt something from the read; record it as
     * lt_txn_get would (a failure to do so takes precedence: the read is lost). */
    if (rc != LT_OK) {
        int nrc = note_read(t, k, "insert");
        if (nrc) rc = nrc;
    }
    db_leave(db);
    return rc;
}

/* ---- savepoints ------------------------------------------------------------------- */

int lt_txn_savepoint(lt_txn *t, uint64_t *id) {
    int rc = txn_enter(t, "savepoint");
    if (rc) return rc;
    if (t->nsp == t->capsp) {
        size_t c = t->capsp ? t->capsp * 2 : 8;
        uint64_t *p = realloc(t->sps, c * sizeof *p);
        if (!p) { db_leave(t->db); return lt_seterr(LT_ENOMEM, "savepoint: out of memory"); }
        t->sps = p;
        t->capsp = c;
    }
    t->sps[t->nsp++] = t->nwrites;
    *id = t->nsp;
    db_leave(t->db);
    return LT_OK;
}

static int check_sp(lt_txn *t, uint64_t id, const char *op) {
    if (id == 0 || id > t->nsp)
        return lt_seterr(LT_EINVAL, "%s: savepoint %llu does not exist (%zu open)", op,
                         (unsigned long long)id, t->nsp);
    return LT_OK;
}

/* Index in ins[] of the first write number > w (ins is increasing). */
static size_t ins_above(const lt_txn *t, uint64_t w) {
    size_t lo = 0, hi = t->nins;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ins[mid] <= w) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Rebuild the buffer from the versions with write number <= keep. The absence reads
 * behind discarded puts of lt_txn_insert are recorded now (invariant 4). */
static int rebuild_buffer(lt_txn *t, uint64_t keep) {
    lt_memtable *fresh = lt_memtable_new();
    lt_iter *it = fresh ? lt_memtable_iter(t->buf) : NULL;
    size_t bytes = 0, first_ins = ins_above(t, keep);
    int rc = it ? LT_OK : LT_ENOMEM;
    if (it) {
        for (lt_iter_seek_first(it); rc == LT_OK && lt_iter_valid(it); lt_iter_next(it)) {
            lt_slice ik = lt_iter_key(it), v = lt_iter_value(it);
            uint64_t w = lt_ikey_seq(ik);
            if (w > keep) {
                size_t i = ins_above(t, w - 1);
                if (i >= first_ins && i < t->nins && t->ins[i] == w)
                    rc = note_read(t, lt_ikey_user(ik), "rollback to savepoint");
                continue;
            }
            rc = lt_memtable_add(fresh, lt_ikey_seq(ik), lt_ikey_type(ik), lt_ikey_user(ik), v);
            bytes += ik.size - 8 + v.size + 16;
        }
    }
    lt_iter_destroy(it);
    if (rc) {
        if (fresh) lt_memtable_unref(fresh);
        return lt_seterr(LT_ENOMEM, "rollback to savepoint: out of memory");
    }
    lt_memtable_unref(t->buf);
    t->buf = fresh;
    t->nwrites = keep;
    t->write_bytes = bytes;
    t->nins = first_ins;
    return LT_OK;
}

int lt_txn_rollback_to(lt_txn *t, uint64_t id) {
    int rc = txn_enter(t, "rollback to savepoint");
    if (rc) return rc;
    if ((rc = check_sp(t, id, "rollback to savepoint")) == LT_OK) {
        uint64_t keep = t->sps[id - 1];
        if (t->buf && t->nwrites > keep) rc = rebuild_buffer(t, keep);
        if (rc == LT_OK) t->nsp = (size_t)id;
    }
    db_leave(t->db);
    return rc;
}

int lt_txn_release(lt_txn *t, uint64_t id) {
    int rc = txn_enter(t, "release savepoint");
    if (rc) return rc;
    if ((rc = check_sp(t, id, "release savepoint")) == LT_OK) t->nsp = (size_t)id - 1;
    db_leave(t->db);
    return rc;
}

/* ---- commit and rollback ------------------------------------------------------------ */

/* The newest version of every buffered key, as a batch. */
static int build_batch(lt_txn *t, lt_batch *b) {
    lt_iter *it = lt_memtable_iter(t->buf);
    if (!it) return LT_ENOMEM;
    int rc = LT_OK;
    lt_buf prev = {0};
    int have = 0;
    for (lt_iter_seek_first(it); rc == LT_OK && lt_iter_valid(it); lt_iter_next(it)) {
        lt_slice ik = lt_iter_key(it), uk = lt_ikey_user(ik);
        if (have && lt_slice_eq(uk, S(&prev))) continue;   /* an older version */
        rc = lt_ikey_type(ik) == LT_TYPE_VALUE
                 ? lt_batch_put(b, uk.data, uk.size, lt_iter_value(it).data, lt_iter_value(it).size)
                 : lt_batch_delete(b, uk.data, uk.size);
        prev.size = 0;
        if (rc == LT_OK && lt_buf_append(&prev, uk.data, uk.size)) rc = LT_ENOMEM;
        have = 1;
    }
    lt_buf_free(&prev);
    lt_iter_destroy(it);
    return rc;
}

int lt_txn_commit(lt_txn *t, uint64_t *seq) {
    int rc = txn_enter(t, "commit");
    if (rc) {
        if (t && !t->ended && rc == LT_ECLOSED) txn_end(t, NULL);
        return rc;
    }
    lt_db *db = t->db;
    uint64_t s = t->snap_seq;
    char msg[700] = "";
    if (!t->read_only && lt_memtable_count(t->buf) > 0) {
        lt_batch *b = NULL;
        rc = lt_batch_new(&b);
        if (rc == LT_OK) rc = build_batch(t, b);
        if (rc == LT_OK) {
            t->msg[0] = 0;
            rc = lt_write(db, b, txn_validate, t, &s);
            if (rc == LT_ECONFLICT) snprintf(msg, sizeof msg, "%s", t->msg[0] ? t->msg : "commit: conflict");
            else if (rc) snprintf(msg, sizeof msg, "%s", lt_errmsg());
        } else {
            snprintf(msg, sizeof msg, "commit: out of memory");
        }
        lt_batch_free(b);
    }
    txn_end(t, rc == LT_OK ? st_commits : rc == LT_ECONFLICT ? st_conflict : st_error);
    db_leave(db);
    if (rc) return lt_seterr(rc, "%s", msg);
    if (seq) *seq = s;
    return LT_OK;
}

int lt_txn_rollback(lt_txn *t) {
    if (!t) return lt_seterr(LT_EINVAL, "rollback: null transaction");
    txn_end(t, st_rollback);
    return LT_OK;
}

void lt_txn_free(lt_txn *t) {
    if (!t) return;
    lt_txn_rollback(t);
    if (t->scratch) iter_release_memory(t->scratch);   /* detached: touches no one */
    db_handle_unref(t->db);
    free(t);
}

/* ---- scans -------------------------------------------------------------------------- */

/* REQUIRES: iters_mu held. */
static void iter_detach_locked(lt_txn_iter *it) {
    lt_txn *t = it->t;
    if (!t) return;
    if (it->prev) it->prev->next = it->next; else t->iters = it->next;
    if (it->next) it->next->prev = it->prev;
    it->prev = it->next = NULL;
    it->t = NULL;
    if (it->sit) lt_iter_close(it->sit);
    lt_iter_destroy(it->mit);
    it->mit = NULL;
}

static void iter_detach(lt_txn_iter *it) {
    pthread_mutex_lock(&iters_mu);
    iter_detach_locked(it);
    pthread_mutex_unlock(&iters_mu);
}

/* Set up `it` (zeroed, or detached after an earlier scan: its memory is reused) as a
 * scan of [start, end) in t and attach it. The caller is inside txn_enter. On
 * failure `it` stays detached and keeps what it owns (the caller frees it). */
static int iter_init(lt_txn *t, lt_txn_iter *it, const void *start, size_t slen,
                     const void *end, size_t elen, int reverse) {
    int rc;
    lt_iterator *sit = it->sit;
    lt_buf kept[5] = {it->start, it->end, it->bk, it->bv, it->last};
    char *sbuf = it->sbuf;
    size_t scap = it->scap;
    memset(it, 0, sizeof *it);
    it->start = kept[0]; it->end = kept[1]; it->bk = kept[2]; it->bv = kept[3];
    it->last = kept[4];
    it->start.size = it->end.size = it->bk.size = it->bv.size = it->last.size = 0;
    it->sit = sit;
    it->sbuf = sbuf;
    it->scap = sbuf ? scap : SNAP_BUF_MIN;
    it->reverse = reverse != 0;
    it->range = NO_RANGE;
    if ((start && (it->has_start = 1) && lt_buf_append(&it->start, slen ? start : "", slen)) ||
        (end && (it->has_end = 1) && lt_buf_append(&it->end, elen ? end : "", elen)) ||
        (!it->sbuf && !(it->sbuf = malloc(it->scap))))
        return lt_seterr(LT_ENOMEM, "scan: out of memory");
    rc = it->sit ? lt_iter_reopen(it->sit, t->snap, start, slen, end, elen, reverse)
                 : lt_iter_new(t->db, t->snap, start, slen, end, elen, reverse, &it->sit);
    if (rc) return rc;
    if (t->buf && t->nwrites > 0) {   /* (no writes yet: nothing to merge) */
        if (!(it->mit = lt_memtable_iter(t->buf))) return lt_seterr(LT_ENOMEM, "scan: out of memory");
        it->mseq = t->nwrites;
    }
    if (t->reads) {   /* serializable read-write: the range is validated at commit */
        if (t->nranges == t->capranges) {
            size_t c = t->capranges ? t->capranges * 2 : 8;
            txn_range *p = realloc(t->ranges, c * sizeof *p);
            if (!p) {
                lt_iter_destroy(it->mit);
                it->mit = NULL;
                return lt_seterr(LT_ENOMEM, "scan: out of memory");
            }
            t->ranges = p;
            t->capranges = c;
        }
        memset(&t->ranges[t->nranges], 0, sizeof t->ranges[0]);
        it->range = t->nranges++;
    }
    pthread_mutex_lock(&iters_mu);
    it->t = t;
    it->next = t->iters;
    if (t->iters) t->iters->prev = it;
    t->iters = it;
    pthread_mutex_unlock(&iters_mu);
    return LT_OK;
}

static void iter_release_memory(lt_txn_iter *it) {
    lt_iter_destroy(it->mit);
    if (it->sit) lt_iter_free(it->sit);
    free(it->sbuf);
    lt_buf_free(&it->start);
    lt_buf_free(&it->end);
    lt_buf_free(&it->bk);
    lt_buf_free(&it->bv);
    lt_buf_free(&it->last);
    free(it);
}

int lt_txn_iter_new(lt_txn *t, const void *start, size_t slen, const void *end, size_t elen,
                    int reverse, lt_txn_iter **out) {
    int rc = txn_enter(t, "scan");
    if (rc) return rc;
    lt_txn_iter *it = calloc(1, sizeof *it);
    if (!it) rc = lt_seterr(LT_ENOMEM, "scan: out of memory");
    else if ((rc = iter_init(t, it, start, slen, end, elen, reverse))) iter_release_memory(it);
    else *out = it;
    db_leave(t->db);
    return rc;
}

int lt_txn_scan(lt_txn *t, const void *start, size_t slen, const void *end, size_t elen,
                int reverse, char *buf, size_t cap, size_t max_items, size_t *n_items,
                size_t *used, int *finished) {
    *n_items = *used = 0;
    *finished = 0;
    int rc = txn_enter(t, "scan");
    if (rc) return rc;
    lt_txn_iter *it = t->scratch;
    if (!it && !(it = t->scratch = calloc(1, sizeof *it)))
        rc = lt_seterr(LT_ENOMEM, "scan: out of memory");
    else
        rc = iter_init(t, it, start, slen, end, elen, reverse);
    db_leave(t->db);
    size_t off = 0, got, need;
    while (rc == LT_OK && *n_items < max_items) {
        rc = lt_txn_iter_next_batch(it, buf + off, cap - off, max_items - *n_items, &got,
                                    &need);
        if (rc || got == 0) {       /* the end (need 0), or the next entry does not fit */
            *finished = rc == LT_OK && need == 0;
            if (rc == LT_OK && *n_items == 0) *used = need;
            break;
        }
        *n_items += got;
        off += need;
    }
    if (*n_items) *used = off;
    if (it) {                       /* kept by t for the next one-shot scan */
        lt_iterator *sit = it->sit;
        it->sit = NULL;             /* detached, its snapshot side stays open: the */
        iter_detach(it);            /* next scan reuses it (closed at txn_end) */
        it->sit = sit;
        if (rc && sit) lt_iter_close(sit);
    }
    return rc;
}

/* Advance the snapshot side to its next entry (shave = 0 at the end). */
static int s_advance(lt_txn_iter *it) {
    it->shave = 0;
    while (it->sleft == 0) {
        if (it->sdone) return LT_OK;
        size_t n = 0, used = 0;
        int rc = lt_iter_next_batch(it->sit, it->sbuf, it->scap, SNAP_BATCH_ITEMS, &n, &used);
        if (rc) return rc;
        if (n == 0) {
            if (used <= it->scap) { it->sdone = 1; return LT_OK; }
            char *p = realloc(it->sbuf, used);
            if (!p) return lt_seterr(LT_ENOMEM, "scan: out of memory");
            it->sbuf = p;
            it->scap = used;
            continue;
        }
        it->sleft = n;
        it->spos = 0;
        /* short scans (SQL index lookups) start small; long ones double the buffer
         * whenever a batch fills more than half of it */
        if (used > it->scap / 2 && it->scap < SNAP_BUF_MAX) {
            char *p = malloc(it->scap * 2);
            if (p) {
                memcpy(p, it->sbuf, used);
                free(it->sbuf);
                it->sbuf = p;
                it->scap *= 2;
            }
        }
    }
    const char *p = it->sbuf + it->spos;
    uint32_t kl = lt_get_fixed32(p), vl = lt_get_fixed32(p + 4);
    it->sk = lt_slice_make(p + 8, kl);
    it->sv = lt_slice_make(p + 8 + kl, vl);
    it->spos += 8 + (size_t)kl + vl;
    it->sleft--;
    it->shave = 1;
    return LT_OK;
}

static int set_b(lt_txn_iter *it, lt_slice ik, lt_slice v) {
    lt_slice uk = lt_ikey_user(ik);
    it->bk.size = it->bv.size = 0;
    if (lt_buf_append(&it->bk, uk.data, uk.size) || lt_buf_append(&it->bv, v.data, v.size))
        return lt_seterr(LT_ENOMEM, "scan: out of memory");
    it->bdel = lt_ikey_type(ik) == LT_TYPE_DELETION;
    return LT_OK;
}

/* Advance the buffer side to the newest version (write number <= mseq) of the next
 * user key in scan order (bhave = 0 at the end). */
static int b_advance(lt_txn_iter *it) {
    lt_iter *m = it->mit;
    it->bhave = 0;
    if (!m) return LT_OK;
    if (!it->reverse) {
        for (; lt_iter_valid(m); lt_iter_next(m)) {
            lt_slice ik = lt_iter_key(m), uk = lt_ikey_user(ik);
            if (lt_ikey_seq(ik) > it->mseq) continue;
            if (it->bprev && lt_slice_eq(uk, S(&it->bk))) continue;   /* older version */
            if (it->has_end && lt_slice_cmp(uk, S(&it->end)) >= 0) return LT_OK;
            int rc = set_b(it, ik, lt_iter_value(m));
            if (rc) return rc;
            it->bhave = it->bprev = 1;
            lt_iter_next(m);
            return LT_OK;
        }
        return LT_OK;
    }
    /* Backward, the versions of a key arrive oldest first: keep the newest. */
    int have = 0;
    for (; lt_iter_valid(m); lt_iter_prev(m)) {
        lt_slice ik = lt_iter_key(m), uk = lt_ikey_user(ik);
        if (lt_ikey_seq(ik) > it->mseq) continue;
        if (have && !lt_slice_eq(uk, S(&it->bk))) break;
        if (!have && it->has_start && lt_slice_cmp(uk, S(&it->start)) < 0) break;
        int rc = set_b(it, ik, lt_iter_value(m));
        if (rc) return rc;
        have = 1;
    }
    it->bhave = have;
    return LT_OK;
}

static int iter_start(lt_txn_iter *it) {
    it->started = 1;
    if (it->mit) {
        char stack[256];
        lt_buf heap = {0};
        lt_slice k;
        if (!it->reverse ? it->has_start : it->has_end) {
            if (lt_seek_key(S(it->reverse ? &it->end : &it->start), LT_MAX_SEQ, stack,
                            sizeof stack, &heap, &k))
                return LT_ENOMEM;
            lt_iter_seek(it->mit, k);
            lt_buf_free(&heap);
            if (it->reverse) {
                if (lt_iter_valid(it->mit)) lt_iter_prev(it->mit); else lt_iter_seek_last(it->mit);
            }
        } else if (!it->reverse) {
            lt_iter_seek_first(it->mit);
        } else {
            lt_iter_seek_last(it->mit);
        }
    }
    int rc = b_advance(it);
    if (rc == LT_OK) rc = s_advance(it);
    return rc;
}

/* Serializable: record the part of the range delivered so far. */
static int note_range(lt_txn_iter *it) {
    lt_txn *t = it->t;
    if (it->range == NO_RANGE || (!it->finished && !it->any)) return LT_OK;
    txn_range *r = &t->ranges[it->range];
    lt_buf *b = &t->rbytes;
    /* start: the scan's, or (reverse, not finished) the last key delivered; end: the
     * scan's, or (forward, not finished) just past the last key: last + "\0" */
    int from_last = !it->finished && it->reverse, to_last = !it->finished && !it->reverse;
    const lt_buf *sb = from_last ? &it->last : &it->start, *eb = to_last ? &it->last : &it->end;
    r->has_start = from_last || it->has_start;
    r->has_end = to_last || it->has_end;
    r->so = b->size;
    r->sl = sb->size;
    int rc = lt_buf_append(b, sb->data ? sb->data : "", sb->size);
    r->eo = b->size;
    r->el = eb->size + (size_t)to_last;
    rc |= lt_buf_append(b, eb->data ? eb->data : "", eb->size);
    if (to_last) rc |= lt_buf_append_byte(b, 0);
    if (rc) {   /* fail safe: an unrecordable range is recorded as everything */
        r->has_start = r->has_end = 0;
        r->sl = r->el = 0;
        r->so = r->eo = 0;
    }
    r->covered = 1;
    return LT_OK;
}

int lt_txn_iter_next_batch(lt_txn_iter *it, char *buf, size_t cap, size_t max_items,
                           size_t *n_items, size_t *used) {
    *n_items = 0;
    *used = 0;
    if (!it) return lt_seterr(LT_EINVAL, "scan: null iterator");
    if (!it->t) return lt_seterr(LT_ECLOSED, "scan: the iterator is closed");
    lt_txn *t = it->t;
    int rc = txn_enter(t, "scan");
    if (rc) return rc;
    if (it->status) { db_leave(t->db); return lt_seterr(it->status, "scan: stopped by an earlier error"); }
    if (!it->started && (rc = iter_start(it))) goto out;
    size_t n = 0, off = 0;
    while (n < max_items) {
        if (!it->bhave && !it->shave) { it->finished = 1; break; }
        int c;
        if (!it->bhave) c = 1;
        else if (!it->shave) c = -1;
        else {
            c = lt_slice_cmp(S(&it->bk), it->sk);
            if (it->reverse) c = -c;
        }
        if (c > 0 || !it->bdel) {
            lt_slice k = c <= 0 ? S(&it->bk) : it->sk, v = c <= 0 ? S(&it->bv) : it->sv;
            size_t need = 8 + k.size + v.size;
            if (off + need > cap) {
                if (n == 0) *used = need;
                break;
            }
            lt_put_fixed32(buf + off, (uint32_t)k.size);
            lt_put_fixed32(buf + off + 4, (uint32_t)v.size);
            if (k.size) memcpy(buf + off + 8, k.data, k.size);
            if (v.size) memcpy(buf + off + 8 + k.size, v.data, v.size);
            off += need;
            n++;
            it->last.size = 0;
            if (lt_buf_append(&it->last, k.data, k.size)) { rc = lt_seterr(LT_ENOMEM, "scan: out of memory"); break; }
            it->any = 1;
        }
        if (c <= 0 && (rc = b_advance(it))) break;
        if (c >= 0 && (rc = s_advance(it))) break;
    }
    if (rc == LT_OK) {
        *n_items = n;
        if (n > 0) *used = off;
        note_range(it);
    }
out:
    if (rc) it->status = rc;
    db_leave(t->db);
    return rc;
}

int lt_txn_iter_close(lt_txn_iter *it) {
    if (it) iter_detach(it);
    return LT_OK;
}

void lt_txn_iter_free(lt_txn_iter *it) {
    if (!it) return;
    iter_detach(it);
    iter_release_memory(it);
}
