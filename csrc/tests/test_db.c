/* test_db.c: the engine end to end through the public API: writes, reads, scans in
 * both directions, snapshots, flush, compaction, reopen and recovery, on the memory
 * and POSIX environments. */
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../include/lightning.h"
#include "testutil.h"

static lt_options small_opts(lt_env *env) {
    lt_options o;
    lt_options_init(&o);
    o.env = env;
    o.memtable_size = 16 << 10;
    o.block_size = 512;
    o.table_size = 16 << 10;
    o.level1_size = 64 << 10;
    o.cache_size = 64 << 10;
    o.sync = LT_SYNC_OFF;
    return o;
}

static int get_str(lt_db *db, lt_snapshot *s, const char *k, char *out, size_t cap) {
    const char *v;
    size_t n;
    int rc = lt_get(db, s, k, strlen(k), &v, &n);
    if (rc == LT_OK) {
        if (n >= cap) n = cap - 1;
        memcpy(out, v, n);
        out[n] = 0;
    }
    return rc;
}

/* Collect a scan into a flat string "k=v;" for comparison. */
static int scan_str(lt_db *db, lt_snapshot *s, const char *a, const char *b, int reverse,
                    char *out, size_t cap, size_t *count) {
    lt_iterator *it;
    int rc = lt_iter_new(db, s, a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, reverse, &it);
    if (rc) return rc;
    char buf[256];
    size_t off = 0;
    *count = 0;
    out[0] = 0;
    for (;;) {
        size_t n, used;
        rc = lt_iter_next_batch(it, buf, sizeof buf, 3, &n, &used);
        if (rc || n == 0) break;
        size_t p = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t kl, vl;
            memcpy(&kl, buf + p, 4);
            memcpy(&vl, buf + p + 4, 4);
            off += (size_t)snprintf(out + off, cap - off, "%.*s=%.*s;", (int)kl, buf + p + 8, (int)vl,
                                    buf + p + 8 + kl);
            p += 8 + kl + vl;
            (*count)++;
        }
    }
    lt_iter_free(it);
    return rc;
}

static void test_basic(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = small_opts(env);
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    CHECK_OK(lt_put(db, "b", 1, "2", 1));
    CHECK_OK(lt_put(db, "a", 1, "1", 1));
    CHECK_OK(lt_put(db, "c", 1, "3", 1));
    CHECK_OK(lt_delete(db, "b", 1));
    char v[64];
    CHECK_OK(get_str(db, NULL, "a", v, sizeof v));
    CHECK(strcmp(v, "1") == 0);
    CHECK_EQ_INT(get_str(db, NULL, "b", v, sizeof v), LT_ENOTFOUND);
    char s[1024];
    size_t n;
    CHECK_OK(scan_str(db, NULL, NULL, NULL, 0, s, sizeof s, &n));
    CHECK(strcmp(s, "a=1;c=3;") == 0);
    CHECK_OK(scan_str(db, NULL, NULL, NULL, 1, s, sizeof s, &n));
    CHECK(strcmp(s, "c=3;a=1;") == 0);
    lt_snapshot *snap;
    CHECK_OK(lt_snapshot_new(db, &snap));
    CHECK_OK(lt_put(db, "a", 1, "9", 1));
    CHECK_OK(get_str(db, snap, "a", v, sizeof v));
    CHECK(strcmp(v, "1") == 0);
    CHECK_OK(get_str(db, NULL, "a", v, sizeof v));
    CHECK(strcmp(v, "9") == 0);
    CHECK_OK(lt_db_flush(db));
    CHECK_OK(get_str(db, snap, "a", v, sizeof v));
    CHECK(strcmp(v, "1") == 0);
    CHECK_OK(lt_db_compact(db, NULL, 0, NULL, 0));
    CHECK_OK(get_str(db, snap, "a", v, sizeof v));
    CHECK(strcmp(v, "1") == 0);
    CHECK_OK(scan_str(db, snap, NULL, NULL, 0, s, sizeof s, &n));
    CHECK(strcmp(s, "a=1;c=3;") == 0);
    lt_snapshot_free(snap);
    CHECK_OK(lt_db_close(db));
    lt_db_free(db);
    CHECK_OK(lt_db_open("/db", &o, &db));
    CHECK_OK(get_str(db, NULL, "a", v, sizeof v));
    CHECK(strcmp(v, "9") == 0);
    CHECK_EQ_INT(get_str(db, NULL, "b", v, sizeof v), LT_ENOTFOUND);
    lt_db_free(db);
    lt_env_free(env);
}

static void test_many(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = small_opts(env);
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    const int N = 20000;
    char k[32], v[64], got[128];
    for (int i = 0; i < N; i++) {
        int j = (i * 7919) % N;
        snprintf(k, sizeof k, "key%08d", j);
        snprintf(v, sizeof v, "value-%d-%d", j, i);
        CHECK_OK(lt_put(db, k, strlen(k), v, strlen(v)));
        if (i % 3 == 0) {
            snprintf(k, sizeof k, "key%08d", (j * 31) % N);
            CHECK_OK(lt_delete(db, k, strlen(k)));
        }
    }
    for (int round = 0; round < 3; round++) {
        size_t found = 0;
        for (int j = 0; j < N; j++) {
            snprintf(k, sizeof k, "key%08d", j);
            int rc = get_str(db, NULL, k, got, sizeof got);
            CHECK(rc == LT_OK || rc == LT_ENOTFOUND);
            if (rc == LT_OK) {
                found++;
                snprintf(v, sizeof v, "value-%d-", j);
                CHECK(strncmp(got, v, strlen(v)) == 0);
            }
        }
        static char s[4 << 20];
        size_t n, nr;
        CHECK_OK(scan_str(db, NULL, NULL, NULL, 0, s, sizeof s, &n));
        CHECK_OK(scan_str(db, NULL, NULL, NULL, 1, s, sizeof s, &nr));
        CHECK_EQ_INT(n, found);
        CHECK_EQ_INT(nr, found);
        if (round == 0) CHECK_OK(lt_db_compact(db, NULL, 0, NULL, 0));
        if (round == 1) {
            lt_db_free(db);
            CHECK_OK(lt_db_open("/db", &o, &db));
        }
    }
    char st[4096];
    size_t need;
    CHECK_OK(lt_db_stats(db, st, sizeof st, &need));
    fprintf(stderr, "%s\n", st);
    lt_db_free(db);
    lt_env_free(env);
}

static void test_posix_reopen(void) {
    char dir[] = "/tmp/lt_test_db_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.ldb", dir);
    lt_options o = small_opts(NULL);
    o.sync = LT_SYNC_FULL;
    lt_db *db, *db2;
    CHECK_OK(lt_db_open(path, &o, &db));
    CHECK_OK(lt_db_open(path, &o, &db2)); /* shared engine */
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%05d", i);
        CHECK_OK(lt_put(i % 2 ? db : db2, k, strlen(k), k, strlen(k)));
    }
    lt_db_free(db2);
    char v[64];
    CHECK_OK(get_str(db, NULL, "k01999", v, sizeof v));
    lt_db_free(db);
    CHECK_OK(lt_db_open(path, &o, &db));
    CHECK_OK(get_str(db, NULL, "k01999", v, sizeof v));
    CHECK(strcmp(v, "k01999") == 0);
    CHECK_OK(get_str(db, NULL, "k00000", v, sizeof v));
    lt_db_free(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Background compaction off: the writer that meets l0_stop_trigger compacts itself
 * (it used to wait forever at the 13th flush). alarm() turns a hang into a failure. */
static void test_stall_compacts_in_foreground(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = small_opts(env);
    o.background_compaction = 0;
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    alarm(120);
    const int N = 6000;
    char k[32], v[256], got[300];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < N; i++) {
        int n = snprintf(k, sizeof k, "k%07d", i);
        memcpy(v, k, (size_t)n);
        CHECK_OK(lt_put(db, k, strlen(k), v, 200));
    }
    alarm(0);
    char st[4096];
    size_t need;
    CHECK_OK(lt_db_stats(db, st, sizeof st, &need));
    const char *f = strstr(st, "\"flushes\": ");
    CHECK(f != NULL);
    CHECK(atoi(f + strlen("\"flushes\": ")) > 3 * o.l0_stop_trigger);
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "k%07d", i);
        CHECK_OK(get_str(db, NULL, k, got, sizeof got));
        CHECK(strlen(got) == 200 && memcmp(got, k, strlen(k)) == 0);
    }
    lt_db_free(db);
    lt_env_free(env);
}

/* fork() with an open database: in the child every call on what it inherited
 * returns LT_EFORKED, closing and freeing never wait for the parent's threads, and a
 * new open gets LT_ELOCKED naming the parent. The child reports by exit code (it
 * _exits, so sanitizers do not count the engine it leaks on purpose); alarm() turns
 * a hang into a failure. */
static int fork_child(lt_db *db, lt_snapshot *snap, lt_iterator *it, lt_txn *t,
                      const char *path) {
    const char *v;
    size_t n, used;
    char buf[256], msg[128];
    lt_snapshot *s2;
    lt_iterator *it2;
    lt_txn *t2;
    lt_batch *b;
    alarm(30);
    if (lt_get(db, NULL, "k00001", 6, &v, &n) != LT_EFORKED) return 10;
    if (!strstr(lt_errmsg(), "opened in a parent process")) return 11;
    if (lt_put(db, "child", 5, "1", 1) != LT_EFORKED) return 12;
    if (lt_batch_new(&b)) return 13;
    lt_batch_put(b, "child", 5, "1", 1);
    if (lt_write(db, b, NULL, NULL, NULL) != LT_EFORKED) return 14;
    lt_batch_free(b);
    if (lt_get(db, snap, "k00001", 6, &v, &n) != LT_EFORKED) return 15;
    if (lt_snapshot_new(db, &s2) != LT_EFORKED) return 16;
    if (lt_iter_new(db, NULL, NULL, 0, NULL, 0, 0, &it2) != LT_EFORKED) return 17;
    if (lt_iter_next_batch(it, buf, sizeof buf, 10, &n, &used) != LT_EFORKED) return 18;
    if (lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t2) != LT_EFORKED) return 19;
    if (lt_txn_get(t, "k00001", 6, &v, &n) != LT_EFORKED) return 20;
    if (lt_txn_put(t, "child", 5, "1", 1) != LT_EFORKED) return 21;
    if (lt_txn_commit(t, NULL) != LT_EFORKED) return 22;
    if (lt_db_flush(db) != LT_EFORKED || lt_db_stats(db, buf, sizeof buf, &n) != LT_EFORKED) return 23;
    if (strcmp(lt_strerror(LT_EFORKED), "database was opened in a parent process; open "
                                         "it again after fork") != 0) return 24;
    lt_db *db2 = NULL;
    lt_options o = small_opts(NULL);
    if (lt_db_open(path, &o, &db2) != LT_ELOCKED || db2) return 25;
    snprintf(msg, sizeof msg, "locked by pid %ld ", (long)getppid());
    if (!strstr(lt_errmsg(), msg)) return 26;
    lt_txn_free(t);
    lt_iter_free(it);
    lt_snapshot_free(snap);
    if (lt_db_close(db) != LT_OK) return 27;
    if (lt_get(db, NULL, "k00001", 6, &v, &n) != LT_ECLOSED) return 28;
    lt_db_free(db);
    return 0;
}

static void test_fork(void) {
    char dir[] = "/tmp/lt_test_fork_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.ldb", dir);
    lt_options o = small_opts(NULL);
    o.sync = LT_SYNC_NORMAL;   /* the sync thread runs too */
    lt_db *db;
    CHECK_OK(lt_db_open(path, &o, &db));
    char k[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "k%05d", i);
        CHECK_OK(lt_put(db, k, strlen(k), k, strlen(k)));
    }
    lt_snapshot *snap;
    lt_iterator *it;
    lt_txn *t;
    CHECK_OK(lt_snapshot_new(db, &snap));
    CHECK_OK(lt_iter_new(db, NULL, NULL, 0, NULL, 0, 0, &it));
    CHECK_OK(lt_txn_begin(db, LT_TXN_SNAPSHOT, 0, 0, &t));
    CHECK_OK(lt_txn_put(t, "t", 1, "1", 1));
    fflush(NULL);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) _exit(fork_child(db, snap, it, t, path));
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        fprintf(stderr, "     child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's handles are untouched. */
    const char *v;
    size_t n, used;
    char buf[256];
    CHECK_OK(lt_get(db, snap, "k00001", 6, &v, &n));
    CHECK_OK(lt_iter_next_batch(it, buf, sizeof buf, 2, &n, &used));
    CHECK_EQ_INT(n, 2);
    CHECK_OK(lt_txn_commit(t, NULL));
    CHECK_OK(lt_put(db, "after", 5, "1", 1));
    CHECK_EQ_INT(lt_get(db, NULL, "child", 5, &v, &n), LT_ENOTFOUND);
    lt_txn_free(t);
    lt_iter_free(it);
    lt_snapshot_free(snap);
    lt_db_free(db);
    CHECK_OK(lt_db_open(path, &o, &db));
    CHECK_OK(lt_get(db, NULL, "t", 1, &v, &n));
    CHECK_OK(lt_get(db, NULL, "after", 5, &v, &n));
    CHECK_EQ_INT(lt_get(db, NULL, "child", 5, &v, &n), LT_ENOTFOUND);
    lt_db_free(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

typedef struct { lt_db *db; int id; int fails; } thr_arg;

static void *writer_main(void *p) {
    thr_arg *a = p;
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "t%d-%05d", a->id, i);
        if (lt_put(a->db, k, strlen(k), k, strlen(k))) a->fails++;
        const char *v;
        size_t n;
        if (lt_get(a->db, NULL, k, strlen(k), &v, &n) || n != strlen(k) || memcmp(v, k, n)) a->fails++;
    }
    return NULL;
}

static void test_threads(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    lt_options o = small_opts(env);
    o.sync = LT_SYNC_FULL;
    lt_db *db;
    CHECK_OK(lt_db_open("/db", &o, &db));
    pthread_t t[4];
    thr_arg a[4];
    for (int i = 0; i < 4; i++) { a[i].db = db; a[i].id = i; a[i].fails = 0; pthread_create(&t[i], NULL, writer_main, &a[i]); }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(a[i].fails, 0);
    lt_db_free(db);
    lt_env_free(env);
}

/* Iterators and snapshots freed by other threads while the handle closes: each must
 * leave the handle's lists exactly once, by its own close or by lt_db_close (a release
 * that saw the handle closed used to skip that, and the database's close then walked a
 * freed iterator). Under AddressSanitizer a lost race shows as a use after free. */
typedef struct { lt_db *db; int id; volatile int stop; } closer_arg;

static void *churn_main(void *p) {
    closer_arg *a = p;
    while (!a->stop) {
        lt_iterator *it = NULL;
        lt_snapshot *s = NULL;
        if (lt_iter_new(a->db, NULL, NULL, 0, NULL, 0, a->id % 2, &it) == LT_OK) {
            char buf[256];
            size_t n, used;
            lt_iter_next_batch(it, buf, sizeof buf, 4, &n, &used);
        }
        lt_snapshot_new(a->db, &s);
        lt_iter_free(it);
        lt_snapshot_free(s);
    }
    return NULL;
}

static void test_close_while_freeing(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    for (int round = 0; round < 30; round++) {
        lt_options o = small_opts(env);
        lt_db *db;
        char path[32];
        snprintf(path, sizeof path, "/cf%d", round);
        CHECK_OK(lt_db_open(path, &o, &db));
        for (int i = 0; i < 50; i++) CHECK_OK(lt_put(db, &i, sizeof i, "v", 1));
        pthread_t t[3];
        closer_arg a[3];
        for (int i = 0; i < 3; i++) {
            a[i].db = db; a[i].id = i; a[i].stop = 0;
            pthread_create(&t[i], NULL, churn_main, &a[i]);
        }
        usleep(200 + 100 * (useconds_t)(round % 7));
        CHECK_OK(lt_db_close(db));              /* while they create and free */
        usleep(500);
        for (int i = 0; i < 3; i++) a[i].stop = 1;
        for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
        lt_db_free(db);
    }
    lt_env_free(env);
}

int main(void) {
    RUN(test_basic);
    RUN(test_many);
    RUN(test_posix_reopen);
    RUN(test_stall_compacts_in_foreground);
    RUN(test_fork);
    RUN(test_threads);
    RUN(test_close_while_freeing);
    TEST_MAIN_END();
}
