/* test_txn.c: the conflict tracker (conflict.h) directly, and transactions through the
 * public API: read-your-writes, merged scans in both directions with bounds,
 * savepoints, conflicts under both isolation levels (keys, reads, scanned ranges),
 * read-only transactions, the write buffer limit, use after the end, lt_txn_insert
 * and its validation, and the write buffer's skiplist (a memtable) under inserts in
 * mixed orders (the writer's splice hint); one-shot scans (lt_txn_scan) and
 * lt_txn_get_ex. */
#include <pthread.h>
#include <stdint.h>
#include "../include/lightning.h"
#include "../db/conflict.h"
#include "../db/dbformat.h"
#include "testutil.h"

static lt_slice SL(const char *s) { return lt_slice_make(s, strlen(s)); }

static void test_tracker(void) {
    lt_conflict *c = lt_conflict_new();
    CHECK(c != NULL);
    lt_batch *b;
    CHECK_OK(lt_batch_new(&b));
    CHECK_OK(lt_batch_put(b, "k1", 2, "v", 1));
    CHECK_OK(lt_batch_delete(b, "k3", 2));
    CHECK_OK(lt_batch_put(b, "k1", 2, "w", 1));   /* same key twice in one batch */
    /* No transaction registered: nothing recorded, the floor rises. */
    lt_conflict_record(c, b, 10, 0);
    CHECK_EQ_INT(lt_conflict_count(c), 0);
    CHECK_EQ_INT(c->floor, 10);
    lt_conflict_register(c);
    lt_conflict_record(c, b, 20, 0);
    CHECK_EQ_INT(lt_conflict_count(c), 2);
    uint64_t seq = 0;
    CHECK(lt_conflict_key(c, SL("k1"), 19, &seq));
    CHECK_EQ_INT(seq, 20);
    CHECK(!lt_conflict_key(c, SL("k1"), 20, &seq));   /* the snapshot sees it */
    CHECK(!lt_conflict_key(c, SL("k2"), 0, &seq));
    CHECK(!lt_conflict_key(c, SL("k"), 0, &seq));
    lt_slice s = SL("k2"), e = SL("k3"), e2 = SL("k4"), k;
    CHECK(!lt_conflict_range(c, &s, &e, 0, &k, &seq));            /* [k2, k3) */
    CHECK(lt_conflict_range(c, &s, &e2, 0, &k, &seq));            /* [k2, k4) */
    CHECK(lt_slice_eq(k, SL("k3")));
    CHECK(lt_conflict_range(c, NULL, NULL, 19, &k, &seq));
    CHECK(!lt_conflict_range(c, NULL, NULL, 20, &k, &seq));
    CHECK(!lt_conflict_range(c, &e2, NULL, 0, &k, &seq));
    lt_batch_clear(b);
    CHECK_OK(lt_batch_put(b, "k1", 2, "x", 1));
    lt_conflict_record(c, b, 30, 0);
    CHECK(lt_conflict_key(c, SL("k1"), 25, &seq));
    CHECK_EQ_INT(seq, 30);                                       /* newest first */
    /* Pruning drops what every live snapshot already sees, keeps the rest. */
    lt_conflict_prune(c, 20);
    CHECK_EQ_INT(lt_conflict_count(c), 1);
    CHECK(lt_conflict_key(c, SL("k1"), 25, &seq));
    CHECK(!lt_conflict_key(c, SL("k3"), 0, &seq));
    /* Automatic pruning keeps the tracker bounded. */
    for (uint64_t i = 0; i < 20000; i++) {
        char key[32];
        lt_batch_clear(b);
        snprintf(key, sizeof key, "p%llu", (unsigned long long)i);
        CHECK_OK(lt_batch_put(b, key, strlen(key), "", 0));
        lt_conflict_record(c, b, 100 + i, 100 + i);   /* oldest snapshot keeps up */
    }
    CHECK(lt_conflict_count(c) <= 8192);
    /* The last transaction out empties it. */
    lt_conflict_unregister(c);
    CHECK_EQ_INT(lt_conflict_count(c), 0);
    lt_batch_free(b);
    lt_conflict_free(c);
}

/* lt_memtable_add_checked's hooks: always insert; or note what was found, refuse. */
static int always_ok(void *arg, int rc, int deleted, lt_slice value) {
    (void)arg; (void)rc; (void)deleted; (void)value;
    return LT_OK;
}

static int note_and_refuse(void *arg, int rc, int deleted, lt_slice value) {
    char *out = arg;
    snprintf(out, 32, "%d/%d/%.*s", rc == LT_OK, deleted, (int)value.size, value.data);
    return LT_EEXISTS;
}

static lt_options mem_opts(lt_env *env) {
    lt_options o;
    lt_options_init(&o);
    o.env = env;
    o.sync = LT_SYNC_OFF;
    return o;
}

static int tget(lt_txn *t, const char *k, char *out, size_t cap) {
    const char *v;
    size_t n;
    int rc = lt_txn_get(t, k, strlen(k), &v, &n);
    if (rc == LT_OK) {
        if (n >= cap) n = cap - 1;
        memcpy(out, v, n);
        out[n] = 0;
    }
    return rc;
}

static int tput(lt_txn *t, const char *k, const char *v) {
    return lt_txn_put(t, k, strlen(k), v, strlen(v));
}

/* A scan as "k=v;" entries; max_items per batch call = step; stops after `limit`. */
static int tscan(lt_txn *t, const char *a, const char *b, int reverse, size_t step,
                 size_t limit, char *out, size_t cap) {
    lt_txn_iter *it;
    int rc = lt_txn_iter_new(t, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, reverse, &it);
    if (rc) return rc;
    char buf[256];
    size_t o = 0, total = 0;
    out[0] = 0;
    while (total < limit) {
        size_t n, used, want = step < limit - total ? step : limit - total;
        if ((rc = lt_txn_iter_next_batch(it, buf, sizeof buf, want, &n, &used))) break;
        if (n == 0) break;
        size_t p = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t kl, vl;
            memcpy(&kl, buf + p, 4);
            memcpy(&vl, buf + p + 4, 4);
            o += (size_t)snprintf(out + o, cap - o, "%.*s=%.*s;", (int)kl, buf + p + 8,
                                  (int)vl, buf + p + 8 + kl);
            p += 8 + kl + vl;
        }
        total += n;
    }
    lt_txn_iter_free(it);
    return rc;
}

static void test_read_your_writes(void) {
    lt_env *env;
    lt_db *db;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = mem_opts(env);
    CHECK_OK(lt_db_open("/t1", &o, &db));
    CHECK_OK(lt_put(db, "a", 1, "1", 1));
    CHECK_OK(lt_put(db, "c", 1, "3", 1));
    CHECK_OK(lt_put(db, "e", 1, "5", 1));
    lt_txn *t;
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t));  /* reads are not validated */
    CHECK_OK(lt_put(db, "z", 1, "late", 4));                 /* after the snapshot */
    char v[64], s[512];
    CHECK_EQ_INT(tget(t, "z", v, sizeof v), LT_ENOTFOUND);
    CHECK_OK(tput(t, "b", "2"));
    CHECK_OK(tput(t, "c", "33"));
    CHECK_OK(lt_txn_delete(t, "e", 1));
    CHECK_OK(tput(t, "b", "22"));                            /* shadows the first */
    CHECK_OK(tget(t, "b", v, sizeof v));
    CHECK(strcmp(v, "22") == 0);
    CHECK_EQ_INT(tget(t, "e", v, sizeof v), LT_ENOTFOUND);
    CHECK_OK(tscan(t, NULL, NULL, 0, 1, 100, s, sizeof s));
    CHECK(strcmp(s, "a=1;b=22;c=33;") == 0);
    CHECK_OK(tscan(t, NULL, NULL, 1, 2, 100, s, sizeof s));
    CHECK(strcmp(s, "c=33;b=22;a=1;") == 0);
    CHECK_OK(tscan(t, "b", "c", 0, 7, 100, s, sizeof s));
    CHECK(strcmp(s, "b=22;") == 0);
    CHECK_OK(tscan(t, "a", "c", 1, 7, 100, s, sizeof s));
    CHECK(strcmp(s, "b=22;a=1;") == 0);
    /* Savepoints: nested, exact restore. */
    uint64_t sp1, sp2;
    CHECK_OK(lt_txn_savepoint(t, &sp1));
    CHECK_OK(tput(t, "a", "x"));
    CHECK_OK(lt_txn_savepoint(t, &sp2));
    CHECK_OK(lt_txn_delete(t, "b", 1));
    CHECK_OK(tscan(t, NULL, NULL, 0, 10, 100, s, sizeof s));
    CHECK(strcmp(s, "a=x;c=33;") == 0);
    CHECK_OK(lt_txn_rollback_to(t, sp2));
    CHECK_OK(tscan(t, NULL, NULL, 0, 10, 100, s, sizeof s));
    CHECK(strcmp(s, "a=x;b=22;c=33;") == 0);
    CHECK_OK(lt_txn_rollback_to(t, sp1));
    CHECK_EQ_INT(lt_txn_rollback_to(t, sp2), LT_EINVAL);    /* discarded */
    CHECK_OK(tscan(t, NULL, NULL, 0, 10, 100, s, sizeof s));
    CHECK(strcmp(s, "a=1;b=22;c=33;") == 0);
    CHECK_OK(lt_txn_release(t, sp1));
    CHECK_EQ_INT(lt_txn_rollback_to(t, sp1), LT_EINVAL);
    uint64_t seq = 0;
    CHECK_OK(lt_txn_commit(t, &seq));
    CHECK(seq > lt_txn_snapshot_seq(t));
    CHECK_EQ_INT(lt_txn_get(t, "a", 1, (const char **)&s, &seq), LT_ECLOSED);
    CHECK_EQ_INT(lt_txn_commit(t, NULL), LT_ECLOSED);
    CHECK_OK(lt_txn_rollback(t));
    lt_txn_free(t);
    const char *val;
    size_t vl;
    CHECK_EQ_INT(lt_get(db, NULL, "e", 1, &val, &vl), LT_ENOTFOUND);
    CHECK_OK(lt_get(db, NULL, "c", 1, &val, &vl));
    CHECK(vl == 2 && memcmp(val, "33", 2) == 0);
    lt_db_free(db);
    lt_env_free(env);
}

static void test_conflicts(void) {
    lt_env *env;
    lt_db *db;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = mem_opts(env);
    CHECK_OK(lt_db_open("/t2", &o, &db));
    char v[64], s[512];
    /* Snapshot isolation: write-write conflict with a plain put; reads do not count. */
    lt_txn *t1, *t2, *ro;
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t1));
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 1, 0, &ro));
    CHECK_EQ_INT(tget(t1, "r", v, sizeof v), LT_ENOTFOUND);
    CHECK_OK(tput(t1, "w", "1"));
    CHECK_OK(lt_put(db, "r", 1, "x", 1));
    CHECK_OK(lt_txn_commit(t1, NULL));                       /* read skew is fine under SI */
    lt_txn_free(t1);
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t1));
    CHECK_OK(tput(t1, "w", "2"));
    CHECK_OK(lt_put(db, "w", 1, "3", 1));
    CHECK_EQ_INT(lt_txn_commit(t1, NULL), LT_ECONFLICT);
    CHECK(strstr(lt_errmsg(), "'w'") != NULL);
    lt_txn_free(t1);
    /* Read-only: never conflicts, cannot write. */
    CHECK_EQ_INT(tput(ro, "q", "1"), LT_EREADONLY);
    CHECK_EQ_INT(tget(ro, "w", v, sizeof v), LT_ENOTFOUND);
    CHECK_OK(lt_txn_commit(ro, NULL));
    lt_txn_free(ro);
    /* Serializable: a read key written after the snapshot -> conflict. */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t1));
    CHECK_EQ_INT(tget(t1, "absent\x01", v, sizeof v), LT_ENOTFOUND);
    CHECK_OK(tput(t1, "other", "1"));
    CHECK_OK(lt_put(db, "absent\x01", 7, "now", 3));
    CHECK_EQ_INT(lt_txn_commit(t1, NULL), LT_ECONFLICT);
    CHECK(strstr(lt_errmsg(), "absent\\x01") != NULL);
    lt_txn_free(t1);
    /* Serializable: a scan with a limit covers only what it delivered. */
    CHECK_OK(lt_put(db, "s1", 2, "", 0));
    CHECK_OK(lt_put(db, "s3", 2, "", 0));
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t1));
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t2));
    CHECK_OK(tscan(t1, "s", "t", 0, 1, 1, s, sizeof s));    /* delivered s1 only */
    CHECK(strcmp(s, "s1=;") == 0);
    CHECK_OK(tscan(t2, "s", "t", 1, 1, 1, s, sizeof s));    /* reverse: s3 only */
    CHECK(strcmp(s, "s3=;") == 0);
    CHECK_OK(tput(t1, "o1", "1"));
    CHECK_OK(tput(t2, "o2", "1"));
    CHECK_OK(lt_put(db, "s2", 2, "", 0));                    /* outside both covered parts */
    CHECK_OK(lt_txn_commit(t1, NULL));
    CHECK_OK(lt_txn_commit(t2, NULL));
    lt_txn_free(t1);
    lt_txn_free(t2);
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t1));
    CHECK_OK(tscan(t1, "s", "t", 0, 1, 1, s, sizeof s));
    CHECK_OK(tput(t1, "o1", "2"));
    CHECK_OK(lt_put(db, "s0", 2, "", 0));                    /* inside [s, s1] */
    CHECK_EQ_INT(lt_txn_commit(t1, NULL), LT_ECONFLICT);
    CHECK(strstr(lt_errmsg(), "scanned") != NULL);
    lt_txn_free(t1);
    /* Write buffer limit: the failing write changes nothing. */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 64, &t1));
    CHECK_OK(tput(t1, "a", "0123456789"));
    CHECK_EQ_INT(tput(t1, "b", "0123456789012345678901234567890123456789"), LT_EINVAL);
    CHECK_EQ_INT(lt_txn_write_count(t1), 1);
    CHECK_OK(lt_txn_rollback(t1));
    lt_txn_free(t1);
    /* Closing the database ends open transactions. */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t1));
    CHECK_OK(tput(t1, "a", "1"));
    CHECK_OK(lt_db_close(db));
    CHECK_EQ_INT(tget(t1, "a", v, sizeof v), LT_ECLOSED);
    CHECK_EQ_INT(lt_txn_commit(t1, NULL), LT_ECLOSED);
    lt_txn_free(t1);
    lt_db_free(db);
    lt_env_free(env);
}

static int tins(lt_txn *t, const char *k, const char *v) {
    return lt_txn_insert(t, k, strlen(k), v, strlen(v));
}

static void test_insert(void) {
    lt_env *env;
    lt_db *db;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = mem_opts(env);
    CHECK_OK(lt_db_open("/t3", &o, &db));
    CHECK_OK(lt_put(db, "f", 1, "old", 3));
    char v[64];
    lt_txn *t1, *t2;
    for (int iso = LT_TXN_SNAPSHOT; iso <= LT_TXN_SERIALIZABLE; iso++) {
        /* Visibility: own writes over the snapshot; LT_EEXISTS writes nothing. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_EQ_INT(tins(t1, "f", "x"), LT_EEXISTS);
        CHECK(strstr(lt_errmsg(), "exists") != NULL);
        CHECK_EQ_INT(lt_txn_write_count(t1), 0);
        CHECK_OK(tins(t1, "n", "1"));
        CHECK_EQ_INT(tins(t1, "n", "2"), LT_EEXISTS);
        CHECK_OK(tget(t1, "n", v, sizeof v));
        CHECK(strcmp(v, "1") == 0);
        CHECK_OK(lt_txn_delete(t1, "f", 1));
        CHECK_OK(tins(t1, "f", "new"));                       /* deleted by us: absent */
        CHECK_OK(tget(t1, "f", v, sizeof v));
        CHECK(strcmp(v, "new") == 0);
        CHECK_OK(lt_txn_insert(t1, "", 0, "", 0));             /* the empty key */
        CHECK_EQ_INT(lt_txn_insert(t1, "", 0, "", 0), LT_EEXISTS);
        CHECK_OK(lt_txn_rollback(t1));
        lt_txn_free(t1);
        /* Two transactions inserting the same absent key: the second committer loses. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t2));
        CHECK_OK(tins(t1, "k", "1"));
        CHECK_OK(tins(t2, "k", "2"));
        CHECK_OK(lt_txn_commit(t1, NULL));
        CHECK_EQ_INT(lt_txn_commit(t2, NULL), LT_ECONFLICT);
        CHECK(strstr(lt_errmsg(), "'k'") != NULL);
        lt_txn_free(t1);
        lt_txn_free(t2);
        CHECK_OK(lt_delete(db, "k", 1));
        /* A plain write of the key after the snapshot conflicts too. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_OK(tins(t1, "k", "1"));
        CHECK_OK(lt_put(db, "k", 1, "p", 1));
        CHECK_EQ_INT(lt_txn_commit(t1, NULL), LT_ECONFLICT);
        lt_txn_free(t1);
        CHECK_OK(lt_delete(db, "k", 1));
        /* A found key is a read: a concurrent delete of it fails the commit under
         * serializable only. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_EQ_INT(tins(t1, "f", "x"), LT_EEXISTS);
        CHECK_OK(tput(t1, "o", "1"));
        CHECK_OK(lt_delete(db, "f", 1));
        CHECK_EQ_INT(lt_txn_commit(t1, NULL), iso == LT_TXN_SERIALIZABLE ? LT_ECONFLICT : LT_OK);
        lt_txn_free(t1);
        CHECK_OK(lt_put(db, "f", 1, "old", 3));
        /* A put undone by a rollback to a savepoint leaves its absence read behind
         * (serializable); a plain put undone so does not. */
        uint64_t sp;
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_OK(tput(t1, "a0", "1"));
        CHECK_OK(tins(t1, "a1", "1"));                        /* kept */
        CHECK_OK(lt_txn_savepoint(t1, &sp));
        CHECK_OK(tput(t1, "b", "1"));
        CHECK_OK(tins(t1, "g", "1"));
        CHECK_OK(tput(t1, "g", "2"));
        CHECK_OK(lt_txn_rollback_to(t1, sp));
        CHECK_EQ_INT(tget(t1, "g", v, sizeof v), LT_ENOTFOUND);
        CHECK_EQ_INT(lt_txn_write_count(t1), 2);
        CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t2));
        CHECK_OK(tput(t2, "b", "x"));                         /* undone blind put: no conflict */
        CHECK_OK(lt_txn_commit(t2, NULL));
        lt_txn_free(t2);
        CHECK_OK(lt_txn_commit(t1, NULL));
        lt_txn_free(t1);
        CHECK_OK(lt_delete(db, "a0", 2));
        CHECK_OK(lt_delete(db, "a1", 2));
        CHECK_OK(lt_delete(db, "b", 1));
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_OK(lt_txn_savepoint(t1, &sp));
        CHECK_OK(tins(t1, "g", "1"));
        CHECK_OK(lt_txn_rollback_to(t1, sp));
        CHECK_OK(tins(t1, "h", "1"));                         /* a new insert after it */
        CHECK_OK(lt_put(db, "g", 1, "p", 1));
        CHECK_EQ_INT(lt_txn_commit(t1, NULL), iso == LT_TXN_SERIALIZABLE ? LT_ECONFLICT : LT_OK);
        lt_txn_free(t1);
        CHECK_OK(lt_delete(db, "g", 1));
        CHECK_OK(lt_delete(db, "h", 1));
        /* A failed put (buffer limit) leaves its read behind as lt_txn_get would. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 64, &t1));
        CHECK_OK(tput(t1, "a", "0123456789"));
        CHECK_EQ_INT(tins(t1, "big", "0123456789012345678901234567890123456789"), LT_EINVAL);
        CHECK_EQ_INT(lt_txn_write_count(t1), 1);
        CHECK_OK(lt_put(db, "big", 3, "p", 1));
        CHECK_EQ_INT(lt_txn_commit(t1, NULL), iso == LT_TXN_SERIALIZABLE ? LT_ECONFLICT : LT_OK);
        lt_txn_free(t1);
        CHECK_OK(lt_delete(db, "big", 3));
        /* A committed insert is recorded for the transactions that remain open. */
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t1));
        CHECK_OK(lt_txn_begin(db, iso, 0, 0, &t2));
        CHECK_OK(tins(t1, "x", "1"));
        CHECK_OK(lt_txn_commit(t1, NULL));
        CHECK_OK(tput(t2, "x", "2"));
        CHECK_EQ_INT(lt_txn_commit(t2, NULL), LT_ECONFLICT);
        lt_txn_free(t1);
        lt_txn_free(t2);
        CHECK_OK(lt_delete(db, "x", 1));
        /* Read-only: an existing key is still reported; else LT_EREADONLY. */
        CHECK_OK(lt_txn_begin(db, iso, 1, 0, &t1));
        CHECK_EQ_INT(tins(t1, "f", "x"), LT_EEXISTS);
        CHECK_EQ_INT(tins(t1, "q", "x"), LT_EREADONLY);
        CHECK_OK(lt_txn_commit(t1, NULL));
        lt_txn_free(t1);
    }
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t1));
    char big[LT_MAX_KEY_SIZE + 1];
    memset(big, 'k', sizeof big);
    CHECK_EQ_INT(lt_txn_insert(t1, big, sizeof big, "", 0), LT_EINVAL);
    CHECK_EQ_INT(lt_txn_insert(NULL, "k", 1, "", 0), LT_EINVAL);
    CHECK_OK(lt_txn_commit(t1, NULL));
    CHECK_EQ_INT(tins(t1, "k", "1"), LT_ECLOSED);
    lt_txn_free(t1);
    CHECK_EQ_INT(strcmp(lt_strerror(LT_EEXISTS), "unknown error code") != 0, 1);
    lt_db_free(db);
    lt_env_free(env);
}

/* The skiplist's writer reuses the previous insert's path (memtable.c): inserts in
 * ascending runs, descending, random and repeated orders must all keep it sorted. */
static void test_buffer_order(void) {
    lt_memtable *m = lt_memtable_new();
    CHECK(m != NULL);
    enum { N = 6000 };
    static unsigned char seen[N];
    uint32_t r = 12345;
    uint64_t seq = 0;
    char k[16];
    for (int i = 0; i < 3 * N; i++) {
        int id;
        switch ((i / 500) % 4) {
        case 0: id = (i * 7) % N; break;                /* ascending runs */
        case 1: id = N - 1 - (i % N); break;           /* descending */
        case 2: r ^= r << 13; r ^= r >> 17; r ^= r << 5; id = (int)(r % N); break;
        default: id = (i / 2) % N; break;              /* each key twice in a row */
        }
        snprintf(k, sizeof k, "k%05d", id);
        lt_slice key = lt_slice_make(k, 6);
        ++seq;
        int rc = (i & 1) ? lt_memtable_add(m, seq, LT_TYPE_VALUE, key, key)
                         : lt_memtable_add_checked(m, seq, LT_TYPE_VALUE, key, key, always_ok, NULL);
        CHECK_OK(rc);
        seen[id] = 1;
    }
    CHECK_EQ_INT(lt_memtable_count(m), 3 * N);
    lt_iter *it = lt_memtable_iter(m);
    CHECK(it != NULL);
    lt_buf prev = {0};
    size_t n = 0;
    for (lt_iter_seek_first(it); lt_iter_valid(it); lt_iter_next(it), n++) {
        lt_slice ik = lt_iter_key(it);
        if (n) CHECK(lt_ikey_cmp(lt_slice_make(prev.data, prev.size), ik) < 0);
        prev.size = 0;
        CHECK_OK(lt_buf_append(&prev, ik.data, ik.size));
    }
    CHECK_EQ_INT(n, 3 * N);
    lt_buf_free(&prev);
    lt_iter_destroy(it);
    for (int id = 0; id < N; id++) {
        snprintf(k, sizeof k, "k%05d", id);
        lt_slice v;
        int del;
        CHECK_EQ_INT(lt_memtable_get(m, lt_slice_make(k, 6), LT_MAX_SEQ, &v, &del),
                     seen[id] ? LT_OK : LT_ENOTFOUND);
    }
    lt_memtable_unref(m);
    /* The hook sees the newest version; a refusal inserts nothing. */
    char got[32];
    CHECK(m = lt_memtable_new());
    CHECK_EQ_INT(lt_memtable_add_checked(m, 1, LT_TYPE_VALUE, SL("a"), SL("1"), note_and_refuse, got),
                 LT_EEXISTS);
    CHECK(strcmp(got, "0/0/") == 0 && lt_memtable_count(m) == 0);
    CHECK_OK(lt_memtable_add(m, 1, LT_TYPE_VALUE, SL("a"), SL("1")));
    CHECK_OK(lt_memtable_add(m, 2, LT_TYPE_VALUE, SL("a"), SL("2")));
    lt_memtable_add_checked(m, 3, LT_TYPE_VALUE, SL("a"), SL("3"), note_and_refuse, got);
    CHECK(strcmp(got, "1/0/2") == 0);
    CHECK_OK(lt_memtable_add(m, 3, LT_TYPE_DELETION, SL("a"), SL("")));
    lt_memtable_add_checked(m, 4, LT_TYPE_VALUE, SL("a"), SL("4"), note_and_refuse, got);
    CHECK(strcmp(got, "0/1/") == 0 && lt_memtable_count(m) == 3);
    CHECK_EQ_INT(lt_memtable_add_checked(m, 3, LT_TYPE_DELETION, SL("a"), SL(""), always_ok, NULL),
                 LT_EINVAL);                                      /* (key, seq) present */
    lt_memtable_unref(m);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

/* The entries of an lt_txn_scan as "k=v;" text. */
static int oscan(lt_txn *t, const char *a, const char *b, int reverse, size_t cap,
                 size_t max, char *out, size_t ocap, size_t *n, int *finished) {
    char buf[512];
    size_t used;
    int rc = lt_txn_scan(t, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, reverse, buf, cap,
                         max, n, &used, finished);
    size_t p = 0, o = 0;
    out[0] = 0;
    for (size_t i = 0; rc == LT_OK && i < *n; i++) {
        uint32_t kl, vl;
        memcpy(&kl, buf + p, 4);
        memcpy(&vl, buf + p + 4, 4);
        o += (size_t)snprintf(out + o, ocap - o, "%.*s=%.*s;", (int)kl, buf + p + 8,
                              (int)vl, buf + p + 8 + kl);
        p += 8 + kl + vl;
    }
    if (rc == LT_OK && *n && p != used) return -1;     /* sizes must add up */
    return rc;
}

/* lt_txn_scan: the same entries as an iterator over random ranges, own writes and
 * both directions (its iterator reused call after call); `finished` exactly when
 * the range was read to its end; a range read to its end is validated whole, a cut
 * one only as far as it went; ECLOSED after the end. */
static void test_one_shot_scan(void) {
    lt_env *env;
    lt_db *db;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = mem_opts(env);
    CHECK_OK(lt_db_open("/t5", &o, &db));
    char k[16], want[4096], got[4096];
    for (int i = 0; i < 40; i += 2) {
        snprintf(k, sizeof k, "k%02d", i);
        CHECK_OK(lt_put(db, k, strlen(k), k, strlen(k)));
    }
    lt_txn *t;
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t));
    CHECK_OK(tput(t, "k05", "own"));
    CHECK_OK(lt_txn_delete(t, "k10", 3));
    for (int round = 0; round < 400; round++) {
        char a[16], b[16];
        int x = (int)(rnd() % 44), y = x + (int)(rnd() % 12), rev = (int)(rnd() % 2);
        snprintf(a, sizeof a, "k%02d", x);
        snprintf(b, sizeof b, "k%02d", y);
        size_t max = 1 + rnd() % 8, n, cap = rnd() % 3 ? 512 : 1 + rnd() % 40;
        int fin;
        CHECK_OK(tscan(t, a, b, rev, 100, max, want, sizeof want));
        CHECK_OK(oscan(t, a, b, rev, cap, max, got, sizeof got, &n, &fin));
        /* a prefix of the iterator's entries: cut short only by the buffer */
        CHECK(strncmp(want, got, strlen(got)) == 0);
        if (cap == 512) CHECK(strcmp(want, got) == 0);
        /* finished: the whole range came back (no entry left past the last one) */
        char all[4096];
        CHECK_OK(tscan(t, a, b, rev, 100, 1000, all, sizeof all));
        CHECK_EQ_INT(fin, strcmp(all, got) == 0 && n < max);
        /* now and then the memtables or files change under the transaction: the kept
         * iterator must be rebuilt (later writes stay invisible to its snapshot) */
        if (round % 50 == 17) {
            snprintf(k, sizeof k, "j%02d", x);          /* (outside the ranges below) */
            CHECK_OK(lt_put(db, k, strlen(k), "late", 4));
            CHECK_OK(round % 100 == 17 ? lt_db_flush(db) : lt_db_compact(db, NULL, 0, NULL, 0));
        }
    }
    /* lt_txn_get_ex(LT_GET_PRESENT) answers as lt_txn_get, present or not */
    for (int i = 0; i < 44; i++) {
        const char *v1, *v2;
        size_t l1, l2;
        snprintf(k, sizeof k, "k%02d", i);
        int r1 = lt_txn_get(t, k, strlen(k), &v1, &l1);
        char copy[16] = "";
        if (r1 == LT_OK) memcpy(copy, v1, l1 < sizeof copy ? l1 : sizeof copy);
        int r2 = lt_txn_get_ex(t, k, strlen(k), LT_GET_PRESENT, &v2, &l2);
        CHECK_EQ_INT(r1, r2);
        if (r1 == LT_OK) CHECK(l1 == l2 && memcmp(copy, v2, l2) == 0);
        CHECK_EQ_INT(r1, (i % 2 == 0 && i < 40 && i != 10) || i == 5 ? LT_OK : LT_ENOTFOUND);
    }
    CHECK_OK(lt_txn_rollback(t));
    lt_txn_free(t);

    /* Validation: a read to the end covers the whole range ... */
    size_t n;
    int fin;
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t));
    CHECK_OK(oscan(t, "k20", "k30", 0, 512, 10, got, sizeof got, &n, &fin));
    CHECK(fin && n == 5);
    CHECK_OK(lt_put(db, "k29", 3, "x", 1));                  /* a phantom in it */
    CHECK_OK(tput(t, "other", "1"));
    CHECK_EQ_INT(lt_txn_commit(t, NULL), LT_ECONFLICT);
    lt_txn_free(t);
    /* ... one cut short only as far as it went */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t));
    CHECK_OK(oscan(t, "k30", "k40", 0, 512, 2, got, sizeof got, &n, &fin));
    CHECK(!fin && n == 2 && strcmp(got, "k30=k30;k32=k32;") == 0);
    CHECK_OK(lt_put(db, "k39", 3, "x", 1));                  /* past what was read */
    CHECK_OK(tput(t, "other", "2"));
    CHECK_OK(lt_txn_commit(t, NULL));
    lt_txn_free(t);
    /* an empty range read to its end: a phantom in it conflicts */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t));
    CHECK_OK(oscan(t, "m", "n", 1, 512, 3, got, sizeof got, &n, &fin));
    CHECK(fin && n == 0);
    CHECK_OK(lt_put(db, "m1", 2, "x", 1));
    CHECK_OK(tput(t, "other", "3"));
    CHECK_EQ_INT(lt_txn_commit(t, NULL), LT_ECONFLICT);
    CHECK_EQ_INT(oscan(t, "a", "z", 0, 512, 3, got, sizeof got, &n, &fin), LT_ECLOSED);
    CHECK(n == 0 && !fin);
    lt_txn_free(t);
    /* a first entry bigger than the buffer: the size it needs */
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t));
    char buf[8];
    size_t used;
    CHECK_OK(lt_txn_scan(t, "k00", 3, "k01", 3, 0, buf, sizeof buf, 5, &n, &used, &fin));
    CHECK(n == 0 && used == 8 + 3 + 3 && !fin);
    lt_txn_free(t);                                         /* frees its scan memory */
    lt_db_free(db);
    lt_env_free(env);
}

/* lt_txn_iter_free from another thread while the transaction makes and ends more
 * scans (what a garbage collector freeing abandoned scans does): the transaction's
 * iterator list stays whole (under AddressSanitizer a race shows as a bad access). */
#define HANDOFF 64
typedef struct {
    lt_txn_iter *slot[HANDOFF];
    volatile int head, tail, done;
    pthread_mutex_t mu;
} handoff;

static void *freer_main(void *p) {
    handoff *h = p;
    for (;;) {
        lt_txn_iter *it = NULL;
        pthread_mutex_lock(&h->mu);
        if (h->tail != h->head) it = h->slot[h->tail++ % HANDOFF];
        int done = h->done && h->tail == h->head;
        pthread_mutex_unlock(&h->mu);
        if (it) lt_txn_iter_free(it);
        else if (done) return NULL;
    }
}

static void test_free_iter_from_another_thread(void) {
    lt_env *env;
    lt_db *db;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = mem_opts(env);
    CHECK_OK(lt_db_open("/t6", &o, &db));
    for (int i = 0; i < 20; i++) CHECK_OK(lt_put(db, &i, sizeof i, "v", 1));
    handoff h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    pthread_t th;
    pthread_create(&th, NULL, freer_main, &h);
    for (int round = 0; round < 200; round++) {
        lt_txn *t;
        CHECK_OK(lt_txn_begin(db, LT_TXN_SERIALIZABLE, 0, 0, &t));
        CHECK_OK(tput(t, "w", "1"));
        for (int i = 0; i < 20; i++) {
            lt_txn_iter *it;
            CHECK_OK(lt_txn_iter_new(t, NULL, 0, NULL, 0, i % 2, &it));
            char buf[64];
            size_t n, used;
            CHECK_OK(lt_txn_iter_next_batch(it, buf, sizeof buf, 2, &n, &used));
            for (;;) {                               /* abandoned: freed elsewhere */
                pthread_mutex_lock(&h.mu);
                int room = h.head - h.tail < HANDOFF;
                if (room) h.slot[h.head++ % HANDOFF] = it;
                pthread_mutex_unlock(&h.mu);
                if (room) break;
            }
        }
        if (round % 2) CHECK_OK(lt_txn_rollback(t));
        else CHECK_OK(lt_txn_commit(t, NULL));
        lt_txn_free(t);
    }
    pthread_mutex_lock(&h.mu);
    h.done = 1;
    pthread_mutex_unlock(&h.mu);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&h.mu);
    lt_db_free(db);
    lt_env_free(env);
}

int main(void) {
    RUN(test_tracker);
    RUN(test_read_your_writes);
    RUN(test_conflicts);
    RUN(test_insert);
    RUN(test_buffer_order);
    RUN(test_one_shot_scan);
    RUN(test_free_iter_from_another_thread);
    TEST_MAIN_END();
}
