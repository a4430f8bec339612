/* version_read.c: reading through a version: point lookups level by level, iterators
 * over level-0 files and concatenated deeper levels, and overlap queries used by
 * compaction. */
#include <stdlib.h>
#include <string.h>
#include "version_set.h"
#include "../util/status.h"

static lt_slice fsmall(const lt_file_meta *f) { return lt_slice_make(f->smallest.data, f->smallest.size); }
static lt_slice flarge(const lt_file_meta *f) { return lt_slice_make(f->largest.data, f->largest.size); }

/* ---- point lookups ------------------------------------------------------------------ */

typedef struct get_state {
    lt_slice ukey;
    int state;        /* 0 not found yet, 1 value, 2 deleted, 3 corrupt */
    lt_buf *out;
    int oom;
} get_state;

static void saver(void *arg, lt_slice ikey, lt_slice value) {
    get_state *s = arg;
    if (!lt_ikey_valid(ikey)) { s->state = 3; return; }
    if (!lt_slice_eq(lt_ikey_user(ikey), s->ukey)) return;
    if (lt_ikey_type(ikey) == LT_TYPE_VALUE) {
        s->state = 1;
        s->out->size = 0;
        if (lt_buf_append(s->out, value.data, value.size)) s->oom = 1;
    } else {
        s->state = 2;
    }
}

static int search_file(lt_version *v, lt_file_meta *f, lt_slice lookup, int use_filter,
                       get_state *s) {
    lt_table *t;
    int rc = lt_vset_table(v->vs, f, &t);
    if (rc) return rc;
    rc = lt_table_get(t, lookup, use_filter, s, saver);
    if (rc) return rc;
    if (s->oom) return lt_seterr(LT_ENOMEM, "get: out of memory");
    if (s->state == 3)
        return lt_seterr(LT_ECORRUPT, "table %06llu: malformed internal key", (unsigned long long)f->number);
    return LT_OK;
}

/* Index of the first file whose largest key >= ikey (files sorted, disjoint). */
static int find_file(lt_file_meta **files, int n, lt_slice ikey) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (lt_ikey_cmp(flarge(files[mid]), ikey) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int lt_version_get(lt_version *v, lt_slice ukey, uint64_t seq, int flags, lt_buf *out) {
    char stackbuf[512];
    lt_buf lk = {0};
    lt_slice lookup;
    if (lt_seek_key(ukey, seq, stackbuf, sizeof stackbuf, &lk, &lookup)) return LT_ENOMEM;
    get_state s = { ukey, 0, out, 0 };
    int rc = LT_OK;
    /* Level 0: files may overlap; newest (highest number) first. */
    for (int i = v->nfiles[0] - 1; i >= 0 && rc == LT_OK && s.state == 0; i--) {
        lt_file_meta *f = v->files[0][i];
        if (lt_slice_cmp(ukey, lt_ikey_user(fsmall(f))) < 0 ||
            lt_slice_cmp(ukey, lt_ikey_user(flarge(f))) > 0) continue;
        rc = search_file(v, f, lookup, !(flags & LT_GET_PRESENT), &s);
    }
    for (int l = 1; l < LT_NUM_LEVELS && rc == LT_OK && s.state == 0; l++) {
        int n = v->nfiles[l];
        if (n == 0) continue;
        int i = find_file(v->files[l], n, lookup);
        if (i >= n) continue;
        lt_file_meta *f = v->files[l][i];
        if (lt_slice_cmp(ukey, lt_ikey_user(fsmall(f))) < 0) continue;
        rc = search_file(v, f, lookup, !(flags & LT_GET_PRESENT), &s);
    }
    lt_buf_free(&lk);
    if (rc) return rc;
    return s.state == 1 ? LT_OK : LT_ENOTFOUND;
}

/* ---- iterators ---------------------------------------------------------------------- */

/* Iterates a level's file list: key = file's largest key, value = 8-byte file index. */
typedef struct files_iter {
    lt_iter base;
    lt_version *v;
    int level;
    int pos;          /* n = invalid */
    char idx[8];
} files_iter;

static files_iter *FI(lt_iter *it) { return (files_iter *)it; }
static int fi_n(files_iter *f) { return f->v->nfiles[f->level]; }
static int fi_valid(lt_iter *it) { return FI(it)->pos >= 0 && FI(it)->pos < fi_n(FI(it)); }
static void fi_seek_first(lt_iter *it) { FI(it)->pos = 0; }
static void fi_seek_last(lt_iter *it) { FI(it)->pos = fi_n(FI(it)) - 1; }
static void fi_seek(lt_iter *it, lt_slice t) {
    FI(it)->pos = find_file(FI(it)->v->files[FI(it)->level], fi_n(FI(it)), t);
}
static void fi_next(lt_iter *it) { FI(it)->pos++; }
static void fi_prev(lt_iter *it) { if (--FI(it)->pos < 0) FI(it)->pos = fi_n(FI(it)); }
static lt_slice fi_key(lt_iter *it) { return flarge(FI(it)->v->files[FI(it)->level][FI(it)->pos]); }
static lt_slice fi_value(lt_iter *it) {
    lt_put_fixed64(FI(it)->idx, (uint64_t)FI(it)->pos);
    return lt_slice_make(FI(it)->idx, 8);
}
static int fi_status(lt_iter *it) { (void)it; return LT_OK; }
static void fi_destroy(lt_iter *it) { lt_version_unref(FI(it)->v); free(it); }

static const lt_iter_vtbl files_vtbl = {
    fi_valid, fi_seek_first, fi_seek_last, fi_seek, fi_next, fi_prev,
    fi_key, fi_value, fi_status, fi_destroy
};

typedef struct level_arg { lt_version *v; int level; } level_arg;

static lt_iter *open_file(void *arg, lt_slice value) {
    level_arg *a = arg;
    if (value.size != 8) return lt_iter_empty(lt_seterr(LT_ECORRUPT, "level iterator: bad file index"));
    uint64_t i = lt_get_fixed64(value.data);
    lt_table *t;
    int rc = lt_vset_table(a->v->vs, a->v->files[a->level][i], &t);
    if (rc) return lt_iter_empty(rc);
    return lt_table_iter_fill(t, LT_SCAN_FILL_BLOCKS);
}

/* The opener argument must live as long as the two-level iterator; it is stored in
 * the files iterator's allocation. */
typedef struct files_iter_with_arg { files_iter fi; level_arg arg; } files_iter_with_arg;

lt_iter *lt_version_level_iter(lt_version *v, int level) {
    files_iter_with_arg *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->fi.base.v = &files_vtbl;
    f->fi.v = v;
    f->fi.level = level;
    f->fi.pos = v->nfiles[level];
    f->arg.v = v;
    f->arg.level = level;
    lt_version_ref(v);
    lt_iter *it = lt_iter_two_level(&f->fi.base, open_file, &f->arg);
    if (!it) { fi_destroy(&f->fi.base); return NULL; }
    return it;
}

static int push(lt_iter ***its, int *n, int *cap, lt_iter **fixed, lt_iter *it) {
    if (!it) return lt_seterr(LT_ENOMEM, "iterator: out of memory");
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        lt_iter **p = *its == fixed ? malloc((size_t)c * sizeof *p)
                                    : realloc(*its, (size_t)c * sizeof *p);
        if (!p) { lt_iter_destroy(it); return lt_seterr(LT_ENOMEM, "iterator: out of memory"); }
        if (*its == fixed && *n) memcpy(p, fixed, (size_t)*n * sizeof *p);
        *its = p;
        *cap = c;
    }
    (*its)[(*n)++] = it;
    return LT_OK;
}

int lt_version_iterators(lt_version *v, lt_iter ***its, int *n, int *cap, lt_iter **fixed) {
    int rc = LT_OK;
    for (int i = v->nfiles[0] - 1; i >= 0 && rc == LT_OK; i--) {
        lt_table *t;
        rc = lt_vset_table(v->vs, v->files[0][i], &t);
        if (rc == LT_OK)
            rc = push(its, n, cap, fixed, lt_table_iter_fill(t, LT_SCAN_FILL_BLOCKS));
    }
    for (int l = 1; l < LT_NUM_LEVELS && rc == LT_OK; l++)
        if (v->nfiles[l] > 0) rc = push(its, n, cap, fixed, lt_version_level_iter(v, l));
    return rc;
}

/* ---- overlap queries ---------------------------------------------------------------- */

lt_file_meta **lt_version_overlapping(lt_version *v, int level, const lt_slice *begin,
                                      const lt_slice *end, int *n) {
    lt_slice b = begin ? *begin : lt_slice_make("", 0), e = end ? *end : lt_slice_make("", 0);
    int has_b = begin != NULL, has_e = end != NULL;
    lt_file_meta **out = NULL;
    *n = 0;
    int cap = v->nfiles[level];
    if (cap == 0) return NULL;
    out = malloc((size_t)cap * sizeof *out);
    if (!out) return NULL;
restart:
    *n = 0;
    for (int i = 0; i < v->nfiles[level]; i++) {
        lt_file_meta *f = v->files[level][i];
        lt_slice fs = lt_ikey_user(fsmall(f)), fl = lt_ikey_user(flarge(f));
        if (has_b && lt_slice_cmp(fl, b) < 0) continue;
        if (has_e && lt_slice_cmp(fs, e) > 0) continue;
        out[(*n)++] = f;
        if (level == 0) {
            /* Level-0 files overlap each other: widen the range and start over. */
            if (has_b && lt_slice_cmp(fs, b) < 0) { b = fs; goto restart; }
            if (has_e && lt_slice_cmp(fl, e) > 0) { e = fl; goto restart; }
        }
    }
    if (*n == 0) { free(out); out = NULL; }
    return out;
}

int lt_version_is_base_level_for(lt_version *v, int level, lt_slice ukey) {
    for (int l = level + 1; l < LT_NUM_LEVELS; l++) {
        for (int i = 0; i < v->nfiles[l]; i++) {
            lt_file_meta *f = v->files[l][i];
            if (lt_slice_cmp(ukey, lt_ikey_user(flarge(f))) <= 0) {
                if (lt_slice_cmp(ukey, lt_ikey_user(fsmall(f))) >= 0) return 0;
                break;
            }
        }
    }
    return 1;
}
