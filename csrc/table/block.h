/* block.h: data and index blocks: sorted entries with prefix-compressed keys.
 *
 * Entry: varint32 shared | varint32 unshared | varint32 vlen | key[shared:] | value
 * Every `restart_interval` entries the key is stored whole (shared = 0) and the
 * entry's offset goes into the restart array, which ends the block:
 *   u32le restart[0..n) | u32le n
 * Readers binary-search the restart array, then scan forward.
 * Keys are ordered by the comparator given to the reader (internal keys for data
 * blocks and index blocks of tables). */
#ifndef LT_BLOCK_H
#define LT_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include "../util/iterator.h"
#include "../util/slice.h"

typedef struct lt_block_builder lt_block_builder;

lt_block_builder *lt_block_builder_new(int restart_interval);
/* REQUIRES: key > every key added since the last reset. */
int  lt_block_builder_add(lt_block_builder *b, lt_slice key, lt_slice value);
/* Finish the block; the returned slice lives until the next reset/free. Returns
 * {NULL, 0} on ENOMEM (message set). */
lt_slice lt_block_builder_finish(lt_block_builder *b);
void lt_block_builder_reset(lt_block_builder *b);
/* Size the block would have if finished now. */
size_t lt_block_builder_size_estimate(const lt_block_builder *b);
int  lt_block_builder_empty(const lt_block_builder *b);
lt_slice lt_block_builder_last_key(const lt_block_builder *b);
void lt_block_builder_free(lt_block_builder *b);

/* A parsed, immutable block. The contents are owned by the block (freed with it) when
 * `owned` is set, otherwise they must outlive it. */
typedef struct lt_block lt_block;

/* Validates the restart array; LT_ECORRUPT (message naming `what`) if malformed.
 * `what` (e.g. "000012.ldt: block at offset 4096") is copied and also names the block
 * in the messages of its iterators. With `owned`, the data is freed on failure too.
 * REQUIRES: data stays unmodified while the block lives. */
int  lt_block_new(const char *data, size_t size, int owned, const char *what, lt_block **out);
size_t lt_block_size(const lt_block *b);
/* For a block of internal keys that stays long in memory (a table's index block):
 * build a dense array of 8-byte windows of its restart keys so that seeks touch a
 * few cache lines instead of one key per bisection step. Seeks with the internal-key
 * comparator use it. Blocks with fewer than 16 restart points, or whose keys turn out
 * malformed, are left without one. LT_OK or LT_ENOMEM. Not thread-safe: call before
 * the block is shared. */
int  lt_block_build_fence(lt_block *b);
void lt_block_free(lt_block *b);

/* Iterator over a block; `release(arg)` is called when it is destroyed (e.g. to
 * release a cache handle), may be NULL. Malformed entries give status LT_ECORRUPT.
 * Returns NULL on ENOMEM, without calling release. The block must outlive it. */
lt_iter *lt_block_iter(const lt_block *b, lt_cmp_fn cmp, void (*release)(void *), void *arg);

/* A cursor: the state of a block iterator without the iterator object, so that a
 * point lookup can keep it on the stack (no allocation while keys fit in `small`).
 * Same semantics as the iterator: `cur == end` means not valid; `status` is LT_OK,
 * LT_ECORRUPT (malformed entry) or LT_ENOMEM (a key outgrew `small`). After
 * lt_block_cursor_done the cursor must be initialised again before reuse.
 * The key slice points into the block or into the cursor; the value into the block.
 * The cursor must not be copied or moved after init (kbuf may point into `small`). */
typedef struct lt_block_cursor {
    const lt_block *block;
    const char *data;      /* block contents */
    uint32_t end;          /* offset of the restart array = end of entries */
    uint32_t nrestarts;
    lt_cmp_fn cmp;
    uint32_t cur;          /* offset of the current entry (end: not valid) */
    uint32_t next;         /* offset just past the current entry */
    int status;
    lt_slice key, value;
    char *kbuf;            /* where keys with a shared prefix are assembled */
    size_t kcap;
    char small[128];
} lt_block_cursor;

void lt_block_cursor_init(lt_block_cursor *c, const lt_block *b, lt_cmp_fn cmp);
void lt_block_cursor_done(lt_block_cursor *c); /* frees a grown key buffer */
static inline int lt_block_cursor_valid(const lt_block_cursor *c) { return c->cur < c->end; }
void lt_block_cursor_seek_first(lt_block_cursor *c);
void lt_block_cursor_seek_last(lt_block_cursor *c);
void lt_block_cursor_seek(lt_block_cursor *c, lt_slice target);
void lt_block_cursor_next(lt_block_cursor *c);  /* REQUIRES: valid */
void lt_block_cursor_prev(lt_block_cursor *c);  /* REQUIRES: valid */

/* Internal-key order (db/dbformat.h), safe on malformed keys shorter than 8 bytes
 * (they compare bytewise). Cursors and iterators given this comparator inline it. */
int lt_block_ikey_cmp(lt_slice a, lt_slice b);

#endif
