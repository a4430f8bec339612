/* db_open.c: opening a database (creation or recovery), the per-process registry
 * that makes a second open of the same path share one engine, and closing.
 *
 * Recovery, in order; a step that fails leaves the directory as it was:
 *   1. No CURRENT: a new database, unless the directory holds a table or a non-empty
 *      log (then CURRENT was lost: LT_ECORRUPT; lightning.repair rebuilds it). A crash
 *      while creating a database leaves at most an empty log and a manifest naming no
 *      table, so such a directory is created anew.
 *   2. Read CURRENT and the manifest (lt_vset_recover: a torn last record is ignored,
 *      other damage is LT_ECORRUPT). Every table the manifest names, and the log its
 *      log number names, must exist: otherwise the manifest lost records or a file was
 *      lost, and going on would delete newer tables as obsolete (LT_ECORRUPT).
 *   3. Replay, in file-number order, every log not older than the manifest's log
 *      number into a memtable (each batch checked whole before any of it is applied).
 *      A log ending inside a record is a torn tail: cut there, counted. Damage with a
 *      valid record after it, in that log or a later one, is not a crash's doing:
 *      LT_WAL_STRICT fails (level-0 tables written by this replay are removed again);
 *      LT_WAL_POINT_IN_TIME stops applying there, counts what follows, and copies each
 *      log with dropped records into lost/ before anything else is written (the
 *      original goes later as an obsolete log, so a crash leaves it in one place or
 *      the other).
 *   4. Write what was replayed to a level-0 table; start a fresh log and a fresh
 *      manifest (CURRENT replaced by rename, directory synced); then delete the files
 *      no longer needed (never anything in lost/).
 * A read-only open replays into memory and writes nothing. What recovery found is in
 * e->recovery, shown by lt_db_stats.
 *
 * fork(): see db_impl.h. The handlers below take the process-wide mutexes in one
 * order (registry, transactions' iterator lists, env lifetimes, env locks: the order
 * in which code holding one may take the next) and release them after fork; the
 * child's handler also forgets the parent's engines and locks and bumps db_fork_gen. */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"
#include "../util/status.h"

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static lt_engine *registry;

atomic_uint db_fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void) {
    pthread_mutex_lock(&registry_mu);
    db_txn_atfork(0);
    lt_env_util_atfork(0);
    lt_env_posix_atfork(0);
}

static void atfork_parent(void) {
    lt_env_posix_atfork(1);
    lt_env_util_atfork(1);
    db_txn_atfork(1);
    pthread_mutex_unlock(&registry_mu);
}

static void atfork_child(void) {
    atomic_fetch_add(&db_fork_gen, 1);
    registry = NULL;   /* the parent's engines: leaked, never touched here */
    lt_env_posix_atfork(2);
    lt_env_util_atfork(2);
    db_txn_atfork(2);
    pthread_mutex_unlock(&registry_mu);
}

static void atfork_register(void) {
    (void)pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void lt_options_init(lt_options *o) {
    memset(o, 0, sizeof *o);
    o->create = 1;
    o->sync = LT_SYNC_NORMAL;
    o->sync_interval_ms = 5;
    o->cache_size = 64u << 20;
    o->memtable_size = 4u << 20;
    o->block_size = 4096;
    o->table_size = 2u << 20;
    o->level1_size = 10u << 20;
    o->l0_compaction_trigger = 4;
    o->l0_slowdown_trigger = 8;
    o->l0_stop_trigger = 12;
    o->bloom_bits_per_key = 10;
    o->background_compaction = 1;
}

int db_enter(lt_db *db, const char *op) {
    if (!db) return lt_seterr(LT_EINVAL, "%s: null database handle", op);
    if (db_forked(db)) {   /* (closed: by this process, after the fork) */
        if (atomic_load(&db->closed)) return lt_seterr(LT_ECLOSED, "%s: database is closed", op);
        return lt_seterr(LT_EFORKED, "%s: database was opened in a parent process; open it "
                         "again after fork", op);
    }
    atomic_fetch_add(&db->active, 1);
    if (atomic_load(&db->closed)) {
        atomic_fetch_sub(&db->active, 1);
        return lt_seterr(LT_ECLOSED, "%s: database is closed", op);
    }
    lt_clearerr();
    return LT_OK;
}

void db_leave(lt_db *db) { atomic_fetch_sub(&db->active, 1); }

static int check_options(const lt_options *o) {
    if (o->sync < LT_SYNC_OFF || o->sync > LT_SYNC_FULL)
        return lt_seterr(LT_EINVAL, "open: unknown sync mode %d", o->sync);
    if (o->block_size < 256 || o->block_size > (1u << 20))
        return lt_seterr(LT_EINVAL, "open: block size %zu outside 256..1048576", o->block_size);
    if (o->memtable_size < (16u << 10))
        return lt_seterr(LT_EINVAL, "open: memtable size %zu below the minimum of 16384", o->memtable_size);
    if (o->table_size < 1024) return lt_seterr(LT_EINVAL, "open: table size %zu below 1024", o->table_size);
    if (o->level1_size < 1024) return lt_seterr(LT_EINVAL, "open: level-1 size %zu below 1024", o->level1_size);
    if (o->l0_compaction_trigger < 1 || o->l0_slowdown_trigger < o->l0_compaction_trigger ||
        o->l0_stop_trigger < o->l0_slowdown_trigger)
        return lt_seterr(LT_EINVAL, "open: level-0 triggers must satisfy 1 <= compaction <= slowdown <= stop");
    if (o->bloom_bits_per_key < 0 || o->bloom_bits_per_key > 64)
        return lt_seterr(LT_EINVAL, "open: bloom bits per key %d outside 0..64", o->bloom_bits_per_key);
    if (o->wal_recovery != LT_WAL_STRICT && o->wal_recovery != LT_WAL_POINT_IN_TIME)
        return lt_seterr(LT_EINVAL, "open: unknown wal_recovery mode %d", o->wal_recovery);
    if (o->sync == LT_SYNC_NORMAL && (o->sync_interval_ms < 1 || o->sync_interval_ms > 60000))
        return lt_seterr(LT_EINVAL, "open: sync interval %u ms outside 1..60000", o->sync_interval_ms);
    return LT_OK;
}

typedef struct replay_ctx { lt_memtable *m; uint64_t max_seq; } replay_ctx;

static int replay_one(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value) {
    replay_ctx *c = arg;
    if (seq > c->max_seq) c->max_seq = seq;
    return lt_memtable_add(c->m, seq, type, key, value);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The numbers of the files named NNNNNN.<suffix> in the directory, sorted. */
static int numbered_files(lt_engine *e, const char *suffix, uint64_t **out, size_t *n) {
    char **names = NULL;
    size_t nn = 0;
    *out = NULL;
    *n = 0;
    int rc = e->env->v->list_dir(e->env, e->dir, &names, &nn);
    if (rc) return rc;
    uint64_t *v = calloc(nn + 1, sizeof *v);
    if (!v) { lt_env_free_names(names, nn); return lt_seterr(LT_ENOMEM, "recovery: out of memory"); }
    for (size_t i = 0; i < nn; i++) {
        unsigned long long num;
        char tail[8];
        int used = 0;
        if (sscanf(names[i], "%llu.%7s%n", &num, tail, &used) == 2 && strcmp(tail, suffix) == 0 &&
            names[i][used] == 0)
            v[(*n)++] = num;
    }
    lt_env_free_names(names, nn);
    if (*n) qsort(v, *n, sizeof *v, cmp_u64);
    *out = v;
    return LT_OK;
}

/* Copy log `number` into <dir>/lost/ (durably). The original is left in place: it
 * goes away only as an obsolete log once the new manifest no longer needs it, so a
 * crash at any point leaves the damaged log in one of the two places. */
static int set_aside_log(lt_engine *e, uint64_t number) {
    char lost[4096], src[4096], dst[4096], tmp[4096];
    snprintf(lost, sizeof lost, "%.4000s/lost", e->dir);
    lt_log_file_name(src, sizeof src, e->dir, number);
    lt_log_file_name(dst, sizeof dst, lost, number);
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", dst);
    char *data = NULL;
    size_t n = 0;
    int rc = e->env->v->mkdir(e->env, lost);
    if (rc == LT_OK) rc = e->env->v->sync_dir(e->env, e->dir);
    if (rc == LT_OK) rc = lt_env_read_file(e->env, src, &data, &n);
    if (rc == LT_OK) rc = lt_env_write_file_atomic(e->env, lost, tmp, dst, data, n);
    free(data);
    if (rc == LT_OK) e->recovery.logs_set_aside++;
    return rc;
}

/* Remember the first damage recovery met (cut to fit). */
static void note_damage(lt_engine *e, const char *what) {
    if (e->recovery.damage[0]) return;
    size_t n = strlen(what);
    if (n >= sizeof e->recovery.damage) n = sizeof e->recovery.damage - 1;
    memcpy(e->recovery.damage, what, n);
    e->recovery.damage[n] = 0;
}

/* Replay logs >= the manifest's log number into e->mem, in file-number order.
 * Flushes full memtables to level 0 (not when read-only), adding them to `edit`.
 * A torn tail ends the log; any record after damage (later in that log, or in a
 * later log) is, per opt.wal_recovery, an LT_ECORRUPT error or dropped and counted.
 * Logs with dropped records are copied into lost/ (not when read-only). On error
 * the level-0 tables written here are removed again: the directory is as before.
 * REQUIRES: e->mem exists. */
static int replay_logs(lt_engine *e, lt_version_edit *edit) {
    uint64_t *logs = NULL, *aside = NULL;
    size_t nlogs = 0, naside = 0;
    int rc = numbered_files(e, "log", &logs, &nlogs);
    if (rc) return rc;
    lt_batch *b = NULL;
    if (!(aside = calloc(nlogs + 1, sizeof *aside)) || (rc = lt_batch_new(&b)) != LT_OK) {
        free(logs);
        free(aside);
        return rc ? rc : lt_seterr(LT_ENOMEM, "recovery: out of memory");
    }
    int pit = e->opt.wal_recovery == LT_WAL_POINT_IN_TIME;
    int dropping = 0;          /* past damage: records are counted, not applied */
    uint64_t tail_log = 0;     /* a log that ended in a torn tail (0: none yet) */
    char tail_desc[512] = "";
    for (size_t i = 0; i < nlogs && rc == LT_OK; i++) {
        if (logs[i] < e->vs->log_number) continue;
        char name[4096];
        lt_log_file_name(name, sizeof name, e->dir, logs[i]);
        if (logs[i] >= atomic_load(&e->vs->next_file)) atomic_store(&e->vs->next_file, logs[i] + 1);
        lt_rfile *f = NULL;
        if ((rc = e->env->v->new_readable(e->env, name, &f))) break;
        lt_log_reader *r = lt_log_reader_new(f, name);
        if (!r) { lt_rclose(f); rc = lt_seterr(LT_ENOMEM, "recovery: out of memory"); break; }
        int dropped_here = 0;
        lt_slice rec;
        for (;;) {
            rc = lt_log_read_record(r, &rec);
            if (rc == LT_ENOTFOUND) {
                int end = lt_log_reader_end(r);
                rc = LT_OK;
                if (end == LT_LOG_END_CLEAN) break;
                if (end != LT_LOG_END_DAMAGED_MID) {      /* a tail: nothing valid after it */
                    if (!dropping) {
                        tail_log = logs[i];
                        snprintf(tail_desc, sizeof tail_desc, "%s", lt_log_reader_damage(r));
                        e->recovery.torn_tails++;
                        e->recovery.torn_bytes += lt_rsize(f) - lt_log_reader_last_good(r);
                        note_damage(e, lt_log_reader_damage(r));
                    }
                    break;
                }
                if (!pit) {
                    rc = lt_seterr(LT_ECORRUPT, "%s (valid records follow at offset %llu); "
                                   "open with wal_recovery=\"point_in_time\" to recover the "
                                   "records before the damage, or run lightning.repair",
                                   lt_log_reader_damage(r),
                                   (unsigned long long)lt_log_reader_next_valid(r));
                    break;
                }
                note_damage(e, lt_log_reader_damage(r));
                dropping = dropped_here = 1;
                if ((rc = lt_log_reader_resume(r)) != LT_OK) break;
                continue;
            }
            if (rc) break;
            if (!dropping && tail_log) {
                /* A log ended in a torn tail, yet a later log holds records. */
                if (!pit) {
                    rc = lt_seterr(LT_ECORRUPT, "%s, but the later log %s holds records; "
                                   "open with wal_recovery=\"point_in_time\" to recover the "
                                   "records before the damage, or run lightning.repair",
                                   tail_desc, name);
                    break;
                }
                dropping = 1;
                aside[naside++] = tail_log;
            }
            if (!dropping) {
                rc = lt_batch_set_contents(b, rec);   /* checks it whole before any is applied */
                if (rc == LT_ECORRUPT) {
                    char what[600];
                    snprintf(what, sizeof what, "log %.300s: %.250s in the record ending at offset %llu",
                             name, lt_errmsg(), (unsigned long long)lt_log_reader_last_good(r));
                    if (!pit) { rc = lt_seterr(LT_ECORRUPT, "%s", what); break; }
                    note_damage(e, what);
                    rc = LT_OK;
                    dropping = 1;
                }
                if (rc) break;
            }
            if (dropping) {
                e->recovery.records_dropped++;
                dropped_here = 1;
                continue;
            }
            replay_ctx c = { e->mem, 0 };
            if ((rc = lt_batch_iterate(b, replay_one, &c))) break;
            e->recovery.records_replayed++;
            if (c.max_seq > atomic_load(&e->vs->last_seq)) atomic_store(&e->vs->last_seq, c.max_seq);
            if (!e->opt.read_only && lt_memtable_memory_usage(e->mem) >= e->opt.memtable_size) {
                rc = db_write_level0(e, e->mem, edit, lt_vset_new_file_number(e->vs));
                if (rc) break;
                lt_memtable_unref(e->mem);
                if (!(e->mem = lt_memtable_new())) { rc = lt_seterr(LT_ENOMEM, "recovery: out of memory"); break; }
            }
        }
        if (dropped_here) aside[naside++] = logs[i];
        lt_log_reader_free(r);
        lt_rclose(f);
    }
    for (size_t i = 0; rc == LT_OK && !e->opt.read_only && i < naside; i++)
        rc = set_aside_log(e, aside[i]);
    if (rc) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", lt_errmsg());
        for (int i = 0; i < edit->nadded; i++) {
            char name[4096];
            lt_table_file_name(name, sizeof name, e->dir, edit->added[i].f->number);
            e->env->v->remove(e->env, name);
        }
        lt_seterr(rc, "%s", msg);
    }
    lt_batch_free(b);
    free(logs);
    free(aside);
    return rc;
}

/* The files the recovered manifest relies on must all be there: each table it names,
 * and the log numbered by its log number (created, and its name synced, before any
 * edit names it; deleted only after a later edit names a newer one). A missing one
 * means a lost file or a manifest that lost records after being relied on; opening
 * would then lose data, so: LT_ECORRUPT naming both, nothing touched. */
static int check_manifest_files(lt_engine *e) {
    char **names = NULL;
    size_t nn = 0;
    int rc = e->env->v->list_dir(e->env, e->dir, &names, &nn);
    if (rc) return rc;
    uint64_t *have = calloc(nn + 1, sizeof *have);
    size_t nh = 0;
    int log_found = 0;
    if (!have) { lt_env_free_names(names, nn); return lt_seterr(LT_ENOMEM, "open: out of memory"); }
    for (size_t i = 0; i < nn; i++) {
        unsigned long long num;
        char tail[8];
        int used = 0;
        if (sscanf(names[i], "%llu.%7s%n", &num, tail, &used) != 2 || names[i][used]) continue;
        if (strcmp(tail, "ldt") == 0) have[nh++] = num;
        if (strcmp(tail, "log") == 0 && num == e->vs->log_number) log_found = 1;
    }
    lt_env_free_names(names, nn);
    if (nh) qsort(have, nh, sizeof *have, cmp_u64);
    char manifest[64], missing[64] = "";
    snprintf(manifest, sizeof manifest, "MANIFEST-%06llu", (unsigned long long)e->vs->manifest_number);
    lt_version *v = e->vs->current;
    for (int l = 0; l < LT_NUM_LEVELS && !missing[0]; l++)
        for (int i = 0; i < v->nfiles[l] && !missing[0]; i++)
            if (!nh || !bsearch(&v->files[l][i]->number, have, nh, sizeof *have, cmp_u64))
                snprintf(missing, sizeof missing, "table %06llu.ldt", (unsigned long long)v->files[l][i]->number);
    free(have);
    if (!missing[0] && !log_found && e->vs->log_number > 0)
        snprintf(missing, sizeof missing, "log %06llu.log", (unsigned long long)e->vs->log_number);
    if (!missing[0]) return LT_OK;
    return lt_seterr(LT_ECORRUPT, "open: %s/%s needs %s, which is missing (a lost file, or a "
                     "manifest that lost records); lightning.repair rebuilds the database from "
                     "the tables and logs there", e->dir, manifest, missing);
}

/* A directory without CURRENT is a new database only if it holds no data: no table
 * and no non-empty log (a crash while creating a database can leave an empty log
 * and a manifest that names no table). Otherwise CURRENT was lost, and creating a
 * database there would discard the data: LT_ECORRUPT, nothing touched. */
static int check_no_data_without_current(lt_engine *e) {
    char **names = NULL;
    size_t nn = 0, found = 0;
    char first[256] = "";
    int rc = e->env->v->list_dir(e->env, e->dir, &names, &nn);
    if (rc) return rc;
    for (size_t i = 0; i < nn; i++) {
        unsigned long long num;
        char tail[8], path[4096];
        int used = 0, data = 0;
        if (sscanf(names[i], "%llu.%7s%n", &num, tail, &used) != 2 || names[i][used]) continue;
        if (strcmp(tail, "ldt") == 0) data = 1;
        if (strcmp(tail, "log") == 0) {
            uint64_t size = 0;
            snprintf(path, sizeof path, "%.4000s/%s", e->dir, names[i]);
            data = e->env->v->file_size(e->env, path, &size) != LT_OK || size > 0;
        }
        if (data && !found++) snprintf(first, sizeof first, "%.200s", names[i]);
    }
    lt_env_free_names(names, nn);
    if (!found) return LT_OK;
    return lt_seterr(LT_ECORRUPT, "open: %s/CURRENT is missing, but the directory holds "
                     "database files (%s%s); lightning.repair rebuilds the manifest from "
                     "them", e->dir, first, found > 1 ? " and more" : "");
}

static void engine_free(lt_engine *e) {
    if (e->bg_started || e->sync_started) {
        pthread_mutex_lock(&e->mu);
        e->shutting_down = 1;
        pthread_cond_broadcast(&e->bg_cv);
        pthread_cond_broadcast(&e->sync_cv);
        pthread_mutex_unlock(&e->mu);
        if (e->bg_started) pthread_join(e->bg_thread, NULL);
        if (e->sync_started) pthread_join(e->sync_thread, NULL);
    }
    if (e->log) {
        if (!e->crashed && !e->bg_error && e->opt.sync != LT_SYNC_OFF && e->log_unsynced)
            lt_wsync(e->log_file);
        lt_log_writer_free(e->log);
    }
    if (e->log_file) lt_wclose(e->log_file);
    if (e->mem) lt_memtable_unref(e->mem);
    if (e->imm) lt_memtable_unref(e->imm);
    lt_vset_free(e->vs);
    if (e->cache) lt_cache_free(e->cache);
    if (e->lock) e->env->v->unlock(e->env, e->lock);
    lt_batch_free(e->group);
    lt_conflict_free(e->conflict);
    free(e->pending);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->manifest_mu);
    pthread_cond_destroy(&e->bg_cv);
    pthread_cond_destroy(&e->sync_cv);
    lt_env_release(e->env);   /* held since engine_open */
    free(e->dir);
    free(e);
}

static int engine_open(const char *dir, const lt_options *opt, lt_env *env, lt_engine **out) {
    lt_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->dir = strdup(dir))) { free(e); return lt_seterr(LT_ENOMEM, "open: out of memory"); }
    e->opt = *opt;
    e->env = env;
    lt_env_hold(env);
    e->refs = 1;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->manifest_mu, NULL);
    pthread_cond_init(&e->bg_cv, NULL);
    pthread_cond_init(&e->sync_cv, NULL);
    e->snaps.next = e->snaps.prev = &e->snaps;
    if (opt->codec) { e->codec = *opt->codec; e->opt.codec = &e->codec; }
    e->topt.block_size = opt->block_size;
    e->topt.restart_interval = 8;
    e->topt.bloom_bits_per_key = opt->bloom_bits_per_key;
    e->topt.codec = e->opt.codec;
    char path[4096];
    int rc = LT_OK;
    lt_version_edit edit;
    lt_edit_init(&edit);
    if (!(e->cache = lt_cache_new(opt->cache_size)) || lt_batch_new(&e->group) ||
        !(e->mem = lt_memtable_new()) || !(e->conflict = lt_conflict_new())) {
        rc = lt_seterr(LT_ENOMEM, "open: out of memory");
        goto fail;
    }
    if (!opt->read_only && opt->create && (rc = env->v->mkdir(env, dir))) goto fail;
    snprintf(path, sizeof path, "%.4000s/LOCK", dir);
    if (!env->v->exists(env, dir)) { rc = lt_seterr(LT_ENOENT, "open: database %s does not exist", dir); goto fail; }
    if ((rc = env->v->lock(env, path, opt->read_only, &e->lock))) goto fail;
    lt_vset_config vc = { env, dir, e->topt, e->cache, opt->level1_size, opt->l0_compaction_trigger };
    if ((rc = lt_vset_new(&vc, &e->vs))) goto fail;
    snprintf(path, sizeof path, "%.4000s/CURRENT", dir);
    int exists = env->v->exists(env, path);
    if (!exists) {
        if ((rc = check_no_data_without_current(e))) goto fail;
        if (!opt->create || opt->read_only) { rc = lt_seterr(LT_ENOENT, "open: database %s does not exist", dir); goto fail; }
        /* Make the directory's own name durable in its parent. */
        char parent[4096];
        snprintf(parent, sizeof parent, "%.4000s", dir);
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent) { *slash = 0; rc = env->v->sync_dir(env, parent); }
        else if (slash) rc = env->v->sync_dir(env, "/");
        else rc = env->v->sync_dir(env, ".");
        if (rc) goto fail;   /* a power loss could take the whole database with it */
    } else {
        if (opt->error_if_exists) { rc = lt_seterr(LT_EINVAL, "open: database %s already exists", dir); goto fail; }
        if ((rc = lt_vset_recover(e->vs))) goto fail;
        if ((rc = check_manifest_files(e))) goto fail;
        if ((rc = replay_logs(e, &edit))) goto fail;
    }
    atomic_store(&e->visible_seq, atomic_load(&e->vs->last_seq));
    if (!opt->read_only) {
        if ((rc = db_switch_log(e))) goto fail;
        if (lt_memtable_count(e->mem) > 0) {
            if ((rc = db_write_level0(e, e->mem, &edit, lt_vset_new_file_number(e->vs)))) goto fail;
            lt_memtable_unref(e->mem);
            if (!(e->mem = lt_memtable_new())) { rc = lt_seterr(LT_ENOMEM, "open: out of memory"); goto fail; }
        }
        edit.has_log_number = 1;
        edit.log_number = e->log_number;
        pthread_mutex_t tmp = PTHREAD_MUTEX_INITIALIZER;
        if ((rc = lt_vset_apply_recovered(e->vs, &edit, &tmp))) goto fail;
        if ((rc = lt_vset_new_manifest(e->vs))) goto fail;
        pthread_mutex_lock(&e->mu);
        db_delete_obsolete(e);
        pthread_mutex_unlock(&e->mu);
        if (pthread_create(&e->bg_thread, NULL, db_bg_main, e)) { rc = lt_seterr(LT_ENOMEM, "open: cannot start background thread"); goto fail; }
        e->bg_started = 1;
        if (opt->sync == LT_SYNC_NORMAL) {
            if (pthread_create(&e->sync_thread, NULL, db_sync_main, e)) { rc = lt_seterr(LT_ENOMEM, "open: cannot start sync thread"); goto fail; }
            e->sync_started = 1;
        }
        pthread_mutex_lock(&e->mu);
        db_maybe_schedule(e);
        pthread_mutex_unlock(&e->mu);
    }
    lt_edit_free(&edit);
    *out = e;
    return LT_OK;
fail:
    {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lt_errmsg());
        lt_edit_free(&edit);
        e->crashed = 1;  /* do not sync anything on the way out */
        engine_free(e);
        lt_seterr(rc, "%s", msg);
    }
    return rc;
}

int lt_db_open(const char *path, const lt_options *opt_in, lt_db **out) {
    lt_options opt;
    if (opt_in) opt = *opt_in; else lt_options_init(&opt);
    lt_clearerr();
    pthread_once(&atfork_once, atfork_register);
    if (!path || !*path) return lt_seterr(LT_EINVAL, "open: empty path");
    if (strlen(path) > 3000) return lt_seterr(LT_EINVAL, "open: path too long");
    int rc = check_options(&opt);
    if (rc) return rc;
    lt_env *env = opt.env ? opt.env : lt_env_posix();
    char dir[PATH_MAX + 1];
    snprintf(dir, sizeof dir, "%s", path);
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = 0;
    if (env == lt_env_posix()) {
        if (!opt.read_only && opt.create) env->v->mkdir(env, dir);
        char real[PATH_MAX];
        if (realpath(dir, real)) snprintf(dir, sizeof dir, "%s", real);
    }
    lt_db *db = calloc(1, sizeof *db);
    if (!db) return lt_seterr(LT_ENOMEM, "open: out of memory");
    pthread_mutex_init(&db->children_mu, NULL);
    db->gen = atomic_load(&db_fork_gen);
    atomic_init(&db->hrefs, 1);
    db->snaps.hnext = db->snaps.hprev = &db->snaps;
    pthread_mutex_lock(&registry_mu);
    lt_engine *e = registry;
    while (e && !(e->env == env && strcmp(e->dir, dir) == 0)) e = e->reg_next;
    if (e) {
        if (opt.read_only != e->opt.read_only && !opt.read_only) {
            pthread_mutex_unlock(&registry_mu);
            pthread_mutex_destroy(&db->children_mu);
            free(db);
            return lt_seterr(LT_EINVAL, "open: %s is already open read-only in this process", dir);
        }
        e->refs++;
    } else {
        rc = engine_open(dir, &opt, env, &e);
        if (rc == LT_OK) { e->reg_next = registry; registry = e; }
    }
    pthread_mutex_unlock(&registry_mu);
    if (rc) { pthread_mutex_destroy(&db->children_mu); free(db); return rc; }
    db->e = e;
    db->read_only = opt.read_only || e->opt.read_only;
    *out = db;
    return LT_OK;
}

static void engine_release(lt_engine *e, int crash) {
    pthread_mutex_lock(&registry_mu);
    if (crash) e->crashed = 1;
    if (--e->refs > 0) { pthread_mutex_unlock(&registry_mu); return; }
    lt_engine **pp = &registry;
    while (*pp && *pp != e) pp = &(*pp)->reg_next;
    if (*pp) *pp = e->reg_next;
    pthread_mutex_unlock(&registry_mu);
    engine_free(e);
}

static int handle_close(lt_db *db, int crash) {
    if (!db) return LT_OK;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&db->closed, &expected, 1)) return LT_OK;
    /* A parent's handle: its calls in flight (if any) were in threads this process
     * does not have, and its engine belongs to the parent. */
    if (db_forked(db)) return LT_OK;
    while (atomic_load(&db->active) > 0) sched_yield();
    lt_engine *e = db->e;
    pthread_mutex_lock(&db->children_mu);
    while (db->iters) db_iter_release(db->iters);
    for (lt_snapshot *s = db->snaps.hnext; s != &db->snaps; s = db->snaps.hnext) {
        pthread_mutex_lock(&e->mu);
        s->prev->next = s->next;
        s->next->prev = s->prev;
        pthread_mutex_unlock(&e->mu);
        s->released = 1;
        s->hprev->hnext = s->hnext;
        s->hnext->hprev = s->hprev;
        s->hnext = s->hprev = s;
    }
    pthread_mutex_unlock(&db->children_mu);
    if (crash) {
        pthread_mutex_lock(&e->mu);
        e->crashed = 1;
        pthread_mutex_unlock(&e->mu);
    }
    engine_release(e, crash);
    return LT_OK;
}

int lt_db_close(lt_db *db) { return handle_close(db, 0); }
int lt_db_crash(lt_db *db) { return handle_close(db, 1); }

void db_handle_ref(lt_db *db) { atomic_fetch_add(&db->hrefs, 1); }

void db_handle_unref(lt_db *db) {
    if (atomic_fetch_sub(&db->hrefs, 1) != 1) return;
    if (!db_forked(db)) pthread_mutex_destroy(&db->children_mu); /* (may be held) */
    free(db);
}

void lt_db_free(lt_db *db) {
    if (!db) return;
    handle_close(db, 0);
    db_handle_unref(db);
}
