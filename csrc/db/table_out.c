/* table_out.c: one new table file for a version edit (contract in table_out.h). */
#include <stdio.h>
#include <string.h>
#include "table_out.h"
#include "../util/status.h"

static void remove_file(lt_table_out *o) {
    char name[4096];
    lt_table_file_name(name, sizeof name, o->dir, o->number);
    o->env->v->remove(o->env, name);
}

static void release(lt_table_out *o) {
    lt_buf_free(&o->smallest);
    lt_buf_free(&o->largest);
}

int lt_table_out_open(lt_table_out *o, lt_env *env, const char *dir,
                      const lt_table_options *topt, uint64_t number) {
    char name[4096];
    memset(o, 0, sizeof *o);
    o->env = env;
    o->dir = dir;
    o->number = number;
    lt_table_file_name(name, sizeof name, dir, number);
    int rc = env->v->new_writable(env, name, &o->f);
    if (rc) return rc;
    if (!(o->b = lt_table_builder_new(topt, o->f))) {
        lt_wclose(o->f);
        env->v->remove(env, name);
        return lt_seterr(LT_ENOMEM, "table %06llu: out of memory", (unsigned long long)number);
    }
    return LT_OK;
}

int lt_table_out_add(lt_table_out *o, lt_slice k, lt_slice v) {
    int oom = o->smallest.size == 0 && lt_buf_append(&o->smallest, k.data, k.size);
    o->largest.size = 0;
    if (oom || lt_buf_append(&o->largest, k.data, k.size))
        return lt_seterr(LT_ENOMEM, "table %06llu: out of memory", (unsigned long long)o->number);
    return lt_table_builder_add(o->b, k, v);
}

uint64_t lt_table_out_size(const lt_table_out *o) { return lt_table_builder_file_size(o->b); }

int lt_table_out_finish(lt_table_out *o, lt_version_edit *edit, int level, uint64_t *bytes) {
    uint64_t entries = lt_table_builder_entries(o->b);
    int rc = LT_OK;
    if (entries > 0) {
        rc = lt_table_builder_finish(o->b);
        if (rc == LT_OK) rc = lt_wsync(o->f);
    }
    uint64_t size = lt_table_builder_file_size(o->b);
    lt_table_builder_free(o->b);
    int crc = lt_wclose(o->f);
    if (rc == LT_OK) rc = crc;
    if (rc == LT_OK && entries > 0) {
        rc = lt_edit_add_file(edit, level, o->number, size,
                              lt_slice_make(o->smallest.data, o->smallest.size),
                              lt_slice_make(o->largest.data, o->largest.size));
        if (rc == LT_OK && bytes) *bytes += size;
    }
    if (rc != LT_OK || entries == 0) remove_file(o);
    release(o);
    return rc;
}

void lt_table_out_abandon(lt_table_out *o) {
    lt_table_builder_free(o->b);
    lt_wclose(o->f);
    remove_file(o);
    release(o);
}
