/* version_set.c: versions (files per level), the manifest, and lookups through the
 * levels. Formats and thread-safety are described in version_set.h. */
#include <stdio.h>
#include <stdlib.h>
#include "version_set.h"
#include "log.h"
#include "../util/status.h"

/* ---- versions --------------------------------------------------------------------- */

static lt_version *version_new(lt_vset *vs) {
    lt_version *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->vs = vs;
    atomic_init(&v->refs, 0);
    return v;
}

static void version_destroy(lt_version *v) {
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        for (int i = 0; i < v->nfiles[l]; i++) lt_file_meta_unref(v->files[l][i]);
        free(v->files[l]);
    }
    free(v);
}

void lt_version_ref(lt_version *v) { atomic_fetch_add(&v->refs, 1); }

void lt_version_unref(lt_version *v) {
    if (atomic_fetch_sub(&v->refs, 1) != 1) return;
    lt_vset *vs = v->vs;
    pthread_mutex_lock(&vs->list_mu);
    v->prev->next = v->next;
    v->next->prev = v->prev;
    pthread_mutex_unlock(&vs->list_mu);
    version_destroy(v);
}

static void version_link(lt_vset *vs, lt_version *v) {
    pthread_mutex_lock(&vs->list_mu);
    v->prev = vs->head.prev;
    v->next = &vs->head;
    v->prev->next = v;
    v->next->prev = v;
    pthread_mutex_unlock(&vs->list_mu);
}

lt_version *lt_vset_current_ref(lt_vset *vs) {
    lt_version_ref(vs->current);
    return vs->current;
}

uint64_t lt_version_level_bytes(const lt_version *v, int level) {
    uint64_t n = 0;
    for (int i = 0; i < v->nfiles[level]; i++) n += v->files[level][i]->size;
    return n;
}

double lt_vset_max_bytes(const lt_vset *vs, int level) {
    double r = (double)vs->cfg.level1_size;
    for (int l = 1; l < level; l++) r *= 10;
    return r;
}

static void version_score(lt_version *v) {
    lt_vset *vs = v->vs;
    v->score = (double)v->nfiles[0] / (double)vs->cfg.l0_compaction_trigger;
    v->score_level = 0;
    for (int l = 1; l < LT_NUM_LEVELS - 1; l++) {
        double s = (double)lt_version_level_bytes(v, l) / lt_vset_max_bytes(vs, l);
        if (s > v->score) { v->score = s; v->score_level = l; }
    }
}

static int cmp_by_number(const void *a, const void *b) {
    const lt_file_meta *x = *(lt_file_meta *const *)a, *y = *(lt_file_meta *const *)b;
    return (x->number > y->number) - (x->number < y->number);
}
static int cmp_by_smallest(const void *a, const void *b) {
    const lt_file_meta *x = *(lt_file_meta *const *)a, *y = *(lt_file_meta *const *)b;
    int r = lt_ikey_cmp(lt_slice_make(x->smallest.data, x->smallest.size),
                        lt_slice_make(y->smallest.data, y->smallest.size));
    return r ? r : cmp_by_number(a, b);
}

static int is_deleted(const lt_version_edit *e, int level, uint64_t number) {
    for (int i = 0; i < e->ndeleted; i++)
        if (e->deleted[i].level == level && e->deleted[i].number == number) return 1;
    return 0;
}

/* New version = base + edit (files gain references). */
static int version_apply(lt_vset *vs, const lt_version *base, const lt_version_edit *e,
                         lt_version **out) {
    lt_version *v = version_new(vs);
    if (!v) return lt_seterr(LT_ENOMEM, "version: out of memory");
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        int cap = (base ? base->nfiles[l] : 0) + e->nadded;
        v->files[l] = cap ? malloc((size_t)cap * sizeof(lt_file_meta *)) : NULL;
        if (cap && !v->files[l]) { version_destroy(v); return lt_seterr(LT_ENOMEM, "version: out of memory"); }
        for (int i = 0; base && i < base->nfiles[l]; i++) {
            lt_file_meta *f = base->files[l][i];
            if (is_deleted(e, l, f->number)) continue;
            lt_file_meta_ref(f);
            v->files[l][v->nfiles[l]++] = f;
        }
        for (int i = 0; i < e->nadded; i++) {
            if (e->added[i].level != l) continue;
            lt_file_meta_ref(e->added[i].f);
            v->files[l][v->nfiles[l]++] = e->added[i].f;
        }
        if (v->nfiles[l] > 1)
            qsort(v->files[l], (size_t)v->nfiles[l], sizeof(lt_file_meta *),
                  l == 0 ? cmp_by_number : cmp_by_smallest);
        for (int i = 1; l > 0 && i < v->nfiles[l]; i++) {
            lt_file_meta *a = v->files[l][i - 1], *b = v->files[l][i];
            if (lt_ikey_cmp(lt_slice_make(a->largest.data, a->largest.size),
                            lt_slice_make(b->smallest.data, b->smallest.size)) >= 0) {
                version_destroy(v);
                return lt_seterr(LT_ECORRUPT, "manifest: overlapping files %06llu and %06llu in level %d",
                                 (unsigned long long)a->number, (unsigned long long)b->number, l);
            }
        }
    }
    version_score(v);
    *out = v;
    return LT_OK;
}

static void install(lt_vset *vs, lt_version *v) {
    lt_version_ref(v);
    version_link(vs, v);
    lt_version *old = vs->current;
    vs->current = v;
    if (old) lt_version_unref(old);
}

/* ---- the version set -------------------------------------------------------------- */

int lt_vset_new(const lt_vset_config *cfg, lt_vset **out) {
    lt_vset *vs = calloc(1, sizeof *vs);
    if (!vs || !(vs->dir = strdup(cfg->dir))) { free(vs); return lt_seterr(LT_ENOMEM, "version set: out of memory"); }
    vs->cfg = *cfg;
    vs->cfg.dir = vs->dir;
    vs->head.prev = vs->head.next = &vs->head;
    pthread_mutex_init(&vs->list_mu, NULL);
    pthread_mutex_init(&vs->open_mu, NULL);
    atomic_init(&vs->next_file, 2);
    atomic_init(&vs->last_seq, 0);
    lt_version *v = version_new(vs);
    if (!v) { lt_vset_free(vs); return lt_seterr(LT_ENOMEM, "version set: out of memory"); }
    version_score(v);
    install(vs, v);
    *out = vs;
    return LT_OK;
}

void lt_vset_free(lt_vset *vs) {
    if (!vs) return;
    if (vs->current) lt_version_unref(vs->current);
    if (vs->manifest_log) lt_log_writer_free(vs->manifest_log);
    if (vs->manifest_file) lt_wclose(vs->manifest_file);
    for (int l = 0; l < LT_NUM_LEVELS; l++) lt_buf_free(&vs->compact_pointer[l]);
    pthread_mutex_destroy(&vs->list_mu);
    pthread_mutex_destroy(&vs->open_mu);
    free(vs->dir);
    free(vs);
}

uint64_t lt_vset_new_file_number(lt_vset *vs) { return atomic_fetch_add(&vs->next_file, 1); }

static void absorb_counters(lt_vset *vs, const lt_version_edit *e) {
    if (e->has_log_number) vs->log_number = e->log_number;
    if (e->has_next_file && e->next_file > atomic_load(&vs->next_file)) atomic_store(&vs->next_file, e->next_file);
    if (e->has_last_seq && e->last_seq > atomic_load(&vs->last_seq)) atomic_store(&vs->last_seq, e->last_seq);
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        if (!e->has_cp[l]) continue;
        vs->compact_pointer[l].size = 0;
        lt_buf_append(&vs->compact_pointer[l], e->cp[l].data, e->cp[l].size);
    }
}

int lt_vset_recover(lt_vset *vs) {
    char path[4096], name[4096];
    char *cur = NULL;
    size_t n = 0;
    lt_env *env = vs->cfg.env;
    snprintf(path, sizeof path, "%s/CURRENT", vs->dir);
    int rc = lt_env_read_file(env, path, &cur, &n);
    if (rc) return rc;
    size_t digits = 0;
    while (n > 9 && digits < n - 10 && cur[9 + digits] >= '0' && cur[9 + digits] <= '9') digits++;
    if (n < 11 || n > 200 || cur[n - 1] != '\n' || memcmp(cur, "MANIFEST-", 9) != 0 ||
        digits != n - 10) {
        free(cur);
        return lt_seterr(LT_ECORRUPT, "%s: does not name a manifest (%s); lightning.repair "
                         "rebuilds one from the tables and logs", path,
                         n == 0 ? "empty file" : "unexpected contents");
    }
    snprintf(name, sizeof name, "%s/%.*s", vs->dir, (int)(n - 1), cur);
    vs->manifest_number = strtoull(cur + 9, NULL, 10);
    free(cur);
    if (!env->v->exists(env, name))
        return lt_seterr(LT_ECORRUPT, "%s names %s, which does not exist; lightning.repair "
                         "rebuilds a manifest from the tables and logs", path, name);

    lt_rfile *f = NULL;
    if ((rc = env->v->new_readable(env, name, &f))) return rc;
    lt_log_reader *r = lt_log_reader_new(f, name);
    if (!r) { lt_rclose(f); return lt_seterr(LT_ENOMEM, "manifest: out of memory"); }
    lt_version *v = NULL;
    int records = 0;
    lt_slice rec;
    while ((rc = lt_log_read_record(r, &rec)) == LT_OK) {
        lt_version_edit e;
        lt_edit_init(&e);
        rc = lt_edit_decode(&e, rec, name);
        if (rc == LT_OK) {
            absorb_counters(vs, &e);
            rc = version_apply(vs, vs->current, &e, &v);
            if (rc == LT_OK) install(vs, v);
        }
        lt_edit_free(&e);
        if (rc) break;
        records++;
    }
    if (rc == LT_ENOTFOUND) {
        rc = LT_OK;
        int end = lt_log_reader_end(r);
        if (end == LT_LOG_END_TORN && records > 0) {
            /* An append cut short (disk full, a crash): that edit never took effect,
             * because an edit is used only after its record is whole and synced. */
            vs->manifest_torn_bytes = lt_rsize(f) - lt_log_reader_last_good(r);
        } else if (end != LT_LOG_END_CLEAN) {
            rc = lt_seterr(LT_ECORRUPT, "%s: damaged manifest (%s%s); lightning.repair "
                           "rebuilds one from the tables and logs", name,
                           lt_log_reader_damage(r),
                           end == LT_LOG_END_DAMAGED_MID ? ", with records after it" : "");
        } else if (records == 0) {
            rc = lt_seterr(LT_ECORRUPT, "%s: empty manifest", name);
        }
    }
    lt_log_reader_free(r);
    lt_rclose(f);
    if (rc == LT_OK) {
        /* The file counter must pass every file the manifest names. */
        for (int l = 0; l < LT_NUM_LEVELS; l++)
            for (int i = 0; i < vs->current->nfiles[l]; i++)
                if (vs->current->files[l][i]->number >= atomic_load(&vs->next_file))
                    atomic_store(&vs->next_file, vs->current->files[l][i]->number + 1);
        if (vs->manifest_number >= atomic_load(&vs->next_file))
            atomic_store(&vs->next_file, vs->manifest_number + 1);
    }
    return rc;
}

static int snapshot_edit(lt_vset *vs, lt_version_edit *e) {
    lt_edit_init(e);
    e->has_log_number = 1; e->log_number = vs->log_number;
    e->has_next_file = 1; e->next_file = atomic_load(&vs->next_file);
    e->has_last_seq = 1; e->last_seq = atomic_load(&vs->last_seq);
    int rc = LT_OK;
    for (int l = 0; l < LT_NUM_LEVELS && rc == LT_OK; l++) {
        if (vs->compact_pointer[l].size)
            rc = lt_edit_set_compact_pointer(e, l, lt_slice_make(vs->compact_pointer[l].data,
                                                                 vs->compact_pointer[l].size));
        for (int i = 0; i < vs->current->nfiles[l] && rc == LT_OK; i++) {
            lt_file_meta *f = vs->current->files[l][i];
            rc = lt_edit_add_file(e, l, f->number, f->size,
                                  lt_slice_make(f->smallest.data, f->smallest.size),
                                  lt_slice_make(f->largest.data, f->largest.size));
        }
    }
    return rc;
}

int lt_vset_new_manifest(lt_vset *vs) {
    lt_env *env = vs->cfg.env;
    char name[4096], cur[4096] = "", tmp[4096], content[64] = "";
    uint64_t number = lt_vset_new_file_number(vs);
    lt_manifest_file_name(name, sizeof name, vs->dir, number);
    lt_version_edit e;
    lt_buf rec = {0};
    lt_wfile *f = NULL;
    lt_log_writer *w = NULL;
    int rc = snapshot_edit(vs, &e);
    if (rc == LT_OK) rc = lt_edit_encode(&e, &rec);
    if (rc == LT_OK) rc = env->v->new_writable(env, name, &f);
    if (rc == LT_OK && !(w = lt_log_writer_new(f, 0))) rc = lt_seterr(LT_ENOMEM, "manifest: out of memory");
    if (rc == LT_OK) rc = lt_log_add_record(w, rec.data, rec.size);
    if (rc == LT_OK) rc = lt_wsync(f);
    if (rc == LT_OK) {
        snprintf(cur, sizeof cur, "%s/CURRENT", vs->dir);
        snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", vs->dir);
        int len = snprintf(content, sizeof content, "MANIFEST-%06llu\n", (unsigned long long)number);
        rc = lt_env_write_file_atomic(env, vs->dir, tmp, cur, content, (size_t)len);
    }
    lt_edit_free(&e);
    lt_buf_free(&rec);
    if (rc) {
        /* If CURRENT already names the new manifest (the rename happened, the
         * directory sync failed), the manifest must stay: the next open reads it. */
        int named = 0;
        char *now = NULL;
        size_t nlen = 0;
        if (f && lt_env_read_file(env, cur, &now, &nlen) == LT_OK)
            named = nlen == strlen(content) && memcmp(now, content, nlen) == 0;
        free(now);
        if (w) lt_log_writer_free(w);
        if (f) { lt_wclose(f); if (!named) env->v->remove(env, name); }
        return rc;
    }
    if (vs->manifest_log) lt_log_writer_free(vs->manifest_log);
    if (vs->manifest_file) lt_wclose(vs->manifest_file);
    vs->manifest_file = f;
    vs->manifest_log = w;
    vs->manifest_number = number;
    vs->manifest_syncs++;
    return LT_OK;
}

int lt_vset_log_and_apply(lt_vset *vs, lt_version_edit *e, pthread_mutex_t *mu) {
    if (!e->has_log_number) { e->has_log_number = 1; e->log_number = vs->log_number; }
    e->has_next_file = 1; e->next_file = atomic_load(&vs->next_file);
    e->has_last_seq = 1; e->last_seq = atomic_load(&vs->last_seq);
    lt_version *v = NULL;
    lt_buf rec = {0};
    if (!vs->manifest_log) return lt_seterr(LT_EREADONLY, "manifest: database is read-only");
    if (vs->manifest_failed)
        return lt_seterr(LT_EIO, "manifest MANIFEST-%06llu: an earlier write failed, so it "
                         "is closed to writes until the database is reopened",
                         (unsigned long long)vs->manifest_number);
    int rc = version_apply(vs, vs->current, e, &v);
    if (rc == LT_OK) rc = lt_edit_encode(e, &rec);
    if (rc == LT_OK) {
        /* The file may now end in part of this record (or hold it unsynced): never
         * append after it. Recovery ignores such a torn last record. */
        rc = lt_log_add_record(vs->manifest_log, rec.data, rec.size);
        if (rc == LT_OK) rc = lt_wsync(vs->manifest_file);
        if (rc) {
            vs->manifest_failed = 1;
            char msg[512];
            snprintf(msg, sizeof msg, "%s", lt_errmsg());
            lt_seterr(rc, "manifest MANIFEST-%06llu: %s", (unsigned long long)vs->manifest_number, msg);
        }
    }
    lt_buf_free(&rec);
    if (rc) {
        if (v) version_destroy(v);
        return rc;
    }
    vs->manifest_syncs++;
    pthread_mutex_lock(mu);
    absorb_counters(vs, e);
    install(vs, v);
    pthread_mutex_unlock(mu);
    return LT_OK;
}

int lt_vset_apply_recovered(lt_vset *vs, lt_version_edit *e, pthread_mutex_t *mu) {
    lt_version *v = NULL;
    int rc = version_apply(vs, vs->current, e, &v);
    if (rc) return rc;
    pthread_mutex_lock(mu);
    absorb_counters(vs, e);
    install(vs, v);
    pthread_mutex_unlock(mu);
    return LT_OK;
}

int lt_vset_table(lt_vset *vs, lt_file_meta *f, lt_table **out) {
    lt_table *t = atomic_load_explicit(&f->table, memory_order_acquire);
    if (t) { *out = t; return LT_OK; }
    pthread_mutex_lock(&vs->open_mu);
    int rc = LT_OK;
    t = atomic_load_explicit(&f->table, memory_order_acquire);
    if (!t) {
        char name[4096];
        lt_table_file_name(name, sizeof name, vs->dir, f->number);
        lt_rfile *rf = NULL;
        rc = vs->cfg.env->v->new_readable(vs->cfg.env, name, &rf);
        if (rc == LT_OK) rc = lt_table_open(&vs->cfg.topt, rf, f->number, f->size, vs->cfg.cache, name, &t);
        if (rc == LT_OK) atomic_store_explicit(&f->table, t, memory_order_release);
    }
    pthread_mutex_unlock(&vs->open_mu);
    if (rc == LT_OK) *out = t;
    return rc;
}

int lt_vset_live_files(lt_vset *vs, uint64_t **nums, size_t *n, size_t *cap) {
    int rc = LT_OK;
    pthread_mutex_lock(&vs->list_mu);
    for (lt_version *v = vs->head.next; v != &vs->head && rc == LT_OK; v = v->next) {
        for (int l = 0; l < LT_NUM_LEVELS && rc == LT_OK; l++) {
            for (int i = 0; i < v->nfiles[l]; i++) {
                if (*n == *cap) {
                    size_t c = *cap ? *cap * 2 : 64;
                    uint64_t *p = realloc(*nums, c * sizeof *p);
                    if (!p) { rc = lt_seterr(LT_ENOMEM, "live files: out of memory"); break; }
                    *nums = p;
                    *cap = c;
                }
                (*nums)[(*n)++] = v->files[l][i]->number;
            }
        }
    }
    pthread_mutex_unlock(&vs->list_mu);
    return rc;
}
