/* version_edit.c: file metadata and version edits, and their manifest encoding
 * (record layout in version_set.h). */
#include <stdlib.h>
#include "version_set.h"
#include "../util/coding.h"
#include "../util/status.h"

#define FORMAT_NAME "lightning.bytewise.1"

enum {
    TAG_LOG_NUMBER = 1,
    TAG_NEXT_FILE = 2,
    TAG_LAST_SEQ = 3,
    TAG_COMPACT_POINTER = 4,
    TAG_DELETED_FILE = 5,
    TAG_NEW_FILE = 6,
    TAG_FORMAT = 9
};

lt_file_meta *lt_file_meta_new(uint64_t number, uint64_t size, lt_slice smallest,
                               lt_slice largest) {
    lt_file_meta *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    if (lt_buf_append(&f->smallest, smallest.data, smallest.size) ||
        lt_buf_append(&f->largest, largest.data, largest.size)) {
        lt_buf_free(&f->smallest);
        lt_buf_free(&f->largest);
        free(f);
        return NULL;
    }
    atomic_init(&f->refs, 1);
    f->number = number;
    f->size = size;
    atomic_init(&f->table, NULL);
    return f;
}

void lt_file_meta_ref(lt_file_meta *f) { atomic_fetch_add(&f->refs, 1); }

void lt_file_meta_unref(lt_file_meta *f) {
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1) return;
    lt_table *t = atomic_load(&f->table);
    if (t) lt_table_free(t);
    lt_buf_free(&f->smallest);
    lt_buf_free(&f->largest);
    free(f);
}

void lt_edit_init(lt_version_edit *e) { memset(e, 0, sizeof *e); }

void lt_edit_free(lt_version_edit *e) {
    for (int i = 0; i < e->nadded; i++) lt_file_meta_unref(e->added[i].f);
    free(e->added);
    free(e->deleted);
    for (int l = 0; l < LT_NUM_LEVELS; l++) lt_buf_free(&e->cp[l]);
    memset(e, 0, sizeof *e);
}

int lt_edit_add_file(lt_version_edit *e, int level, uint64_t number, uint64_t size,
                     lt_slice smallest, lt_slice largest) {
    if (e->nadded == e->capadded) {
        int cap = e->capadded ? e->capadded * 2 : 8;
        lt_new_file *a = realloc(e->added, (size_t)cap * sizeof *a);
        if (!a) return lt_seterr(LT_ENOMEM, "version edit: out of memory");
        e->added = a;
        e->capadded = cap;
    }
    lt_file_meta *f = lt_file_meta_new(number, size, smallest, largest);
    if (!f) return lt_seterr(LT_ENOMEM, "version edit: out of memory");
    e->added[e->nadded].level = level;
    e->added[e->nadded].f = f;
    e->nadded++;
    return LT_OK;
}

int lt_edit_delete_file(lt_version_edit *e, int level, uint64_t number) {
    if (e->ndeleted == e->capdeleted) {
        int cap = e->capdeleted ? e->capdeleted * 2 : 8;
        lt_del_file *d = realloc(e->deleted, (size_t)cap * sizeof *d);
        if (!d) return lt_seterr(LT_ENOMEM, "version edit: out of memory");
        e->deleted = d;
        e->capdeleted = cap;
    }
    e->deleted[e->ndeleted].level = level;
    e->deleted[e->ndeleted].number = number;
    e->ndeleted++;
    return LT_OK;
}

int lt_edit_set_compact_pointer(lt_version_edit *e, int level, lt_slice ikey) {
    e->cp[level].size = 0;
    if (lt_buf_append(&e->cp[level], ikey.data, ikey.size))
        return lt_seterr(LT_ENOMEM, "version edit: out of memory");
    e->has_cp[level] = 1;
    return LT_OK;
}

int lt_edit_encode(const lt_version_edit *e, lt_buf *out) {
    int rc = 0;
    rc |= lt_buf_append_varint32(out, TAG_FORMAT);
    rc |= lt_buf_append_lenprefixed(out, FORMAT_NAME, strlen(FORMAT_NAME));
    if (e->has_log_number) {
        rc |= lt_buf_append_varint32(out, TAG_LOG_NUMBER);
        rc |= lt_buf_append_varint64(out, e->log_number);
    }
    if (e->has_next_file) {
        rc |= lt_buf_append_varint32(out, TAG_NEXT_FILE);
        rc |= lt_buf_append_varint64(out, e->next_file);
    }
    if (e->has_last_seq) {
        rc |= lt_buf_append_varint32(out, TAG_LAST_SEQ);
        rc |= lt_buf_append_varint64(out, e->last_seq);
    }
    for (int l = 0; l < LT_NUM_LEVELS; l++) {
        if (!e->has_cp[l]) continue;
        rc |= lt_buf_append_varint32(out, TAG_COMPACT_POINTER);
        rc |= lt_buf_append_varint32(out, (uint32_t)l);
        rc |= lt_buf_append_lenprefixed(out, e->cp[l].data, e->cp[l].size);
    }
    for (int i = 0; i < e->ndeleted; i++) {
        rc |= lt_buf_append_varint32(out, TAG_DELETED_FILE);
        rc |= lt_buf_append_varint32(out, (uint32_t)e->deleted[i].level);
        rc |= lt_buf_append_varint64(out, e->deleted[i].number);
    }
    for (int i = 0; i < e->nadded; i++) {
        const lt_file_meta *f = e->added[i].f;
        rc |= lt_buf_append_varint32(out, TAG_NEW_FILE);
        rc |= lt_buf_append_varint32(out, (uint32_t)e->added[i].level);
        rc |= lt_buf_append_varint64(out, f->number);
        rc |= lt_buf_append_varint64(out, f->size);
        rc |= lt_buf_append_lenprefixed(out, f->smallest.data, f->smallest.size);
        rc |= lt_buf_append_lenprefixed(out, f->largest.data, f->largest.size);
    }
    return rc ? lt_seterr(LT_ENOMEM, "version edit: out of memory") : LT_OK;
}

static int get_level(lt_slice *in, int *level) {
    uint32_t l;
    if (!lt_slice_get_varint32(in, &l) || l >= LT_NUM_LEVELS) return 0;
    *level = (int)l;
    return 1;
}

int lt_edit_decode(lt_version_edit *e, lt_slice in, const char *name) {
    const char *what = NULL;
    int rc;
    size_t start = in.size;
    while (in.size > 0) {
        uint32_t tag;
        int level;
        uint64_t a, b;
        lt_slice s1, s2;
        if (!lt_slice_get_varint32(&in, &tag)) { what = "tag"; goto bad; }
        switch (tag) {
        case TAG_FORMAT:
            if (!lt_slice_get_lenprefixed(&in, &s1)) { what = "format name"; goto bad; }
            if (!lt_slice_eq(s1, lt_slice_make(FORMAT_NAME, strlen(FORMAT_NAME))))
                return lt_seterr(LT_EVERSION, "%s: written by an unsupported format (%.*s)",
                                 name, (int)(s1.size > 64 ? 64 : s1.size), s1.data);
            break;
        case TAG_LOG_NUMBER:
            if (!lt_slice_get_varint64(&in, &e->log_number)) { what = "log number"; goto bad; }
            e->has_log_number = 1;
            break;
        case TAG_NEXT_FILE:
            if (!lt_slice_get_varint64(&in, &e->next_file)) { what = "next file"; goto bad; }
            e->has_next_file = 1;
            break;
        case TAG_LAST_SEQ:
            if (!lt_slice_get_varint64(&in, &e->last_seq)) { what = "last sequence"; goto bad; }
            e->has_last_seq = 1;
            break;
        case TAG_COMPACT_POINTER:
            if (!get_level(&in, &level) || !lt_slice_get_lenprefixed(&in, &s1) ||
                s1.size < 8) { what = "compact pointer"; goto bad; }
            if ((rc = lt_edit_set_compact_pointer(e, level, s1))) return rc;
            break;
        case TAG_DELETED_FILE:
            if (!get_level(&in, &level) || !lt_slice_get_varint64(&in, &a)) {
                what = "deleted file"; goto bad;
            }
            if ((rc = lt_edit_delete_file(e, level, a))) return rc;
            break;
        case TAG_NEW_FILE:
            if (!get_level(&in, &level) || !lt_slice_get_varint64(&in, &a) ||
                !lt_slice_get_varint64(&in, &b) || !lt_slice_get_lenprefixed(&in, &s1) ||
                !lt_slice_get_lenprefixed(&in, &s2) || s1.size < 8 || s2.size < 8) {
                what = "new file"; goto bad;
            }
            if ((rc = lt_edit_add_file(e, level, a, b, s1, s2))) return rc;
            break;
        default:
            what = "unknown tag";
            goto bad;
        }
    }
    return LT_OK;
bad:
    return lt_seterr(LT_ECORRUPT, "%s: malformed version edit (%s at byte %zu of the record)",
                     name, what, start - in.size);
}
