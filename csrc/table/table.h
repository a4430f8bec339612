/* table.h: sorted table files (".ldt"): immutable, checksummed, compressed blocks.
 *
 * File layout:
 *   data block 0 | trailer | data block 1 | trailer | ... |
 *   filter block | trailer | index block | trailer | footer
 * Data blocks hold internal keys and values in order, cut when the uncompressed size
 * reaches block_size. The filter block is a bloom filter over the user keys of the
 * whole table (absent when bloom_bits_per_key is 0: handle size 0). The index block
 * has one entry per data block: key = a separator >= the block's last key and < the
 * next block's first key, value = the block handle. Each block is stored compressed
 * (LT_COMPRESS_ZSTD) when a codec is given and that saves at least 1/8 of its size,
 * else raw (LT_COMPRESS_NONE); the filter block is always raw. Index keys are stored
 * whole (restart interval 1), so an index seek is a pure bisection. Footer: see
 * format.h.
 *
 * Every block read is CRC-checked before use; a mismatch is LT_ECORRUPT naming the
 * file and offset, never wrong data. The index and filter blocks are read at open and
 * stay pinned in the lt_table; data blocks go through the block cache, keyed by
 * (file_number, block offset) with charge = the uncompressed block size. */
#ifndef LT_TABLE_H
#define LT_TABLE_H

#include <stdint.h>
#include "../env/env.h"
#include "../util/iterator.h"
#include "../util/slice.h"
#include "cache.h"

typedef struct lt_table_options {
    size_t block_size;          /* default 4096 */
    int restart_interval;       /* default 16 */
    int bloom_bits_per_key;     /* 0: no filter */
    const lt_codec *codec;      /* NULL: no compression */
} lt_table_options;

/* ---- building ---- */
typedef struct lt_table_builder lt_table_builder;

/* Writes to `f` (not owned). The options are copied. */
lt_table_builder *lt_table_builder_new(const lt_table_options *o, lt_wfile *f);
/* REQUIRES: ikey is greater (internal-key order) than every key added before;
 * otherwise LT_EINVAL (and the builder is failed). */
int  lt_table_builder_add(lt_table_builder *b, lt_slice ikey, lt_slice value);
/* Write the filter, index and footer. Does not sync or close the file. */
int  lt_table_builder_finish(lt_table_builder *b);
uint64_t lt_table_builder_entries(const lt_table_builder *b);
uint64_t lt_table_builder_file_size(const lt_table_builder *b); /* bytes so far */
void lt_table_builder_free(lt_table_builder *b);

/* ---- reading ---- */
typedef struct lt_table lt_table;

/* Open a table: takes ownership of `f` (closed on failure too). `name` is copied and
 * used in messages. `cache` may be NULL (no caching). `o->codec` must be given (and
 * outlive the table) if the file has compressed blocks. Errors, naming the file:
 * LT_ECORRUPT (too short, bad magic, bad footer, damaged index or filter block),
 * LT_EVERSION (format version not supported), LT_EINVAL (compressed blocks but no
 * codec), LT_ENOMEM, or the env's read error. Thread-safe after open. */
int  lt_table_open(const lt_table_options *o, lt_rfile *f, uint64_t file_number,
                   uint64_t file_size, lt_cache *cache, const char *name, lt_table **out);
void lt_table_free(lt_table *t);

/* Point lookup: if the filter admits user key of `ikey`, find the first entry with
 * internal key >= ikey and, if there is one in this table, call
 * saver(arg, found_ikey, found_value) once (slices valid only during the call).
 * The search stays within the data block the index selects: when ikey falls between
 * a block's last key and its index separator, saver is not called (the next entry
 * then has a user key different from ikey's, so callers that look for ikey's user
 * key lose nothing). Returns LT_OK (whether or not saver ran) or an error
 * (LT_ECORRUPT, LT_EIO, LT_ENOMEM; LT_EINVAL if ikey is shorter than 8 bytes).
 * Allocates nothing when the block is in the cache. With `use_filter` 0 the bloom
 * filter is not consulted (it only saves work for absent keys, and costs a cache
 * miss or two for present ones). */
int  lt_table_get(lt_table *t, lt_slice ikey, int use_filter, void *arg,
                  void (*saver)(void *arg, lt_slice ikey, lt_slice value));

/* Iterator over all entries in internal-key order. Reads ahead when moving
 * sequentially. The table must outlive the iterator. NULL on ENOMEM. */
lt_iter *lt_table_iter(lt_table *t);
/* The same, but the iterator adds at most `fill_blocks` blocks it reads from the file
 * to the block cache (0: none, -1: all); it always uses blocks already cached. Scans
 * and compactions use this so one pass over much data does not evict the blocks
 * that point reads keep hot. */
lt_iter *lt_table_iter_fill(lt_table *t, int fill_blocks);

/* Counters since open (atomic): data blocks read from the file (cache misses, or
 * every read without a cache), and bytes read from the file (all blocks, trailers
 * included, the index and filter read at open too). */
uint64_t lt_table_blocks_read(const lt_table *t);
uint64_t lt_table_bytes_read(const lt_table *t);

#endif
