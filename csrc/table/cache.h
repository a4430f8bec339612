/* cache.h: the block cache: decompressed blocks keyed by (file number, offset),
 * replaced by ARC (adaptive replacement: recency list T1, frequency list T2, ghost
 * lists B1/B2 of recently evicted keys steering the split), sharded by key hash with a
 * mutex per shard.
 *
 * Entries are reference counted: lt_cache_lookup/insert return a handle that pins the
 * block until lt_cache_release. Capacity counts the charge given at insert. An entry
 * evicted while pinned is freed when its last handle is released.
 * Thread-safety: all functions may be called concurrently. */
#ifndef LT_CACHE_H
#define LT_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lt_cache lt_cache;
typedef struct lt_cache_handle lt_cache_handle;

lt_cache *lt_cache_new(size_t capacity); /* NULL on ENOMEM */
void lt_cache_free(lt_cache *c);         /* REQUIRES: no handle outstanding */

/* Returns a pinned handle or NULL (miss). Counts a hit or a miss. */
lt_cache_handle *lt_cache_lookup(lt_cache *c, uint64_t file, uint64_t offset);
/* Insert `value` with `charge` bytes; `deleter(value)` runs when the entry is finally
 * dropped. If the key is present already, the new value replaces it. Returns a pinned
 * handle for the inserted entry, or NULL on ENOMEM (then deleter has been called). */
lt_cache_handle *lt_cache_insert(lt_cache *c, uint64_t file, uint64_t offset, void *value,
                                 size_t charge, void (*deleter)(void *value));
void *lt_cache_value(lt_cache_handle *h);
/* Release a handle; `c` may be NULL (a handle knows its entry). */
void  lt_cache_release(lt_cache *c, lt_cache_handle *h);
/* Drop every entry of a file (deleted tables). */
void  lt_cache_erase_file(lt_cache *c, uint64_t file);

typedef struct lt_cache_stats {
    uint64_t hits, misses, inserts, evictions;
    size_t usage, capacity;
} lt_cache_stats;
void lt_cache_get_stats(lt_cache *c, lt_cache_stats *s);

#endif
