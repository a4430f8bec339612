/* memtable.h: the in-memory table of recent writes: an arena-backed skiplist of
 * entries ordered by internal key.
 *
 * Entry layout in the arena: varint32 ikey_len | internal key | varint32 vlen | value.
 *
 * Thread-safety: one writer at a time calls lt_memtable_add (the commit leader holds
 * the write token); any number of readers may call get and iterate concurrently
 * without locks (skiplist links are published with release stores and read with
 * acquire loads). Which entries a reader *uses* is decided by the sequence number it
 * reads at, so a batch applied partially is never seen partially.
 * Lifetime: reference counted; slices returned point into the arena and live as long
 * as the reference the caller holds. */
#ifndef LT_MEMTABLE_H
#define LT_MEMTABLE_H

#include <stdint.h>
#include "../util/iterator.h"
#include "../util/slice.h"

typedef struct lt_memtable lt_memtable;

lt_memtable *lt_memtable_new(void); /* refcount 1; NULL on ENOMEM */
void lt_memtable_ref(lt_memtable *m);
void lt_memtable_unref(lt_memtable *m);

/* Insert; returns LT_OK or LT_ENOMEM, or LT_EINVAL (nothing inserted) for an unknown
 * type, seq > LT_MAX_SEQ, or a (key, seq) already present.
 * REQUIRES: single writer; (key, seq) is new. */
int  lt_memtable_add(lt_memtable *m, uint64_t seq, int type, lt_slice key, lt_slice value);

/* Look up the newest version of `key` and, depending on it, insert a newer one, with
 * one search: `check(arg, rc, deleted, value)` is called with what lt_memtable_get(m,
 * key, LT_MAX_SEQ, ...) would report (value valid during the call only); unless it
 * returns LT_OK nothing is inserted and its code is returned; otherwise the entry is
 * inserted as lt_memtable_add does (same return values).
 * `check` NULL: exactly lt_memtable_add (which is this call).
 * REQUIRES: single writer; with a `check`, seq greater than the sequence of every
 * version of `key` already present, and `check` does not modify `m`. */
typedef int (*lt_memtable_check_fn)(void *arg, int rc, int deleted, lt_slice value);
int  lt_memtable_add_checked(lt_memtable *m, uint64_t seq, int type, lt_slice key,
                             lt_slice value, lt_memtable_check_fn check, void *arg);

/* Look up the newest version of `key` with sequence <= seq.
 * Returns LT_OK with *value set (type VALUE), LT_ENOTFOUND with *deleted = 1 if the
 * newest such version is a deletion, LT_ENOTFOUND with *deleted = 0 if no version. */
int  lt_memtable_get(lt_memtable *m, lt_slice key, uint64_t seq, lt_slice *value, int *deleted);

size_t lt_memtable_memory_usage(const lt_memtable *m);
uint64_t lt_memtable_count(const lt_memtable *m);

/* Iterator over internal keys (all versions). Holds a reference to the memtable. */
lt_iter *lt_memtable_iter(lt_memtable *m);

#endif
