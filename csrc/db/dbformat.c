/* dbformat.c: building internal keys and naming the database's files (formats in
 * dbformat.h).
 *
 * File names, all inside the database directory, numbered from one shared counter
 * and zero-padded to six digits so that a directory listing sorts by age:
 *   <dir>/000012.ldt         sorted table
 *   <dir>/000013.log         write-ahead log of one memtable
 *   <dir>/MANIFEST-000005    log of version edits
 * Numbers wider than six digits are written in full. */
#include <stdio.h>
#include "dbformat.h"
#include "../util/status.h"

int lt_ikey_append(lt_buf *buf, lt_slice user_key, uint64_t seq, int type) {
    if (lt_buf_reserve(buf, user_key.size + 8) != LT_OK)
        return lt_seterr(LT_ENOMEM, "internal key: out of memory for a %zu-byte key",
                         user_key.size);
    char *p = buf->data + buf->size;
    if (user_key.size) memcpy(p, user_key.data, user_key.size);
    lt_put_fixed64(p + user_key.size, lt_pack_trailer(seq, type));
    buf->size += user_key.size + 8;
    return LT_OK;
}

int lt_seek_key(lt_slice user_key, uint64_t seq, char *stack, size_t cap, lt_buf *heap,
                lt_slice *out) {
    if (user_key.size + 8 <= cap) {
        if (user_key.size) memcpy(stack, user_key.data, user_key.size);
        lt_put_fixed64(stack + user_key.size, lt_pack_trailer(seq, LT_TYPE_FOR_SEEK));
        *out = lt_slice_make(stack, user_key.size + 8);
        return LT_OK;
    }
    int rc = lt_ikey_append(heap, user_key, seq, LT_TYPE_FOR_SEEK);
    *out = lt_slice_make(heap->data, heap->size);
    return rc;
}

void lt_table_file_name(char *out, size_t cap, const char *dir, uint64_t number) {
    snprintf(out, cap, "%s/%06llu.ldt", dir, (unsigned long long)number);
}

void lt_log_file_name(char *out, size_t cap, const char *dir, uint64_t number) {
    snprintf(out, cap, "%s/%06llu.log", dir, (unsigned long long)number);
}

void lt_manifest_file_name(char *out, size_t cap, const char *dir, uint64_t number) {
    snprintf(out, cap, "%s/MANIFEST-%06llu", dir, (unsigned long long)number);
}
