/* repair.c: lt_db_repair, rebuilding a database whose manifest or CURRENT is lost or
 * damaged from the tables and logs in its directory (RocksDB's RepairDB in spirit).
 *
 * Steps, each finished before the next begins:
 *   1. Take the database lock (an open database, in this or another process, is
 *      refused with LT_ELOCKED).
 *   2. Read every table file whole (every block's CRC checked). A table that fails is
 *      moved into lost/ and reported; it is never deleted.
 *   3. Read every log, resuming after damage, into one memtable: every valid batch is
 *      kept (a batch is checked whole before any of it is applied). A damaged log is
 *      copied into lost/ and reported.
 *   4. Merge the tables and the memtable by internal key. Table file numbers say
 *      nothing about which data is newer (a compaction output can have a higher
 *      number than a level-0 file holding newer versions of the same keys), but the
 *      internal key carries the sequence number, so the merge yields the newest
 *      version of each user key first. That version is written to new tables at the
 *      bottom level (deletions are dropped: nothing lies below them), cut at
 *      table_size between user keys, each synced, then the directory.
 *   5. Write a new manifest naming only the new tables, with the largest sequence
 *      number seen and a log number past every old log (an empty log of that number
 *      is created first: open checks that the log a manifest names exists), and
 *      point CURRENT at it.
 *   6. Only then: move the old manifests into lost/, delete the old tables that were
 *      read whole and the old logs (their contents are in the new tables).
 * A crash before step 5 leaves the old files in place (run repair again); after it,
 * the database is the repaired one and step 6's leftovers are deleted by the next
 * open as obsolete files.
 *
 * The report is a JSON object (lightning.h). */
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"
#include "table_out.h"
#include "../util/status.h"

typedef struct repair {
    lt_env *env;
    char dir[4096];
    char lost[4096];
    lt_table_options topt;
    size_t table_size;
    lt_cache *cache;
    lt_memtable *mem;
    uint64_t max_number, max_seq;
    uint64_t *tables; size_t ntables;     /* readable tables */
    uint64_t *bad_tables; size_t nbad;
    uint64_t *logs; size_t nlogs;
    uint64_t *manifests; size_t nmanifests;
    uint64_t table_entries, log_records, logs_damaged, keys, tables_written;
    lt_buf aside;                         /* JSON array members */
    lt_version_edit edit;                 /* the new tables */
} repair;

static void json_string(lt_buf *out, const char *s) {
    char tmp[8];
    lt_buf_append(out, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') { tmp[0] = '\\'; tmp[1] = (char)ch; lt_buf_append(out, tmp, 2); }
        else if (ch < 0x20) lt_buf_append(out, tmp, (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", ch));
        else lt_buf_append(out, s, 1);
    }
    lt_buf_append(out, "\"", 1);
}

static void report_aside(repair *r, const char *file, const char *reason) {
    if (r->aside.size) lt_buf_append(&r->aside, ", ", 2);
    lt_buf_append(&r->aside, "{\"file\": ", 9);
    json_string(&r->aside, file);
    lt_buf_append(&r->aside, ", \"reason\": ", 12);
    json_string(&r->aside, reason);
    lt_buf_append(&r->aside, "}", 1);
}

static int push(uint64_t **v, size_t *n, uint64_t x) {
    uint64_t *p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p) return lt_seterr(LT_ENOMEM, "repair: out of memory");
    p[(*n)++] = x;
    *v = p;
    return LT_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int list_files(repair *r) {
    char **names = NULL;
    size_t nn = 0;
    int rc = r->env->v->list_dir(r->env, r->dir, &names, &nn);
    for (size_t i = 0; rc == LT_OK && i < nn; i++) {
        unsigned long long num;
        char tail[8];
        int used = 0;
        if (sscanf(names[i], "MANIFEST-%llu%n", &num, &used) == 1 && !names[i][used]) {
            rc = push(&r->manifests, &r->nmanifests, num);
        } else if (sscanf(names[i], "%llu.%7s%n", &num, tail, &used) == 2 && !names[i][used]) {
            if (strcmp(tail, "ldt") == 0) rc = push(&r->tables, &r->ntables, num);
            else if (strcmp(tail, "log") == 0) rc = push(&r->logs, &r->nlogs, num);
            else continue;
        } else {
            continue;
        }
        if (num > r->max_number) r->max_number = num;
    }
    lt_env_free_names(names, nn);
    /* Numbers of files set aside earlier count too: lost/ never sees a name twice. */
    if (rc == LT_OK && r->env->v->list_dir(r->env, r->lost, &names, &nn) == LT_OK) {
        for (size_t i = 0; i < nn; i++) {
            unsigned long long num;
            if ((sscanf(names[i], "MANIFEST-%llu", &num) == 1 || sscanf(names[i], "%llu.", &num) == 1) &&
                num > r->max_number)
                r->max_number = num;
        }
        lt_env_free_names(names, nn);
    }
    if (r->ntables) qsort(r->tables, r->ntables, sizeof *r->tables, cmp_u64);
    if (r->nlogs) qsort(r->logs, r->nlogs, sizeof *r->logs, cmp_u64);
    return rc;
}

static int make_lost(repair *r) {
    int rc = r->env->v->mkdir(r->env, r->lost);
    return rc ? rc : r->env->v->sync_dir(r->env, r->dir);
}

static int open_table(repair *r, uint64_t number, lt_table **out) {
    char name[4096];
    uint64_t size = 0;
    lt_rfile *f = NULL;
    lt_table_file_name(name, sizeof name, r->dir, number);
    int rc = r->env->v->file_size(r->env, name, &size);
    if (rc == LT_OK) rc = r->env->v->new_readable(r->env, name, &f);
    if (rc == LT_OK) rc = lt_table_open(&r->topt, f, number, size, r->cache, name, out);
    return rc;
}

/* Step 2: read each table whole; move the damaged ones into lost/. */
static int check_tables(repair *r) {
    size_t keep = 0;
    for (size_t i = 0; i < r->ntables; i++) {
        lt_table *t = NULL;
        uint64_t entries = 0;
        int rc = open_table(r, r->tables[i], &t);
        if (rc == LT_OK) {
            lt_iter *it = lt_table_iter_fill(t, 0);
            if (!it) rc = lt_seterr(LT_ENOMEM, "repair: out of memory");
            for (lt_iter_seek_first(it); rc == LT_OK && lt_iter_valid(it); lt_iter_next(it)) {
                lt_slice k = lt_iter_key(it);
                if (!lt_ikey_valid(k)) rc = lt_seterr(LT_ECORRUPT, "table %06llu: malformed internal key",
                                                      (unsigned long long)r->tables[i]);
                else if (lt_ikey_seq(k) > r->max_seq) r->max_seq = lt_ikey_seq(k);
                entries++;
            }
            if (it && rc == LT_OK) rc = lt_iter_status(it);
            lt_iter_destroy(it);
            lt_table_free(t);
        }
        if (rc == LT_OK) {
            r->tables[keep++] = r->tables[i];
            r->table_entries += entries;
            continue;
        }
        if (rc == LT_ENOMEM) return rc;
        char why[512], from[4096], to[4096], shown[64];
        snprintf(why, sizeof why, "%s", lt_errmsg());
        lt_table_file_name(from, sizeof from, r->dir, r->tables[i]);
        lt_table_file_name(to, sizeof to, r->lost, r->tables[i]);
        snprintf(shown, sizeof shown, "lost/%06llu.ldt", (unsigned long long)r->tables[i]);
        if ((rc = make_lost(r)) || (rc = r->env->v->rename(r->env, from, to)) ||
            (rc = r->env->v->sync_dir(r->env, r->dir)))
            return rc;
        report_aside(r, shown, why);
        if ((rc = push(&r->bad_tables, &r->nbad, r->tables[i]))) return rc;
    }
    r->ntables = keep;
    return LT_OK;
}

static int add_one(void *arg, uint64_t seq, int type, lt_slice key, lt_slice value) {
    repair *r = arg;
    if (seq > r->max_seq) r->max_seq = seq;
    int rc = lt_memtable_add(r->mem, seq, type, key, value);
    return rc == LT_EINVAL ? LT_OK : rc;   /* the same version twice: keep one */
}

/* Step 3: every valid batch of every log into r->mem; copy damaged logs to lost/. */
static int read_logs(repair *r) {
    lt_batch *b = NULL;
    int rc = lt_batch_new(&b);
    for (size_t i = 0; rc == LT_OK && i < r->nlogs; i++) {
        char name[4096], damage[512] = "";
        lt_log_file_name(name, sizeof name, r->dir, r->logs[i]);
        lt_rfile *f = NULL;
        if ((rc = r->env->v->new_readable(r->env, name, &f))) break;
        lt_log_reader *lr = lt_log_reader_new(f, name);
        if (!lr) { lt_rclose(f); rc = lt_seterr(LT_ENOMEM, "repair: out of memory"); break; }
        lt_slice rec;
        for (;;) {
            rc = lt_log_read_record(lr, &rec);
            if (rc == LT_ENOTFOUND) {
                rc = LT_OK;
                int end = lt_log_reader_end(lr);
                if (end != LT_LOG_END_CLEAN && end != LT_LOG_END_TORN && !damage[0])
                    snprintf(damage, sizeof damage, "%s", lt_log_reader_damage(lr));
                if (end != LT_LOG_END_DAMAGED_MID || (rc = lt_log_reader_resume(lr))) break;
                continue;
            }
            if (rc) break;
            rc = lt_batch_set_contents(b, rec);   /* checks the whole batch */
            if (rc == LT_ECORRUPT) {
                if (!damage[0]) snprintf(damage, sizeof damage, "log %.300s: %.180s", name, lt_errmsg());
                rc = LT_OK;
                continue;
            }
            if (rc == LT_OK) rc = lt_batch_iterate(b, add_one, r);
            if (rc) break;
            r->log_records++;
        }
        lt_log_reader_free(lr);
        lt_rclose(f);
        if (rc == LT_OK && damage[0]) {
            /* Copied, not moved: the original goes only once the new manifest is in. */
            char dst[4096], tmp[4096], shown[64], *data = NULL;
            size_t n = 0;
            lt_log_file_name(dst, sizeof dst, r->lost, r->logs[i]);
            snprintf(tmp, sizeof tmp, "%.4000s.tmp", dst);
            snprintf(shown, sizeof shown, "lost/%06llu.log", (unsigned long long)r->logs[i]);
            if ((rc = make_lost(r)) == LT_OK && (rc = lt_env_read_file(r->env, name, &data, &n)) == LT_OK)
                rc = lt_env_write_file_atomic(r->env, r->lost, tmp, dst, data, n);
            free(data);
            if (rc == LT_OK) report_aside(r, shown, damage);
            r->logs_damaged++;
        }
    }
    lt_batch_free(b);
    return rc;
}

/* A new table goes to the bottom level: nothing lies below it. */
static int finish_table(repair *r, lt_table_out *o) {
    int rc = lt_table_out_finish(o, &r->edit, LT_NUM_LEVELS - 1, NULL);
    if (rc == LT_OK) r->tables_written++;
    return rc;
}

/* Step 4: the newest version of each key, into new bottom-level tables. */
static int rewrite(repair *r) {
    int n = (int)r->ntables + 1, rc = LT_OK;
    lt_table **tabs = calloc((size_t)n, sizeof *tabs);
    lt_iter **its = calloc((size_t)n, sizeof *its);
    if (!tabs || !its) { free(tabs); free(its); return lt_seterr(LT_ENOMEM, "repair: out of memory"); }
    for (int i = 0; i + 1 < n && rc == LT_OK; i++) {
        rc = open_table(r, r->tables[i], &tabs[i]);
        if (rc == LT_OK && !(its[i] = lt_table_iter_fill(tabs[i], 0))) rc = lt_seterr(LT_ENOMEM, "repair: out of memory");
    }
    if (rc == LT_OK && !(its[n - 1] = lt_memtable_iter(r->mem))) rc = lt_seterr(LT_ENOMEM, "repair: out of memory");
    lt_iter *m = NULL;
    if (rc == LT_OK && !(m = lt_iter_merging(lt_ikey_cmp, its, n))) rc = lt_seterr(LT_ENOMEM, "repair: out of memory");
    if (rc) { for (int i = 0; i < n; i++) lt_iter_destroy(its[i]); }
    free(its);   /* the merging iterator owns the children */
    lt_table_out o;
    int have_out = 0;
    lt_buf cur = {0};
    int have_cur = 0;
    for (lt_iter_seek_first(m); rc == LT_OK && m && lt_iter_valid(m); lt_iter_next(m)) {
        lt_slice k = lt_iter_key(m);
        if (!lt_ikey_valid(k)) { rc = lt_seterr(LT_ECORRUPT, "repair: malformed internal key"); break; }
        lt_slice uk = lt_ikey_user(k);
        if (have_cur && lt_slice_eq(uk, lt_slice_make(cur.data, cur.size))) continue;  /* older version */
        cur.size = 0;
        if (lt_buf_append(&cur, uk.data, uk.size)) { rc = lt_seterr(LT_ENOMEM, "repair: out of memory"); break; }
        have_cur = 1;
        if (lt_ikey_type(k) == LT_TYPE_DELETION) continue;   /* nothing below it */
        if (have_out && lt_table_out_size(&o) >= r->table_size) {
            have_out = 0;
            if ((rc = finish_table(r, &o))) break;
        }
        if (!have_out) {
            if ((rc = lt_table_out_open(&o, r->env, r->dir, &r->topt, ++r->max_number))) break;
            have_out = 1;
        }
        rc = lt_table_out_add(&o, k, lt_iter_value(m));
        r->keys++;
    }
    if (rc == LT_OK && m) rc = lt_iter_status(m);
    if (have_out) {
        if (rc == LT_OK) rc = finish_table(r, &o);
        else lt_table_out_abandon(&o);
    }
    lt_buf_free(&cur);
    lt_iter_destroy(m);
    for (int i = 0; i + 1 < n; i++) if (tabs[i]) lt_table_free(tabs[i]);
    free(tabs);
    if (rc == LT_OK) rc = r->env->v->sync_dir(r->env, r->dir);
    return rc;
}

/* Step 5: a manifest naming the new tables, and CURRENT. */
static int write_manifest(repair *r, uint64_t *manifest) {
    lt_vset *vs = NULL;
    lt_vset_config vc = { r->env, r->dir, r->topt, r->cache, 10u << 20, 4 };
    int rc = lt_vset_new(&vc, &vs);
    if (rc) return rc;
    r->edit.has_log_number = 1;
    r->edit.log_number = ++r->max_number;   /* past every old log: none is replayed */
    r->edit.has_last_seq = 1;
    r->edit.last_seq = r->max_seq;
    r->edit.has_next_file = 1;
    r->edit.next_file = r->max_number + 1;
    /* Open checks that the log the manifest names exists: an empty one. */
    char name[4096];
    lt_wfile *f = NULL;
    lt_log_file_name(name, sizeof name, r->dir, r->edit.log_number);
    rc = r->env->v->new_writable(r->env, name, &f);
    if (rc == LT_OK) rc = lt_wsync(f);
    if (f) { int crc = lt_wclose(f); if (rc == LT_OK) rc = crc; }
    if (rc == LT_OK) rc = r->env->v->sync_dir(r->env, r->dir);
    if (rc) { lt_vset_free(vs); return rc; }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    rc = lt_vset_apply_recovered(vs, &r->edit, &mu);
    if (rc == LT_OK) rc = lt_vset_new_manifest(vs);
    if (rc == LT_OK) *manifest = vs->manifest_number;
    lt_vset_free(vs);
    return rc;
}

/* Step 6: the old files are no longer needed. Failures here are harmless (the next
 * open deletes obsolete files), so they are ignored. */
static void retire_old_files(repair *r, uint64_t manifest) {
    char from[4096], to[4096];
    for (size_t i = 0; i < r->nmanifests; i++) {
        if (r->manifests[i] == manifest) continue;
        lt_manifest_file_name(from, sizeof from, r->dir, r->manifests[i]);
        lt_manifest_file_name(to, sizeof to, r->lost, r->manifests[i]);
        if (make_lost(r) == LT_OK) r->env->v->rename(r->env, from, to);
    }
    for (size_t i = 0; i < r->ntables; i++) {
        lt_table_file_name(from, sizeof from, r->dir, r->tables[i]);
        r->env->v->remove(r->env, from);
    }
    for (size_t i = 0; i < r->nlogs; i++) {
        lt_log_file_name(from, sizeof from, r->dir, r->logs[i]);
        r->env->v->remove(r->env, from);
    }
    r->env->v->sync_dir(r->env, r->dir);
}

static void write_report(repair *r, uint64_t manifest, char *out, size_t cap, size_t *needed) {
    lt_buf rep = {0};
    char tmp[1024];
    int n = snprintf(tmp, sizeof tmp,
        "{\"tables\": %llu, \"table_entries\": %llu, \"logs\": %llu, \"log_records\": %llu, "
        "\"damaged_logs\": %llu, \"damaged_tables\": %llu, \"keys\": %llu, "
        "\"tables_written\": %llu, \"last_sequence\": %llu, \"manifest\": \"MANIFEST-%06llu\", "
        "\"set_aside\": [",
        (unsigned long long)r->ntables, (unsigned long long)r->table_entries,
        (unsigned long long)r->nlogs, (unsigned long long)r->log_records,
        (unsigned long long)r->logs_damaged, (unsigned long long)r->nbad,
        (unsigned long long)r->keys, (unsigned long long)r->tables_written,
        (unsigned long long)r->max_seq, (unsigned long long)manifest);
    lt_buf_append(&rep, tmp, (size_t)n);
    if (r->aside.size) lt_buf_append(&rep, r->aside.data, r->aside.size);
    lt_buf_append(&rep, "]}", 2);
    if (needed) *needed = rep.size + 1;
    if (out && cap > 0) {
        size_t k = rep.size < cap - 1 ? rep.size : cap - 1;
        if (k) memcpy(out, rep.data, k);
        out[k] = 0;
    }
    lt_buf_free(&rep);
}

int lt_db_repair(const char *path, const lt_options *opt_in, char *report, size_t cap,
                 size_t *needed) {
    lt_options opt;
    if (opt_in) opt = *opt_in; else lt_options_init(&opt);
    lt_clearerr();
    if (needed) *needed = 0;
    if (report && cap) report[0] = 0;
    if (!path || !*path) return lt_seterr(LT_EINVAL, "repair: empty path");
    if (strlen(path) > 3000) return lt_seterr(LT_EINVAL, "repair: path too long");
    repair r;
    memset(&r, 0, sizeof r);
    r.env = opt.env ? opt.env : lt_env_posix();
    snprintf(r.dir, sizeof r.dir, "%s", path);
    size_t dl = strlen(r.dir);
    while (dl > 1 && r.dir[dl - 1] == '/') r.dir[--dl] = 0;
    snprintf(r.lost, sizeof r.lost, "%.4000s/lost", r.dir);
    r.topt.block_size = opt.block_size >= 256 ? opt.block_size : 4096;
    r.topt.restart_interval = 8;
    r.topt.bloom_bits_per_key = opt.bloom_bits_per_key;
    r.topt.codec = opt.codec;
    r.table_size = opt.table_size >= 1024 ? opt.table_size : 2u << 20;
    lt_edit_init(&r.edit);
    char lockname[4096];
    snprintf(lockname, sizeof lockname, "%.4000s/LOCK", r.dir);
    lt_flock *lock = NULL;
    uint64_t manifest = 0;
    int rc = LT_OK;
    if (!r.env->v->exists(r.env, r.dir)) rc = lt_seterr(LT_ENOENT, "repair: database %s does not exist", r.dir);
    if (rc == LT_OK) rc = r.env->v->lock(r.env, lockname, 0, &lock);
    if (rc == LT_OK && (!(r.cache = lt_cache_new(8u << 20)) || !(r.mem = lt_memtable_new())))
        rc = lt_seterr(LT_ENOMEM, "repair: out of memory");
    if (rc == LT_OK) rc = list_files(&r);
    if (rc == LT_OK) rc = check_tables(&r);
    if (rc == LT_OK) rc = read_logs(&r);
    if (rc == LT_OK) rc = rewrite(&r);
    if (rc == LT_OK) rc = write_manifest(&r, &manifest);
    if (rc == LT_OK) {
        retire_old_files(&r, manifest);
        write_report(&r, manifest, report, cap, needed);
    } else {
        /* Keep the message; remove the new tables no manifest names. */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lt_errmsg());
        for (int i = 0; i < r.edit.nadded; i++) {
            char name[4096];
            lt_table_file_name(name, sizeof name, r.dir, r.edit.added[i].f->number);
            r.env->v->remove(r.env, name);
        }
        lt_seterr(rc, "repair %s: %s", r.dir, msg);
    }
    lt_edit_free(&r.edit);
    if (r.mem) lt_memtable_unref(r.mem);
    if (r.cache) lt_cache_free(r.cache);
    if (lock) r.env->v->unlock(r.env, lock);
    lt_buf_free(&r.aside);
    free(r.tables);
    free(r.bad_tables);
    free(r.logs);
    free(r.manifests);
    return rc;
}
