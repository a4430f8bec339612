/* test_env.c: tests of the file-system envs: the same file and directory checks run on
 * the POSIX env (in a mkdtemp directory), the memory env and the fault env over each;
 * the POSIX lock against a forked process; the memory env's lifetimes; and the fault
 * env's power-loss model (unsynced data and directory entries vanish), its operation
 * counters and injected failures of each kind of operation. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../env/env.h"
#include "../util/status.h"
#include "testutil.h"

static char tmproot[64];

static char *path_of(char *buf, const char *dir, const char *name) {
    snprintf(buf, 512, "%s/%s", dir, name);
    return buf;
}

static int write_file(lt_env *env, const char *path, const char *s, int sync) {
    lt_wfile *w;
    int rc = env->v->new_writable(env, path, &w);
    if (rc) return rc;
    rc = lt_wappend(w, s, strlen(s));
    if (rc == LT_OK && sync) rc = lt_wsync(w);
    int c = lt_wclose(w);
    return rc ? rc : c;
}

/* 1 if the file holds exactly s. */
static int file_is(lt_env *env, const char *path, const char *s) {
    char *data;
    size_t n;
    if (lt_env_read_file(env, path, &data, &n) != LT_OK) return 0;
    int ok = n == strlen(s) && memcmp(data, s, n) == 0 && data[n] == '\0';
    free(data);
    return ok;
}

static int has_name(char **names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

/* The behaviour every env must share. `dir` does not exist yet. */
static void check_fs(lt_env *env, const char *dir) {
    char p1[512], p2[512], p3[512], sub[512];
    CHECK_OK(env->v->mkdir(env, dir));
    CHECK_OK(env->v->mkdir(env, dir)); /* exists already: fine */
    CHECK(env->v->exists(env, dir));
    path_of(p1, dir, "a.log");
    path_of(p2, dir, "b.log");
    path_of(p3, dir, "missing");
    CHECK(!env->v->exists(env, p1));

    /* Appends of every size, including more than the POSIX buffer at once. */
    size_t total = 300000;
    char *data = malloc(total), *back = malloc(total);
    CHECK(data && back);
    for (size_t i = 0; i < total; i++) data[i] = (char)(i * 7 + i / 251);
    lt_wfile *w;
    CHECK_OK(env->v->new_writable(env, p1, &w));
    size_t at = 0, step = 1;
    while (at < total) {
        size_t n = step < total - at ? step : total - at;
        CHECK_OK(lt_wappend(w, data + at, n));
        at += n;
        CHECK_EQ_INT(lt_wsize(w), at);
        step = step * 3 + 1;
        if (step > 100000) step = 5;
    }
    CHECK_OK(lt_wflush(w));
    uint64_t size = 0;
    CHECK_OK(env->v->file_size(env, p1, &size));
    CHECK_EQ_INT(size, total); /* flushed bytes are visible */
    CHECK_OK(lt_wsync(w));
    CHECK_OK(lt_wclose(w));

    lt_rfile *r;
    size_t got = 0;
    CHECK_OK(env->v->new_readable(env, p1, &r));
    CHECK_EQ_INT(lt_rsize(r), total);
    lt_rreadahead(r, 0, total);
    CHECK_OK(lt_rread(r, 0, total, back, &got));
    CHECK_EQ_INT(got, total);
    CHECK(memcmp(back, data, total) == 0);
    CHECK_OK(lt_rread(r, 12345, 100, back, &got));
    CHECK(got == 100 && memcmp(back, data + 12345, 100) == 0);
    CHECK_OK(lt_rread(r, total - 10, 100, back, &got)); /* short at end of file */
    CHECK(got == 10 && memcmp(back, data + total - 10, 10) == 0);
    CHECK_OK(lt_rread(r, total + 5, 100, back, &got));
    CHECK_EQ_INT(got, 0);
    lt_rclose(r);

    /* Appendable: continues at the end. */
    CHECK_OK(env->v->new_appendable(env, p1, &w));
    CHECK_EQ_INT(lt_wsize(w), total);
    CHECK_OK(lt_wappend(w, "tail", 4));
    CHECK_EQ_INT(lt_wsize(w), total + 4);
    CHECK_OK(lt_wclose(w));
    char *all;
    size_t n;
    CHECK_OK(lt_env_read_file(env, p1, &all, &n));
    CHECK(n == total + 4 && memcmp(all, data, total) == 0 && memcmp(all + total, "tail", 4) == 0);
    free(all);
    free(data);
    free(back);

    /* Truncate, rename (over an existing file), list, remove. */
    CHECK_OK(env->v->truncate(env, p1, 10));
    CHECK_OK(env->v->file_size(env, p1, &size));
    CHECK_EQ_INT(size, 10);
    CHECK_OK(write_file(env, p2, "bee", 1));
    CHECK_OK(env->v->rename(env, p2, p1));
    CHECK(!env->v->exists(env, p2));
    CHECK(file_is(env, p1, "bee"));
    path_of(sub, dir, "sub");
    CHECK_OK(env->v->mkdir(env, sub));
    CHECK_OK(env->v->sync_dir(env, dir));
    char **names;
    size_t cnt;
    CHECK_OK(env->v->list_dir(env, dir, &names, &cnt));
    CHECK_EQ_INT(cnt, 2);
    CHECK(has_name(names, cnt, "a.log") && has_name(names, cnt, "sub"));
    lt_env_free_names(names, cnt);
    CHECK_OK(lt_env_write_file_atomic(env, dir, p2, p3, "CURRENT\n", 8));
    CHECK(file_is(env, p3, "CURRENT\n") && !env->v->exists(env, p2));
    CHECK_OK(env->v->remove(env, p3));

    /* Errors name the operation and the path. */
    CHECK_EQ_INT(env->v->new_readable(env, p3, &r), LT_EIO);
    CHECK(strstr(lt_errmsg(), p3) && strstr(lt_errmsg(), "No such file"));
    CHECK(env->v->remove(env, p3) == LT_EIO && strstr(lt_errmsg(), "remove"));
    CHECK(env->v->rename(env, p3, p2) == LT_EIO && strstr(lt_errmsg(), p3));
    CHECK(env->v->file_size(env, p3, &size) == LT_EIO && strstr(lt_errmsg(), p3));
    CHECK(env->v->list_dir(env, p3, &names, &cnt) == LT_EIO && strstr(lt_errmsg(), p3));
    CHECK(lt_env_read_file(env, p3, &all, &n) == LT_EIO);

    /* Clean up: files, then the (empty) directories. */
    CHECK_OK(env->v->remove(env, sub));
    CHECK_OK(env->v->remove(env, p1));
    CHECK_OK(env->v->list_dir(env, dir, &names, &cnt));
    CHECK_EQ_INT(cnt, 0);
    lt_env_free_names(names, cnt);
    CHECK_OK(env->v->remove(env, dir));
    CHECK(!env->v->exists(env, dir));
}

static void test_posix_fs(void) {
    char dir[512];
    check_fs(lt_env_posix(), path_of(dir, tmproot, "posix"));
}

static void test_posix_mode(void) {
    char p[512];
    struct stat st;
    CHECK_OK(write_file(lt_env_posix(), path_of(p, tmproot, "mode"), "x", 0));
    CHECK(stat(p, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);
    CHECK_OK(lt_env_posix()->v->remove(lt_env_posix(), p));
    lt_env_free(lt_env_posix()); /* a no-op */
}

static void test_posix_lock(void) {
    lt_env *env = lt_env_posix();
    char p[512], msg[600];
    path_of(p, tmproot, "LOCK");
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* hold the lock until the parent says so */
        lt_flock *l;
        char c = env->v->lock(env, p, 0, &l) == LT_OK ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1) _exit(2);
        _exit(0);
    }
    char c = 0;
    CHECK(read(up[0], &c, 1) == 1 && c == 'y');
    lt_flock *l = NULL;
    int rc = env->v->lock(env, p, 0, &l);
    snprintf(msg, sizeof msg, "database is locked by pid %ld (lock file %s)", (long)child, p);
    int locked_ok = rc == LT_ELOCKED && strcmp(lt_errmsg(), msg) == 0 && l == NULL;
    if (!locked_ok) fprintf(stderr, "     got %d: %s\n", rc, lt_errmsg());
    CHECK(write(down[1], "x", 1) == 1);
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    CHECK(locked_ok);

    /* The holder is gone: we get the lock, and our pid is in the file. */
    CHECK_OK(env->v->lock(env, p, 0, &l));
    snprintf(msg, sizeof msg, "%ld\n", (long)getpid());
    CHECK(file_is(env, p, msg));
    lt_flock *l2 = NULL;
    CHECK_EQ_INT(env->v->lock(env, p, 0, &l2), LT_ELOCKED); /* same process, second lock */
    CHECK(strstr(lt_errmsg(), "locked by pid") && l2 == NULL);
    char rel[600];
    snprintf(rel, sizeof rel, "%s/./LOCK", tmproot); /* another spelling of the path */
    CHECK_EQ_INT(env->v->lock(env, rel, 0, &l2), LT_ELOCKED);
    env->v->unlock(env, l);
    CHECK_OK(env->v->lock(env, p, 0, &l));
    env->v->unlock(env, l);
    CHECK_OK(env->v->remove(env, p));
}

/* A child process takes a lock of kind `child_shared` and holds it while the parent
 * tries `parent_shared`; returns the parent's result (its lock released again). */
static int lock_against_child(const char *p, int child_shared, int parent_shared,
                              pid_t *child_out) {
    lt_env *env = lt_env_posix();
    int up[2], down[2];
    if (pipe(up) != 0 || pipe(down) != 0) return -1;
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
        lt_flock *l;
        char c = env->v->lock(env, p, child_shared, &l) == LT_OK ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1) _exit(2);
        _exit(0);
    }
    *child_out = child;
    char c = 0;
    int rc = -1;
    if (read(up[0], &c, 1) == 1 && c == 'y') {
        lt_flock *l = NULL;
        rc = env->v->lock(env, p, parent_shared, &l);
        if (rc == LT_OK) env->v->unlock(env, l);
    }
    int status = 0;
    if (write(down[1], "x", 1) != 1 || waitpid(child, &status, 0) != child) rc = -1;
    close(up[0]); close(up[1]); close(down[0]); close(down[1]);
    return rc;
}

static void test_posix_shared_lock(void) {
    lt_env *env = lt_env_posix();
    char p[512], msg[700];
    path_of(p, tmproot, "SHLOCK");
    lt_flock *l = NULL;
    /* A shared lock of a missing file creates nothing and holds nothing. */
    CHECK_OK(env->v->lock(env, p, 1, &l));
    CHECK(!env->v->exists(env, p));
    env->v->unlock(env, l);
    CHECK_OK(write_file(env, p, "1234\n", 0));
    CHECK(chmod(p, 0400) == 0);   /* (root ignores modes; the file is opened O_RDONLY) */
    pid_t child;
    CHECK_OK(lock_against_child(p, 1, 1, &child));             /* readers share */
    CHECK_EQ_INT(lock_against_child(p, 1, 0, &child), LT_ELOCKED); /* a writer waits */
    snprintf(msg, sizeof msg, "database is locked by pid %ld, which has it open read-only "
             "(lock file %s)", (long)child, p);
    CHECK(strcmp(lt_errmsg(), msg) == 0);
    CHECK_EQ_INT(lock_against_child(p, 0, 1, &child), LT_ELOCKED); /* and so do readers */
    snprintf(msg, sizeof msg, "database is locked by pid %ld (lock file %s)", (long)child, p);
    CHECK(strcmp(lt_errmsg(), msg) == 0);
    /* A shared lock writes nothing into the file; a second one in-process conflicts. */
    CHECK_OK(write_file(env, p, "1234\n", 0));
    CHECK_OK(env->v->lock(env, p, 1, &l));
    lt_flock *l2 = NULL;
    CHECK_EQ_INT(env->v->lock(env, p, 1, &l2), LT_ELOCKED);
    env->v->unlock(env, l);
    CHECK(file_is(env, p, "1234\n"));
    CHECK_OK(env->v->remove(env, p));
}

static void test_mem_fs(void) {
    lt_env *env;
    CHECK_OK(lt_env_mem_new(&env));
    check_fs(env, "/db");
    check_fs(env, "rel/db"); /* relative paths, nested */
    lt_env_free(env);
}

static void test_mem_lifetimes(void) {
    lt_env *env;
    lt_flock *l, *l2, *l3;
    lt_rfile *r;
    char buf[16], msg[128];
    size_t got;
    CHECK_OK(lt_env_mem_new(&env));
    CHECK_OK(write_file(env, "d/f", "contents", 0));
    CHECK(file_is(env, "d/f", "contents")); /* stays after close */
    CHECK_OK(env->v->new_readable(env, "d/f", &r));
    CHECK_OK(env->v->remove(env, "d/f"));
    CHECK(!env->v->exists(env, "d/f"));
    CHECK_OK(lt_rread(r, 0, sizeof buf, buf, &got)); /* still readable through r */
    CHECK(got == 8 && memcmp(buf, "contents", 8) == 0);
    lt_rclose(r);
    CHECK_OK(env->v->mkdir(env, "d"));
    CHECK_OK(env->v->lock(env, "d/LOCK", 0, &l));
    CHECK_EQ_INT(env->v->lock(env, "d/LOCK", 0, &l2), LT_ELOCKED);
    snprintf(msg, sizeof msg, "database is locked by pid %ld", (long)getpid());
    CHECK(strstr(lt_errmsg(), msg) != NULL);
    env->v->unlock(env, l);
    CHECK_OK(env->v->lock(env, "d/LOCK", 1, &l));        /* shared locks coexist */
    CHECK_OK(env->v->lock(env, "d/LOCK", 1, &l2));
    CHECK_EQ_INT(env->v->lock(env, "d/LOCK", 0, &l3), LT_ELOCKED);
    env->v->unlock(env, l);
    env->v->unlock(env, l2);
    CHECK_OK(env->v->lock(env, "d/LOCK", 0, &l));
    CHECK_EQ_INT(env->v->lock(env, "d/LOCK", 1, &l2), LT_ELOCKED);
    env->v->unlock(env, l);
    CHECK_OK(write_file(env, "d/g", "x", 0));
    CHECK(env->v->remove(env, "d") != LT_OK); /* not empty */
    lt_wfile *w = NULL;
    CHECK(env->v->new_writable(env, "d", &w) != LT_OK && w == NULL); /* a directory */
    lt_env_free(env); /* frees remaining files */
}

static void test_fault_over_each(void) {
    lt_env *mem, *f1, *f2;
    char dir[512];
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &f1));
    CHECK_OK(lt_env_fault_new(lt_env_posix(), &f2));
    check_fs(f1, "/fdb");
    check_fs(f2, path_of(dir, tmproot, "fault"));
    CHECK(lt_env_fault_syncs(f1) > 0);
    lt_env_free(f1);
    lt_env_free(f2);
    lt_env_free(mem);
}

static void test_fault_drop(void) {
    lt_env *mem, *env;
    lt_wfile *w;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &env));
    CHECK_OK(env->v->mkdir(env, "db"));
    CHECK_OK(env->v->sync_dir(env, "."));
    CHECK_EQ_INT(lt_env_fault_syncs(env), 1);
    /* Synced prefix survives, the rest goes. */
    CHECK_OK(env->v->new_writable(env, "db/log", &w));
    CHECK_OK(lt_wappend(w, "synced;", 7));
    CHECK_OK(lt_wsync(w));
    CHECK_OK(lt_wappend(w, "lost", 4));
    CHECK_OK(lt_wflush(w));
    CHECK_OK(lt_wclose(w));
    CHECK_OK(write_file(env, "db/never", "never synced", 0));
    CHECK_OK(env->v->sync_dir(env, "db"));
    CHECK_OK(write_file(env, "db/newfile", "synced, dir not", 1));
    CHECK_EQ_INT(lt_env_fault_syncs(env), 4);
    CHECK(file_is(env, "db/log", "synced;lost"));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/log", "synced;"));
    CHECK(file_is(env, "db/never", ""));         /* name durable, data not */
    CHECK(!env->v->exists(env, "db/newfile"));  /* created in an unsynced dir */
    /* After a crash everything left is durable: a second drop changes nothing. */
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/log", "synced;"));
    /* Appending to an existing file keeps what was there. */
    CHECK_OK(env->v->new_appendable(env, "db/log", &w));
    CHECK_OK(lt_wappend(w, "more", 4));
    CHECK_OK(lt_wclose(w));
    CHECK_OK(env->v->truncate(env, "db/log", 3));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/log", "syn"));
    /* A directory whose parent was never synced vanishes with its contents. */
    CHECK_OK(env->v->mkdir(env, "db2"));
    CHECK_OK(write_file(env, "db2/f", "x", 1));
    CHECK_OK(env->v->sync_dir(env, "db2"));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(!env->v->exists(env, "db2") && !env->v->exists(env, "db2/f"));
    lt_env_free(env);
    lt_env_free(mem);
}

static void test_fault_current_pattern(void) {
    lt_env *mem, *env;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &env));
    CHECK_OK(env->v->mkdir(env, "db"));
    CHECK_OK(env->v->sync_dir(env, "."));
    CHECK_OK(lt_env_write_file_atomic(env, "db", "db/CURRENT.tmp", "db/CURRENT", "old\n", 4));
    /* The same steps without the final sync_dir: the crash brings the old one back. */
    CHECK_OK(write_file(env, "db/CURRENT.tmp", "new\n", 1));
    CHECK_OK(env->v->rename(env, "db/CURRENT.tmp", "db/CURRENT"));
    CHECK(file_is(env, "db/CURRENT", "new\n"));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/CURRENT", "old\n"));
    CHECK(!env->v->exists(env, "db/CURRENT.tmp"));
    /* With the sync_dir the new content is durable. */
    CHECK_OK(lt_env_write_file_atomic(env, "db", "db/CURRENT.tmp", "db/CURRENT", "new\n", 4));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/CURRENT", "new\n"));
    /* The tmp's directory entry was synced before the rename: it comes back. */
    CHECK_OK(write_file(env, "db/t", "T\n", 1));
    CHECK_OK(env->v->sync_dir(env, "db"));
    CHECK_OK(env->v->rename(env, "db/t", "db/CURRENT"));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(file_is(env, "db/CURRENT", "new\n") && file_is(env, "db/t", "T\n"));
    /* Removes are durable at once. */
    CHECK_OK(env->v->remove(env, "db/t"));
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(!env->v->exists(env, "db/t"));
    lt_env_free(env);
    lt_env_free(mem);
}

static void test_fault_fail_write(void) {
    lt_env *mem, *env;
    lt_wfile *w;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &env));
    CHECK_OK(env->v->new_writable(env, "f", &w));
    CHECK_OK(lt_env_fault_fail_write(env, 3, LT_ENOSPC));
    CHECK_OK(lt_wappend(w, "1", 1));
    CHECK_OK(lt_wappend(w, "2", 1));
    CHECK_EQ_INT(lt_wappend(w, "3", 1), LT_ENOSPC);
    CHECK(strstr(lt_errmsg(), "No space left on device (injected)") != NULL);
    CHECK(strstr(lt_errmsg(), "f") != NULL);
    CHECK_OK(lt_wappend(w, "4", 1)); /* later appends succeed again */
    CHECK_OK(lt_env_fault_fail_write(env, 1, LT_EIO));
    CHECK_EQ_INT(lt_wappend(w, "5", 1), LT_EIO);
    CHECK_OK(lt_env_fault_fail_write(env, 2, LT_EIO));
    CHECK_OK(lt_env_fault_fail_write(env, 0, LT_EIO)); /* disabled */
    for (int i = 0; i < 5; i++) CHECK_OK(lt_wappend(w, "x", 1));
    CHECK_OK(lt_wclose(w));
    CHECK(file_is(env, "f", "124xxxxx"));
    CHECK_EQ_INT(lt_env_fault_drop_unsynced(mem), LT_EINVAL); /* not a fault env */
    lt_env_free(env);
    lt_env_free(mem);
}

/* Each kind of operation can be failed; a failed one changes nothing the OS would not
 * (a partial append leaves half its bytes; a failed sync leaves the data unsynced). */
static void test_fault_fail_each_kind(void) {
    lt_env *mem, *env;
    lt_wfile *w, *w2;
    CHECK_OK(lt_env_mem_new(&mem));
    CHECK_OK(lt_env_fault_new(mem, &env));
    CHECK_OK(env->v->mkdir(env, "d"));
    CHECK_OK(env->v->sync_dir(env, "."));
    CHECK_OK(write_file(env, "d/a", "abcd", 1));
    CHECK_OK(env->v->sync_dir(env, "d"));
    CHECK_EQ_INT(lt_env_fault_count(env, LT_FAULT_MKDIR), 1);
    CHECK_EQ_INT(lt_env_fault_count(env, LT_FAULT_SYNC_DIR | LT_FAULT_SYNC), 3);
    CHECK_EQ_INT(lt_env_fault_count(env, LT_FAULT_ALL), 6);  /* + create, append */

    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_CREATE, 1, LT_ENOSPC, 0));
    CHECK_EQ_INT(env->v->new_writable(env, "d/b", &w), LT_ENOSPC);
    CHECK(strstr(lt_errmsg(), "d/b: No space left on device (injected)") != NULL);
    CHECK(!env->v->exists(env, "d/b"));
    CHECK_OK(env->v->new_writable(env, "d/b", &w));    /* one-shot: next one works */

    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_APPEND, 1, LT_ENOSPC, LT_FAULT_PARTIAL));
    CHECK_EQ_INT(lt_wappend(w, "123456", 6), LT_ENOSPC);
    CHECK(strstr(lt_errmsg(), "append d/b: No space left") != NULL);
    CHECK_OK(lt_wflush(w));
    CHECK(file_is(env, "d/b", "123"));                 /* the first half got out */

    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_SYNC, 1, LT_EIO, 0));
    uint64_t syncs = lt_env_fault_syncs(env);
    CHECK_EQ_INT(lt_wsync(w), LT_EIO);
    CHECK(strstr(lt_errmsg(), "sync d/b: injected failure") != NULL);
    CHECK_EQ_INT(lt_env_fault_syncs(env), syncs);
    CHECK_OK(lt_wclose(w));

    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_RENAME, 1, LT_EIO, 0));
    CHECK_EQ_INT(env->v->rename(env, "d/a", "d/c"), LT_EIO);
    CHECK(file_is(env, "d/a", "abcd") && !env->v->exists(env, "d/c"));
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_REMOVE, 1, LT_EIO, 0));
    CHECK_EQ_INT(env->v->remove(env, "d/a"), LT_EIO);
    CHECK(file_is(env, "d/a", "abcd"));
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_TRUNCATE, 1, LT_EIO, 0));
    CHECK_EQ_INT(env->v->truncate(env, "d/a", 1), LT_EIO);
    CHECK(file_is(env, "d/a", "abcd"));
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_MKDIR, 1, LT_ENOSPC, 0));
    CHECK_EQ_INT(env->v->mkdir(env, "e"), LT_ENOSPC);
    CHECK(!env->v->exists(env, "e"));
    /* A failed directory sync leaves the new name (d/b) undurable. */
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_SYNC_DIR, 1, LT_EIO, 0));
    CHECK_EQ_INT(env->v->sync_dir(env, "d"), LT_EIO);
    CHECK_EQ_INT(lt_env_fault_injected(env), 8);
    CHECK_OK(lt_env_fault_drop_unsynced(env));
    CHECK(!env->v->exists(env, "d/b"));
    CHECK(file_is(env, "d/a", "abcd"));

    /* The n-th matching operation of a mask; other kinds do not count down. */
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_SYNC | LT_FAULT_RENAME, 3, LT_EIO, 0));
    CHECK_OK(env->v->new_writable(env, "d/f", &w));
    CHECK_OK(lt_wappend(w, "x", 1));
    CHECK_OK(lt_wsync(w));                             /* 1 */
    CHECK_OK(env->v->rename(env, "d/f", "d/g"));       /* 2 */
    CHECK_OK(env->v->remove(env, "d/a"));              /* not in the mask */
    CHECK_EQ_INT(lt_wsync(w), LT_EIO);                 /* 3 */
    CHECK_OK(lt_wsync(w));

    /* Sticky: the n-th and every later matching operation fail until disarmed. */
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_APPEND | LT_FAULT_CREATE, 2, LT_ENOSPC,
                               LT_FAULT_STICKY));
    CHECK_OK(lt_wappend(w, "y", 1));
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(lt_wappend(w, "z", 1), LT_ENOSPC);
    CHECK_EQ_INT(env->v->new_writable(env, "d/h", &w2), LT_ENOSPC);
    CHECK_OK(lt_wsync(w));                             /* not in the mask */
    CHECK_OK(lt_env_fault_fail(env, 0, 0, LT_EIO, 0));
    CHECK_OK(lt_wappend(w, "w", 1));
    /* A full disk: the first failing append writes a part, later ones nothing. */
    CHECK_OK(lt_env_fault_fail(env, LT_FAULT_APPEND, 1, LT_ENOSPC,
                               LT_FAULT_STICKY | LT_FAULT_PARTIAL));
    CHECK_EQ_INT(lt_wappend(w, "1234", 4), LT_ENOSPC);
    CHECK_EQ_INT(lt_wappend(w, "5678", 4), LT_ENOSPC);
    CHECK_OK(lt_env_fault_fail(env, 0, 0, LT_EIO, 0));
    CHECK_OK(lt_wclose(w));
    CHECK(file_is(env, "d/g", "xyw12"));

    CHECK_EQ_INT(lt_env_fault_fail(env, 0x100, 1, LT_EIO, 0), LT_EINVAL);
    CHECK_EQ_INT(lt_env_fault_fail(env, LT_FAULT_SYNC, 1, LT_EIO, 4), LT_EINVAL);
    CHECK_EQ_INT(lt_env_fault_fail(env, LT_FAULT_SYNC, 1, 5, 0), LT_EINVAL);
    CHECK_EQ_INT(lt_env_fault_fail(mem, LT_FAULT_SYNC, 1, LT_EIO, 0), LT_EINVAL);
    CHECK_EQ_INT(lt_env_fault_count(mem, LT_FAULT_ALL), 0);
    lt_env_free(env);
    lt_env_free(mem);
}

/* Many threads on one memory env (and a fault env over it): private files created,
 * written, renamed, listed and removed, while all read one shared file. */
typedef struct thr_arg { lt_env *env; int id; int ok; } thr_arg;

static void *worker(void *p) {
    thr_arg *a = p;
    lt_env *env = a->env;
    char name[64], name2[64], buf[256], back[256];
    lt_rfile *r;
    size_t got;
    if (env->v->new_readable(env, "shared", &r) != LT_OK) return NULL;
    for (int i = 0; i < 300; i++) {
        uint64_t off = (uint64_t)((i * 7919 + a->id * 104729) % 65000);
        if (lt_rread(r, off, sizeof back, back, &got) != LT_OK || got != sizeof back) break;
        for (size_t j = 0; j < got; j++)
            if ((unsigned char)back[j] != (unsigned char)((off + j) % 251)) goto out;
        snprintf(name, sizeof name, "t%d/f%d", a->id, i);
        snprintf(name2, sizeof name2, "t%d/g%d", a->id, i);
        snprintf(buf, sizeof buf, "thread %d file %d", a->id, i);
        if (write_file(env, name, buf, 1) != LT_OK) break;
        if (env->v->rename(env, name, name2) != LT_OK || !file_is(env, name2, buf)) break;
        char **names;
        size_t n;
        snprintf(name, sizeof name, "t%d", a->id);
        if (env->v->list_dir(env, name, &names, &n) != LT_OK) break;
        lt_env_free_names(names, n);
        if (n != 1 || env->v->remove(env, name2) != LT_OK) break;
        if (i == 299) a->ok = 1;
    }
out:
    lt_rclose(r);
    return NULL;
}

static void run_threads(lt_env *env) {
    enum { T = 4 };
    static char shared[65536];
    for (size_t i = 0; i < sizeof shared; i++) shared[i] = (char)(i % 251);
    lt_wfile *w;
    CHECK_OK(env->v->new_writable(env, "shared", &w));
    CHECK_OK(lt_wappend(w, shared, sizeof shared));
    CHECK_OK(lt_wclose(w));
    pthread_t th[T];
    thr_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (thr_arg){ env, i, 0 };
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < T; i++) CHECK(args[i].ok);
}

static void test_threads(void) {
    lt_env *mem, *fault;
    CHECK_OK(lt_env_mem_new(&mem));
    run_threads(mem);
    CHECK_OK(lt_env_fault_new(mem, &fault));
    run_threads(fault);
    lt_env_free(fault);
    lt_env_free(mem);
}

int main(void) {
    snprintf(tmproot, sizeof tmproot, "/tmp/lt_test_env.XXXXXX");
    if (!mkdtemp(tmproot)) { perror("mkdtemp"); return 1; }
    RUN(test_posix_fs);
    RUN(test_posix_mode);
    RUN(test_posix_lock);
    RUN(test_posix_shared_lock);
    RUN(test_mem_fs);
    RUN(test_mem_lifetimes);
    RUN(test_fault_over_each);
    RUN(test_fault_drop);
    RUN(test_fault_current_pattern);
    RUN(test_fault_fail_write);
    RUN(test_fault_fail_each_kind);
    RUN(test_threads);
    rmdir(tmproot);
    TEST_MAIN_END();
}
