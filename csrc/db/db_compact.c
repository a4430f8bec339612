/* db_compact.c: the background thread and everything it does: writing a sealed
 * memtable to a level-0 table, leveled compaction (also run in the caller's thread by
 * lt_db_compact, and by a stalled writer when background compaction is off), and
 * deleting files that no live version needs.
 *
 * Compaction merges the input files of level L and the overlapping files of L+1 into
 * new files of L+1, cut only between different user keys (so files of a level never
 * share a user key). While merging it drops
 *   - a version shadowed by a newer version of the same key that the oldest live
 *     snapshot already sees, and
 *   - a deletion that the oldest snapshot sees when no deeper level holds the key
 *     (the versions it hides are dropped by the first rule in the same pass).
 * A single input file with nothing to merge below it is moved, not rewritten.
 * Every new table is synced, then the directory, then the manifest edit. */
#include <stdio.h>
#include <stdlib.h>
#include "db_impl.h"
#include "table_out.h"
#include "../util/status.h"

void db_set_bg_error(lt_engine *e, int rc) {
    if (e->bg_error) return;
    e->bg_error = rc;
    snprintf(e->bg_errmsg, sizeof e->bg_errmsg, "%s", lt_errmsg());
    pthread_cond_broadcast(&e->bg_cv);
}

uint64_t db_smallest_snapshot(lt_engine *e) {
    if (e->snaps.next != &e->snaps) return e->snaps.next->seq;  /* list is in seq order */
    return atomic_load(&e->visible_seq);
}

int db_add_pending(lt_engine *e, uint64_t number) {
    if (e->npending == e->cappending) {
        int c = e->cappending ? e->cappending * 2 : 8;
        uint64_t *p = realloc(e->pending, (size_t)c * sizeof *p);
        if (!p) return lt_seterr(LT_ENOMEM, "compaction: out of memory");
        e->pending = p;
        e->cappending = c;
    }
    e->pending[e->npending++] = number;
    return LT_OK;
}

void db_remove_pending(lt_engine *e, uint64_t number) {
    for (int i = 0; i < e->npending; i++)
        if (e->pending[i] == number) { e->pending[i] = e->pending[--e->npending]; return; }
}

/* ---- table output --------------------------------------------------------------- */

int db_write_level0(lt_engine *e, lt_memtable *m, lt_version_edit *edit, uint64_t number) {
    lt_table_out o;
    int rc = lt_table_out_open(&o, e->env, e->dir, &e->topt, number);
    if (rc) return rc;
    lt_iter *it = lt_memtable_iter(m);
    if (!it) { lt_table_out_abandon(&o); return lt_seterr(LT_ENOMEM, "flush: out of memory"); }
    for (lt_iter_seek_first(it); rc == LT_OK && lt_iter_valid(it); lt_iter_next(it))
        rc = lt_table_out_add(&o, lt_iter_key(it), lt_iter_value(it));
    lt_iter_destroy(it);
    if (rc) { lt_table_out_abandon(&o); return rc; }
    rc = lt_table_out_finish(&o, edit, 0, NULL);
    if (rc == LT_OK) rc = e->env->v->sync_dir(e->env, e->dir);
    return rc;
}

/* ---- memtable flush ------------------------------------------------------------- */

/* REQUIRES: mu held and e->imm set. */
static void flush_imm(lt_engine *e) {
    lt_memtable *imm = e->imm;
    uint64_t next_log = e->imm_next_log;
    uint64_t number = lt_vset_new_file_number(e->vs);
    int rc = db_add_pending(e, number);
    pthread_mutex_unlock(&e->mu);
    lt_version_edit edit;
    lt_edit_init(&edit);
    if (rc == LT_OK) rc = db_write_level0(e, imm, &edit, number);
    if (rc == LT_OK) {
        edit.has_log_number = 1;
        edit.log_number = next_log;
        pthread_mutex_lock(&e->manifest_mu);
        rc = lt_vset_log_and_apply(e->vs, &edit, &e->mu);
        pthread_mutex_unlock(&e->manifest_mu);
    }
    lt_edit_free(&edit);
    pthread_mutex_lock(&e->mu);
    db_remove_pending(e, number);
    if (rc) { db_set_bg_error(e, rc); return; }
    e->imm = NULL;
    lt_memtable_unref(imm);
    atomic_fetch_add(&e->st.flushes, 1);
    pthread_cond_broadcast(&e->bg_cv);
    db_delete_obsolete(e);
}

/* ---- compaction ----------------------------------------------------------------- */

typedef struct compaction {
    int level;
    int manual;           /* lt_db_compact: always rewrite (drops old versions) */
    lt_version *v;
    lt_file_meta **in[2];
    int n[2];
} compaction;

static void compaction_free(compaction *c) {
    free(c->in[0]);
    free(c->in[1]);
    if (c->v) lt_version_unref(c->v);
}

static void range_of(lt_file_meta **fs, int n, lt_slice *lo, lt_slice *hi) {
    for (int i = 0; i < n; i++) {
        lt_slice s = lt_ikey_user(lt_slice_make(fs[i]->smallest.data, fs[i]->smallest.size));
        lt_slice l = lt_ikey_user(lt_slice_make(fs[i]->largest.data, fs[i]->largest.size));
        if (i == 0 || lt_slice_cmp(s, *lo) < 0) *lo = s;
        if (i == 0 || lt_slice_cmp(l, *hi) > 0) *hi = l;
    }
}

/* Fill c->in[1] with the files of level+1 overlapping c->in[0]. */
static int add_next_level(compaction *c) {
    lt_slice lo, hi;
    range_of(c->in[0], c->n[0], &lo, &hi);
    c->in[1] = lt_version_overlapping(c->v, c->level + 1, &lo, &hi, &c->n[1]);
    return LT_OK;
}

/* REQUIRES: mu held. Returns 1 with *c filled if the current version needs work. */
static int pick_compaction(lt_engine *e, compaction *c) {
    lt_version *v = e->vs->current;
    memset(c, 0, sizeof *c);
    if (v->score < 1) return 0;
    c->level = v->score_level;
    c->v = v;
    lt_version_ref(v);
    int L = c->level;
    if (L == 0) {
        c->in[0] = malloc((size_t)v->nfiles[0] * sizeof(lt_file_meta *));
        if (!c->in[0]) { compaction_free(c); return 0; }
        memcpy(c->in[0], v->files[0], (size_t)v->nfiles[0] * sizeof(lt_file_meta *));
        c->n[0] = v->nfiles[0];
    } else {
        lt_buf *cp = &e->vs->compact_pointer[L];
        int pick = 0;
        for (int i = 0; cp->size && i < v->nfiles[L]; i++) {
            lt_file_meta *f = v->files[L][i];
            if (lt_ikey_cmp(lt_slice_make(f->largest.data, f->largest.size),
                            lt_slice_make(cp->data, cp->size)) > 0) { pick = i; break; }
            pick = 0;
        }
        c->in[0] = malloc(sizeof(lt_file_meta *));
        if (!c->in[0]) { compaction_free(c); return 0; }
        c->in[0][0] = v->files[L][pick];
        c->n[0] = 1;
    }
    add_next_level(c);
    return 1;
}

static int cmp_smallest(const void *a, const void *b) {
    const lt_file_meta *x = *(lt_file_meta *const *)a, *y = *(lt_file_meta *const *)b;
    return lt_slice_cmp(lt_ikey_user(lt_slice_make(x->smallest.data, x->smallest.size)),
                        lt_ikey_user(lt_slice_make(y->smallest.data, y->smallest.size)));
}

/* 1 if the inputs can move down unchanged: nothing below overlaps them and their
 * user-key ranges are pairwise disjoint (always so for one file). Sequential loads
 * then reach deep levels without being rewritten. */
static int is_trivial_move(const compaction *c) {
    if (c->manual || c->n[1] != 0) return 0;
    if (c->n[0] == 1) return 1;
    lt_file_meta **fs = malloc((size_t)c->n[0] * sizeof *fs);
    if (!fs) return 0;
    memcpy(fs, c->in[0], (size_t)c->n[0] * sizeof *fs);
    qsort(fs, (size_t)c->n[0], sizeof *fs, cmp_smallest);
    int ok = 1;
    for (int i = 1; i < c->n[0] && ok; i++)
        ok = lt_slice_cmp(lt_ikey_user(lt_slice_make(fs[i - 1]->largest.data, fs[i - 1]->largest.size)),
                          lt_ikey_user(lt_slice_make(fs[i]->smallest.data, fs[i]->smallest.size))) < 0;
    free(fs);
    return ok;
}

static int run_compaction(lt_engine *e, compaction *c, uint64_t smallest_snapshot) {
    int out_level = c->level + 1, rc = LT_OK;
    int trivial = is_trivial_move(c);
    lt_version_edit edit;
    lt_edit_init(&edit);
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < c->n[w]; i++)
            if ((rc = lt_edit_delete_file(&edit, c->level + w, c->in[w][i]->number))) goto done;
    if (trivial) {
        for (int i = 0; i < c->n[0] && rc == LT_OK; i++) {
            lt_file_meta *f = c->in[0][i];
            rc = lt_edit_add_file(&edit, out_level, f->number, f->size,
                                  lt_slice_make(f->smallest.data, f->smallest.size),
                                  lt_slice_make(f->largest.data, f->largest.size));
        }
        if (rc == LT_OK) atomic_fetch_add(&e->st.trivial_moves, 1);
        goto apply;
    }
    int nit = c->n[0] + c->n[1];
    lt_iter **its = calloc((size_t)nit, sizeof *its);
    if (!its) { rc = lt_seterr(LT_ENOMEM, "compaction: out of memory"); goto done; }
    uint64_t bytes_in = 0, bytes_out = 0;
    for (int w = 0, k = 0; w < 2; w++) {
        for (int i = 0; i < c->n[w]; i++, k++) {
            lt_table *t;
            bytes_in += c->in[w][i]->size;
            rc = lt_vset_table(e->vs, c->in[w][i], &t);
            its[k] = rc ? lt_iter_empty(rc) : lt_table_iter_fill(t, 0); /* no cache pollution */
        }
    }
    rc = LT_OK;
    for (int k = 0; k < nit; k++) if (!its[k]) rc = lt_seterr(LT_ENOMEM, "compaction: out of memory");
    lt_iter *m = NULL;
    if (rc == LT_OK && !(m = lt_iter_merging(lt_ikey_cmp, its, nit))) rc = lt_seterr(LT_ENOMEM, "compaction: out of memory");
    if (rc) { for (int k = 0; k < nit; k++) lt_iter_destroy(its[k]); free(its); goto done; }
    free(its);

    lt_table_out o;
    int have_out = 0;
    lt_buf cur = {0};
    int have_cur = 0;
    uint64_t last_seq_for_key = 0;
    for (lt_iter_seek_first(m); rc == LT_OK && lt_iter_valid(m); lt_iter_next(m)) {
        if (e->shutting_down) { rc = lt_seterr(LT_ECLOSED, "compaction: database is closing"); break; }
        lt_slice k = lt_iter_key(m);
        if (!lt_ikey_valid(k)) { rc = lt_seterr(LT_ECORRUPT, "compaction: malformed internal key"); break; }
        lt_slice uk = lt_ikey_user(k);
        uint64_t seq = lt_ikey_seq(k);
        int new_key = !have_cur || !lt_slice_eq(uk, lt_slice_make(cur.data, cur.size));
        if (new_key) {
            cur.size = 0;
            if (lt_buf_append(&cur, uk.data, uk.size)) { rc = lt_seterr(LT_ENOMEM, "compaction: out of memory"); break; }
            have_cur = 1;
            last_seq_for_key = LT_MAX_SEQ + 1;
            if (have_out && lt_table_out_size(&o) >= e->opt.table_size) {
                rc = lt_table_out_finish(&o, &edit, out_level, &bytes_out);
                have_out = 0;
                if (rc) break;
            }
        }
        int drop = 0;
        if (last_seq_for_key <= smallest_snapshot) drop = 1;
        else if (lt_ikey_type(k) == LT_TYPE_DELETION && seq <= smallest_snapshot &&
                 lt_version_is_base_level_for(c->v, out_level, uk)) drop = 1;
        last_seq_for_key = seq;
        if (drop) continue;
        if (!have_out) {
            pthread_mutex_lock(&e->mu);
            uint64_t num = lt_vset_new_file_number(e->vs);
            rc = db_add_pending(e, num);
            pthread_mutex_unlock(&e->mu);
            if (rc == LT_OK) rc = lt_table_out_open(&o, e->env, e->dir, &e->topt, num);
            if (rc) break;
            have_out = 1;
        }
        rc = lt_table_out_add(&o, k, lt_iter_value(m));
    }
    if (rc == LT_OK) rc = lt_iter_status(m);
    lt_iter_destroy(m);
    lt_buf_free(&cur);
    if (have_out) {
        if (rc == LT_OK) rc = lt_table_out_finish(&o, &edit, out_level, &bytes_out);
        else lt_table_out_abandon(&o);
    }
    if (rc == LT_OK) rc = e->env->v->sync_dir(e->env, e->dir);
    atomic_fetch_add(&e->st.compaction_bytes_read, bytes_in);
    atomic_fetch_add(&e->st.compaction_bytes_written, bytes_out);
apply:
    if (rc == LT_OK && c->n[0] > 0) {
        lt_file_meta *lastf = c->in[0][c->n[0] - 1];
        rc = lt_edit_set_compact_pointer(&edit, c->level,
                                         lt_slice_make(lastf->largest.data, lastf->largest.size));
    }
    int logged = 0;
    if (rc == LT_OK) {
        pthread_mutex_lock(&e->manifest_mu);
        rc = lt_vset_log_and_apply(e->vs, &edit, &e->mu);
        pthread_mutex_unlock(&e->manifest_mu);
        logged = 1;
    }
    if (rc && !logged) {
        /* Remove outputs that never made it into a version. Once the edit went to the
         * manifest, a failure (of its sync, say) leaves the record possibly there for
         * recovery to replay: the outputs stay (the latched error stops deletions). */
        for (int i = 0; i < edit.nadded; i++) {
            if (trivial || e->vs->manifest_failed) break;
            char name[4096];
            lt_table_file_name(name, sizeof name, e->dir, edit.added[i].f->number);
            e->env->v->remove(e->env, name);
        }
    }
done:
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < edit.nadded; i++) db_remove_pending(e, edit.added[i].f->number);
    pthread_mutex_unlock(&e->mu);
    lt_edit_free(&edit);
    if (rc == LT_OK) atomic_fetch_add(&e->st.compactions, 1);
    return rc;
}

void db_maybe_schedule(lt_engine *e) { pthread_cond_broadcast(&e->bg_cv); }

/* Run the picked compaction `c` with mu released; a failure latches the background
 * error. REQUIRES: mu held, !e->compacting. */
static void run_picked(lt_engine *e, compaction *c) {
    e->compacting = 1;
    uint64_t smallest = db_smallest_snapshot(e);
    pthread_mutex_unlock(&e->mu);
    int rc = run_compaction(e, c, smallest);
    compaction_free(c);
    pthread_mutex_lock(&e->mu);
    e->compacting = 0;
    if (rc && rc != LT_ECLOSED) db_set_bg_error(e, rc);
    pthread_cond_broadcast(&e->bg_cv);
    db_delete_obsolete(e);
}

int db_compact_foreground(lt_engine *e) {
    compaction c;
    if (!pick_compaction(e, &c))
        return lt_seterr(LT_ENOMEM, "write: cannot start the compaction a write stall needs");
    run_picked(e, &c);
    return LT_OK;
}

void *db_bg_main(void *arg) {
    lt_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->shutting_down) {
        if (e->bg_error) { pthread_cond_wait(&e->bg_cv, &e->mu); continue; }
        if (e->imm) { flush_imm(e); continue; }
        compaction c;
        if (e->opt.background_compaction && !e->compacting && pick_compaction(e, &c)) {
            run_picked(e, &c);
            continue;
        }
        pthread_cond_wait(&e->bg_cv, &e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int db_compact_range(lt_engine *e, const lt_slice *begin, const lt_slice *end) {
    int rc = LT_OK;
    pthread_mutex_lock(&e->mu);
    int max_level = 1;
    for (int l = 1; l < LT_NUM_LEVELS; l++) {
        int n;
        lt_file_meta **fs = lt_version_overlapping(e->vs->current, l, begin, end, &n);
        free(fs);
        if (n > 0) max_level = l;
    }
    for (int level = 0; level < max_level && rc == LT_OK; level++) {
        while (e->compacting && !e->bg_error) pthread_cond_wait(&e->bg_cv, &e->mu);
        if (e->bg_error) { rc = lt_seterr(LT_EBUSY, "compact: %s", e->bg_errmsg); break; }
        compaction c;
        memset(&c, 0, sizeof c);
        c.level = level;
        c.manual = 1;
        c.v = lt_vset_current_ref(e->vs);
        c.in[0] = lt_version_overlapping(c.v, level, begin, end, &c.n[0]);
        if (c.n[0] == 0) { compaction_free(&c); continue; }
        add_next_level(&c);
        e->compacting = 1;
        uint64_t smallest = db_smallest_snapshot(e);
        pthread_mutex_unlock(&e->mu);
        rc = run_compaction(e, &c, smallest);
        compaction_free(&c);
        pthread_mutex_lock(&e->mu);
        e->compacting = 0;
        /* As in the background thread: a failed manifest write may have left its record
         * in the manifest, so no later edit may be written after it. */
        if (rc && rc != LT_ECLOSED) db_set_bg_error(e, rc);
        pthread_cond_broadcast(&e->bg_cv);
        db_delete_obsolete(e);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- obsolete files ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void db_delete_obsolete(lt_engine *e) {
    if (e->bg_error || e->opt.read_only) return;
    uint64_t *live = NULL;
    size_t n = 0, cap = 0;
    if (lt_vset_live_files(e->vs, &live, &n, &cap)) { free(live); return; }
    for (int i = 0; i < e->npending; i++) {
        if (n == cap) {
            size_t c2 = cap ? cap * 2 : 16;
            uint64_t *p = realloc(live, c2 * sizeof *p);
            if (!p) { free(live); return; }
            live = p;
            cap = c2;
        }
        live[n++] = e->pending[i];
    }
    if (n) qsort(live, n, sizeof *live, cmp_u64);
    uint64_t log_keep = e->vs->log_number, cur_log = e->log_number,
             manifest = e->vs->manifest_number;
    char **names = NULL;
    size_t nn = 0;
    if (e->env->v->list_dir(e->env, e->dir, &names, &nn)) { free(live); return; }
    pthread_mutex_unlock(&e->mu);
    for (size_t i = 0; i < nn; i++) {
        const char *s = names[i];
        unsigned long long num;
        char tail[8];
        int del = 0, table = 0;
        if (sscanf(s, "%llu.%7s", &num, tail) == 2 && strcmp(tail, "ldt") == 0) {
            table = 1;
            del = n == 0 || bsearch(&(uint64_t){num}, live, n, sizeof *live, cmp_u64) == NULL;
        } else if (sscanf(s, "%llu.%7s", &num, tail) == 2 && strcmp(tail, "log") == 0) {
            del = num < log_keep && num != cur_log;
        } else if (sscanf(s, "MANIFEST-%llu", &num) == 1) {
            del = num != manifest;
        }
        if (!del) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", e->dir, s);
        if (table) lt_cache_erase_file(e->cache, num);
        e->env->v->remove(e->env, path);
    }
    lt_env_free_names(names, nn);
    free(live);
    pthread_mutex_lock(&e->mu);
}
