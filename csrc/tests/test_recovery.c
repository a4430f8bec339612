/* test_recovery.c: each sync mode's crash promise, checked by simulated power loss
 * (the fault env drops everything not fsync'ed) and by torn log tails; damage in the
 * middle of a log (strict and point-in-time recovery) and a torn manifest tail. */
#include <stdint.h>
#include <unistd.h>
#include "../include/lightning.h"
#include "../env/env.h"
#include "../db/log.h"
#include "../db/write_batch.h"
#include "../util/coding.h"
#include "testutil.h"

static lt_options opts(lt_env *env, int sync) {
    lt_options o;
    lt_options_init(&o);
    o.env = env;
    o.sync = sync;
    o.memtable_size = 16 << 10;
    o.block_size = 512;
    o.table_size = 16 << 10;
    o.level1_size = 64 << 10;
    o.sync_interval_ms = 2;
    return o;
}

static int has_key(lt_db *db, int i) {
    char k[32];
    const char *v;
    size_t n;
    snprintf(k, sizeof k, "key%06d", i);
    return lt_get(db, NULL, k, strlen(k), &v, &n) == LT_OK;
}

static int put_i(lt_db *db, int i) {
    char k[32], v[64];
    snprintf(k, sizeof k, "key%06d", i);
    snprintf(v, sizeof v, "value-%06d-xxxxxxxxxxxxxxxxxxxxxxxx", i);
    return lt_put(db, k, strlen(k), v, strlen(v));
}

/* Number of keys present, and check they form a prefix 0..m-1. */
static int prefix_len(lt_db *db, int n, int *is_prefix) {
    int m = 0, gap = 0;
    *is_prefix = 1;
    for (int i = 0; i < n; i++) {
        if (has_key(db, i)) { if (gap) *is_prefix = 0; m++; }
        else gap = 1;
    }
    return m;
}

static void crash_and_reopen(lt_env *fault, lt_db **db, const lt_options *o) {
    lt_db_crash(*db);
    lt_db_free(*db);
    *db = NULL;
    lt_env_fault_drop_unsynced(fault);
    if (lt_db_open("/db", o, db) != LT_OK) {
        fprintf(stderr, "reopen failed: %s\n", lt_errmsg());
        *db = NULL;
    }
}

static void run_mode(int mode, int expect_all, int sleep_ms) {
    for (int round = 0; round < 6; round++) {
        lt_env *mem, *fault;
        CHECK_OK(lt_env_mem_new(&mem));
        CHECK_OK(lt_env_fault_new(mem, &fault));
        lt_options o = opts(fault, mode);
        lt_db *db;
        CHECK_OK(lt_db_open("/db", &o, &db));
        int n = 300 + round * 700;   /* later rounds cross memtable switches and flushes */
        for (int i = 0; i < n; i++) CHECK_OK(put_i(db, i));
        if (sleep_ms) usleep((useconds_t)sleep_ms * 1000);
        crash_and_reopen(fault, &db, &o);
        CHECK(db != NULL);
        int pre;
        int m = prefix_len(db, n, &pre);
        CHECK(pre);
        if (expect_all) CHECK_EQ_INT(m, n);
        /* After a flush everything is durable in every mode. */
        for (int i = n; i < n + 200; i++) CHECK_OK(put_i(db, i));
        CHECK_OK(lt_db_flush(db));
        crash_and_reopen(fault, &db, &o);
        CHECK(db != NULL);
        CHECK_EQ_INT(prefix_len(db, n + 200, &pre) >= m, 1);
        for (int i = n; i < n + 200; i++) CHECK(has_key(db, i));
        lt_db_free(db);
        lt_env_free(fault);
        lt_env_free(mem);
    }
}

static void test_full(void) { run_mode(LT_SYNC_FULL, 1, 0); }
static void test_normal_timer(void) { run_mode(LT_SYNC_NORMAL, 1, 100); }
static void test_off_prefix(void) { run_mode(LT_SYNC_OFF, 0, 0); }

/* Crash during compactions: every acknowledged FULL write survives, repeatedly. */
static void test_full_with_compactions(void) {
    lt_env *mem, *fault;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &fault));
    lt_options o = opts(fault, LT_SYNC_FULL);
    o.memtable_size = 16 << 10;
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    int n = 0;
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 1500; i++, n++) CHECK_OK(put_i(db, n));
        crash_and_reopen(fault, &db, &o);
        CHECK(db != NULL);
        int pre;
        CHECK_EQ_INT(prefix_len(db, n, &pre), n);
    }
    char st[4096];
    size_t need;
    CHECK_OK(lt_db_stats(db, st, sizeof st, &need));
    CHECK(strstr(st, "\"compactions\": 0,") == NULL || strstr(st, "\"level\": 1, \"files\": 0") == NULL);
    lt_db_free(db);
    lt_env_free(fault);
    lt_env_free(mem);
}

/* The newest log of /db in `env` (its path in out), or "" if none. */
static void newest_log(lt_env *env, char *out, size_t cap) {
    char **names;
    size_t nn;
    unsigned long long best = 0;
    out[0] = 0;
    if (env->v->list_dir(env, "/db", &names, &nn)) return;
    for (size_t i = 0; i < nn; i++) {
        unsigned long long num;
        if (strstr(names[i], ".log") && sscanf(names[i], "%llu", &num) == 1 && num >= best) {
            best = num;
            snprintf(out, cap, "/db/%s", names[i]);
        }
    }
    lt_env_free_names(names, nn);
}

/* A new memory env (*mem) holding /db, opened with FULL sync and a memtable that
 * holds every record, records 0..n-1 committed, then abandoned as a crash would: *o
 * gets the options, `log` the path of its log ("" if something failed). */
static void crashed_db(lt_env **mem, lt_options *o, int n, char *log, size_t cap) {
    log[0] = 0;
    CHECK_OK(lt_env_mem_new(mem));
    *o = opts(*mem, LT_SYNC_FULL);
    o->memtable_size = 1 << 20;
    lt_db *db;
    CHECK_OK(lt_db_open("/db", o, &db));
    for (int i = 0; i < n; i++) CHECK_OK(put_i(db, i));
    lt_db_crash(db);
    lt_db_free(db);
    newest_log(*mem, log, cap);
}

/* Torn tail: cut the log at many lengths; each reopen gives a prefix of the records,
 * shrinking as the cut grows, and the database stays writable. */
static void test_torn_log(void) {
    int last = 50;
    for (int k = 0; k < 40; k++) {
        lt_env *mem;
        lt_options o;
        char log[256];
        crashed_db(&mem, &o, 50, log, sizeof log);
        CHECK(log[0]);
        lt_db *db;
        uint64_t size;
        CHECK_OK(mem->v->file_size(mem, log, &size));
        CHECK(size > 600);
        CHECK_OK(mem->v->truncate(mem, log, size - (uint64_t)k * 11));
        CHECK_OK(lt_db_open("/db", &o, &db));
        int pre;
        int m = prefix_len(db, 50, &pre);
        CHECK(pre);
        CHECK(m <= last);
        CHECK(m >= 50 - 1 - (k * 11) / 40);
        last = m;
        CHECK_OK(put_i(db, 1000));
        CHECK(has_key(db, 1000));
        lt_db_free(db);
        lt_env_free(mem);
    }
}

static int rewrite_file(lt_env *env, const char *path, const char *data, size_t n) {
    lt_wfile *w;
    int rc = env->v->new_writable(env, path, &w);
    if (rc) return rc;
    rc = lt_wappend(w, data, n);
    int c = lt_wclose(w);
    return rc ? rc : c;
}

static size_t count_files(lt_env *env, const char *dir) {
    char **names;
    size_t nn = 0;
    if (env->v->list_dir(env, dir, &names, &nn)) return 0;
    lt_env_free_names(names, nn);
    return nn;
}

/* A flipped byte in the middle of a log with records after it: strict recovery
 * refuses and leaves the directory alone; point-in-time recovery opens with the
 * records before the damage, counts the rest and keeps a copy of the log. */
static void test_mid_log_damage(void) {
    lt_env *mem;
    lt_options o;
    char log[256], *data;
    size_t n;
    crashed_db(&mem, &o, 50, log, sizeof log);
    CHECK(log[0]);
    lt_db *db;
    CHECK_OK(lt_env_read_file(mem, log, &data, &n));
    CHECK(n > 1000);
    data[n / 2] ^= 0x10;
    CHECK_OK(rewrite_file(mem, log, data, n));
    size_t files = count_files(mem, "/db");
    CHECK_EQ_INT(lt_db_open("/db", &o, &db), LT_ECORRUPT);
    CHECK(strstr(lt_errmsg(), log + 4) != NULL);
    CHECK_EQ_INT(count_files(mem, "/db"), files);
    o.wal_recovery = LT_WAL_POINT_IN_TIME;
    CHECK_OK(lt_db_open("/db", &o, &db));
    int pre;
    int m = prefix_len(db, 50, &pre);
    CHECK(pre && m > 0 && m < 50);
    char st[8192];
    size_t need;
    CHECK_OK(lt_db_stats(db, st, sizeof st, &need));
    CHECK(strstr(st, "\"logs_set_aside\": 1,") != NULL);
    CHECK(strstr(st, "\"records_dropped\": 0,") == NULL);
    lt_db_free(db);
    char kept[300], *copy;
    size_t cn;
    snprintf(kept, sizeof kept, "/db/lost/%s", log + 4);
    CHECK_OK(lt_env_read_file(mem, kept, &copy, &cn));
    CHECK(cn == n && memcmp(copy, data, n) == 0);
    free(copy);
    free(data);
    lt_env_free(mem);
}

/* A manifest ending in part of a record (an append cut short) opens; damage before
 * its last record does not. */
static void test_manifest_torn_tail(void) {
    lt_env *mem;
    CHECK_OK(lt_env_mem_new(&mem));
    lt_options o = opts(mem, LT_SYNC_FULL);
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    for (int i = 0; i < 100; i++) CHECK_OK(put_i(db, i));
    CHECK_OK(lt_db_flush(db));
    lt_db_free(db);
    char *cur, manifest[256], *data;
    size_t n, cn;
    CHECK_OK(lt_env_read_file(mem, "/db/CURRENT", &cur, &cn));
    snprintf(manifest, sizeof manifest, "/db/%.*s", (int)cn - 1, cur);
    free(cur);
    CHECK_OK(lt_env_read_file(mem, manifest, &data, &n));
    char *torn = malloc(n + 40);
    memcpy(torn, data, n);
    memcpy(torn + n, data, 20);    /* the start of a record, cut off */
    CHECK_OK(rewrite_file(mem, manifest, torn, n + 20));
    CHECK_OK(lt_db_open("/db", &o, &db));
    int pre;
    CHECK_EQ_INT(prefix_len(db, 100, &pre), 100);
    lt_db_free(db);
    /* The reopen wrote a new manifest; damage its first record. */
    CHECK_OK(lt_env_read_file(mem, "/db/CURRENT", &cur, &cn));
    snprintf(manifest, sizeof manifest, "/db/%.*s", (int)cn - 1, cur);
    free(cur);
    free(data);
    CHECK_OK(lt_env_read_file(mem, manifest, &data, &n));
    data[10] ^= 1;
    CHECK_OK(rewrite_file(mem, manifest, data, n));
    CHECK_EQ_INT(lt_db_open("/db", &o, &db), LT_ECORRUPT);
    CHECK(strstr(lt_errmsg(), manifest) != NULL);
    free(torn);
    free(data);
    lt_env_free(mem);
}

/* A log record whose checksum is right but whose batch is malformed (it claims three
 * records and holds two) is damage: strict recovery refuses to open; point-in-time
 * recovery stops before it, and none of its records is
 * visible, not even once later commits pass its sequence numbers: a batch is applied
 * whole or not at all. */
static int has(lt_db *db, const char *k) {
    const char *v;
    size_t n;
    return lt_get(db, NULL, k, strlen(k), &v, &n) == LT_OK;
}

static void test_malformed_batch_not_applied(void) {
    lt_env *mem;
    lt_options o;
    char log[256];
    crashed_db(&mem, &o, 5, log, sizeof log);
    CHECK(log[0]);
    lt_db *db;
    lt_batch *b;
    CHECK_OK(lt_batch_new(&b));
    CHECK_OK(lt_batch_put(b, "ghost-a", 7, "x", 1));
    CHECK_OK(lt_batch_put(b, "ghost-b", 7, "y", 1));
    lt_batch_set_seq(b, 6);
    lt_put_fixed32(b->rep.data + 8, 3);             /* the count says 3 */
    uint64_t size;
    CHECK_OK(mem->v->file_size(mem, log, &size));
    lt_wfile *w;
    CHECK_OK(mem->v->new_appendable(mem, log, &w));
    lt_log_writer *lw = lt_log_writer_new(w, size);
    CHECK(lw);
    CHECK_OK(lt_log_add_record(lw, b->rep.data, b->rep.size));
    lt_log_writer_free(lw);
    CHECK_OK(lt_wclose(w));
    lt_batch_free(b);
    /* A checksummed record cannot be torn by a crash: strict recovery refuses it. */
    CHECK_EQ_INT(lt_db_open("/db", &o, &db), LT_ECORRUPT);
    o.wal_recovery = LT_WAL_POINT_IN_TIME;
    CHECK_OK(lt_db_open("/db", &o, &db));
    int pre;
    CHECK_EQ_INT(prefix_len(db, 5, &pre), 5);
    for (int i = 5; i < 10; i++) CHECK_OK(put_i(db, i));   /* sequences 6.. again */
    CHECK(!has(db, "ghost-a"));
    CHECK(!has(db, "ghost-b"));
    lt_db_free(db);
    lt_env_free(mem);
}

int main(void) {
    RUN(test_full);
    RUN(test_normal_timer);
    RUN(test_off_prefix);
    RUN(test_full_with_compactions);
    RUN(test_torn_log);
    RUN(test_mid_log_damage);
    RUN(test_manifest_torn_tail);
    RUN(test_malformed_batch_not_applied);
    TEST_MAIN_END();
}
