/* dbformat.h: internal keys, the unit every engine iterator orders.
 *
 *   internal key = user_key | trailer (8 bytes, little-endian)
 *   trailer      = sequence << 8 | type       (sequence < 2^56)
 *
 * Order: user key ascending (bytewise), then sequence descending, then type
 * descending, so the newest version of a key comes first. A deletion is a record of
 * type LT_TYPE_DELETION (a tombstone), never a special value. Stored type values never
 * change. */
#ifndef LT_DBFORMAT_H
#define LT_DBFORMAT_H

#include <stdint.h>
#include "../util/coding.h"
#include "../util/slice.h"

#define LT_TYPE_DELETION 0
#define LT_TYPE_VALUE    1
/* Seeking uses the highest type so a lookup key sorts before every entry of its seq. */
#define LT_TYPE_FOR_SEEK LT_TYPE_VALUE
#define LT_MAX_SEQ ((((uint64_t)1) << 56) - 1)

#define LT_NUM_LEVELS 7

static inline uint64_t lt_pack_trailer(uint64_t seq, int type) {
    return (seq << 8) | (uint64_t)type;
}
static inline lt_slice lt_ikey_user(lt_slice ikey) {
    return lt_slice_make(ikey.data, ikey.size - 8);
}
static inline uint64_t lt_ikey_trailer(lt_slice ikey) {
    return lt_get_fixed64(ikey.data + ikey.size - 8);
}
static inline uint64_t lt_ikey_seq(lt_slice ikey) { return lt_ikey_trailer(ikey) >> 8; }
static inline int lt_ikey_type(lt_slice ikey) { return (int)(lt_ikey_trailer(ikey) & 0xff); }
/* 1 if the internal key is well formed (long enough, known type). */
static inline int lt_ikey_valid(lt_slice ikey) {
    return ikey.size >= 8 && lt_ikey_type(ikey) <= LT_TYPE_VALUE;
}

/* Internal-key order (see above). REQUIRES: both at least 8 bytes. */
static inline int lt_ikey_cmp(lt_slice a, lt_slice b) {
    int r = lt_slice_cmp(lt_ikey_user(a), lt_ikey_user(b));
    if (r == 0) {
        uint64_t ta = lt_ikey_trailer(a), tb = lt_ikey_trailer(b);
        r = (ta < tb) - (ta > tb);
    }
    return r;
}

/* Append user_key|trailer to buf (LT_OK or LT_ENOMEM). */
int lt_ikey_append(lt_buf *buf, lt_slice user_key, uint64_t seq, int type);
/* The key that seeks to the newest version of `user_key` visible at `seq` (seek type;
 * LT_MAX_SEQ: the newest of all), in `stack` (cap bytes) when it fits, else in *heap
 * (which the caller frees; it must start empty). LT_OK or LT_ENOMEM (message set). */
int lt_seek_key(lt_slice user_key, uint64_t seq, char *stack, size_t cap, lt_buf *heap,
                lt_slice *out);

/* Table file names: "<dir>/<number:06>.ldt", logs "<dir>/<number:06>.log",
 * manifests "<dir>/MANIFEST-<number:06>". Writes into out (cap >= strlen(dir)+32). */
void lt_table_file_name(char *out, size_t cap, const char *dir, uint64_t number);
void lt_log_file_name(char *out, size_t cap, const char *dir, uint64_t number);
void lt_manifest_file_name(char *out, size_t cap, const char *dir, uint64_t number);

#endif
