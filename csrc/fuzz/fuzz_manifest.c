/* fuzz_manifest.c: manifest recovery (lt_vset_recover: the record log of version
 * edits, lt_edit_decode, applying edits to versions) on arbitrary bytes, as given and
 * with every log fragment's CRC recomputed.
 *
 * Promises checked, besides memory safety and no leaks: recovery fails with an error
 * code and a message, or yields levels >= 1 sorted and disjoint; and the recovered
 * state survives lt_vset_new_manifest (the snapshot written at every open): recovering
 * that snapshot gives the same files, keys, log number and last sequence. The version
 * queries compaction uses run over the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../db/dbformat.h"
#include "../db/version_set.h"
#include "../util/status.h"

#define DIR "/fuzzdb"

static lt_slice fsmall(const lt_file_meta *f) { return lt_slice_make(f->smallest.data, f->smallest.size); }
static lt_slice flarge(const lt_file_meta *f) { return lt_slice_make(f->largest.data, f->largest.size); }

static lt_vset *recover(int *rc) {
    lt_vset_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.env = fuzz_env();
    cfg.dir = DIR;
    cfg.level1_size = 10u << 20;
    cfg.l0_compaction_trigger = 4;
    lt_vset *vs = NULL;
    if (lt_vset_new(&cfg, &vs)) fuzz_fail("lt_vset_new: %s", lt_errmsg());
    *rc = lt_vset_recover(vs);
    if (*rc && !lt_errmsg()[0]) fuzz_fail("recovery failed (%d) without a message", *rc);
    return vs;
}

static void queries(lt_vset *vs) {
    lt_version *v = vs->current;
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        (void)lt_version_level_bytes(v, l);
        for (int i = 0; i < v->nfiles[l]; i++) {
            lt_file_meta *f = v->files[l][i];
            if (l > 0 && i > 0 && lt_ikey_cmp(flarge(v->files[l][i - 1]), fsmall(f)) >= 0)
                fuzz_fail("level %d: files %d and %d overlap", l, i - 1, i);
            lt_slice b = lt_ikey_user(fsmall(f)), e = lt_ikey_user(flarge(f));
            int n = 0;
            lt_file_meta **o = lt_version_overlapping(v, l, &b, &e, &n);
            if (n < 1 && lt_slice_cmp(b, e) <= 0)
                fuzz_fail("level %d: file %d does not overlap its own range", l, i);
            free(o);
            (void)lt_version_is_base_level_for(v, l, b);
        }
        int n = 0;
        free(lt_version_overlapping(v, l, NULL, NULL, &n));
        if (n != v->nfiles[l]) fuzz_fail("level %d: an unbounded range misses files", l);
    }
    uint64_t *nums = NULL;
    size_t nn = 0, cap = 0;
    if (lt_vset_live_files(vs, &nums, &nn, &cap)) fuzz_fail("live files: %s", lt_errmsg());
    free(nums);
}

static void same_state(lt_vset *a, lt_vset *b) {
    if (a->log_number != b->log_number || atomic_load(&a->last_seq) != atomic_load(&b->last_seq))
        fuzz_fail("counters differ after the snapshot");
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        lt_version *x = a->current, *y = b->current;
        if (x->nfiles[l] != y->nfiles[l]) fuzz_fail("level %d: file counts differ", l);
        for (int i = 0; i < x->nfiles[l]; i++) {
            lt_file_meta *f = x->files[l][i], *g = y->files[l][i];
            if (f->number != g->number || f->size != g->size ||
                !lt_slice_eq(fsmall(f), fsmall(g)) || !lt_slice_eq(flarge(f), flarge(g)))
                fuzz_fail("level %d: file %d differs after the snapshot", l, i);
        }
    }
}

static void check(const uint8_t *data, size_t n) {
    static const char current[] = "MANIFEST-000001\n";
    fuzz_write_file(DIR "/CURRENT", current, sizeof current - 1);
    fuzz_write_file(DIR "/MANIFEST-000001", data, n);
    int rc;
    lt_vset *vs = recover(&rc);
    if (rc == LT_OK) {
        queries(vs);
        if (lt_vset_new_manifest(vs)) fuzz_fail("writing a snapshot: %s", lt_errmsg());
        lt_vset *again = recover(&rc);
        if (rc) fuzz_fail("the snapshot does not recover: %s", lt_errmsg());
        same_state(vs, again);
        lt_vset_free(again);
        char name[256];
        lt_manifest_file_name(name, sizeof name, DIR, vs->manifest_number);
        lt_env *env = fuzz_env();
        env->v->remove(env, name);
    }
    lt_vset_free(vs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_check_log_input(data, size, check);
    return 0;
}
