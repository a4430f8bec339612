/* iterator.h: the one iterator interface. It serves memtables, blocks, tables, level
 * file lists and the merged view alike.
 *
 * Contract (as LevelDB's): an iterator is either positioned at an entry (valid) or not.
 * key/value/next/prev REQUIRE valid. seek(target) positions at the first entry whose
 * key >= target under the iterator's comparator (internal-key order for engine
 * iterators). The slices returned by key/value stay valid until the iterator moves
 * or is destroyed. status is LT_OK unless an error (e.g. LT_ECORRUPT) stopped the
 * iterator; an iterator with a bad status is not valid. Not thread-safe. */
#ifndef LT_ITERATOR_H
#define LT_ITERATOR_H

#include "slice.h"

typedef struct lt_iter lt_iter;

typedef struct lt_iter_vtbl {
    int      (*valid)(lt_iter *it);
    void     (*seek_first)(lt_iter *it);
    void     (*seek_last)(lt_iter *it);
    void     (*seek)(lt_iter *it, lt_slice target);
    void     (*next)(lt_iter *it);
    void     (*prev)(lt_iter *it);
    lt_slice (*key)(lt_iter *it);
    lt_slice (*value)(lt_iter *it);
    int      (*status)(lt_iter *it);
    void     (*destroy)(lt_iter *it);
} lt_iter_vtbl;

/* Concrete iterators embed this as their first member. */
struct lt_iter {
    const lt_iter_vtbl *v;
};

static inline int      lt_iter_valid(lt_iter *it) { return it->v->valid(it); }
static inline void     lt_iter_seek_first(lt_iter *it) { it->v->seek_first(it); }
static inline void     lt_iter_seek_last(lt_iter *it) { it->v->seek_last(it); }
static inline void     lt_iter_seek(lt_iter *it, lt_slice t) { it->v->seek(it, t); }
static inline void     lt_iter_next(lt_iter *it) { it->v->next(it); }
static inline void     lt_iter_prev(lt_iter *it) { it->v->prev(it); }
static inline lt_slice lt_iter_key(lt_iter *it) { return it->v->key(it); }
static inline lt_slice lt_iter_value(lt_iter *it) { return it->v->value(it); }
static inline int      lt_iter_status(lt_iter *it) { return it->v->status(it); }
static inline void     lt_iter_destroy(lt_iter *it) { if (it) it->v->destroy(it); }

/* An iterator over nothing, or that only reports `status` (NULL on ENOMEM). */
lt_iter *lt_iter_empty(int status);

/* Key comparison used by merging iterators: returns <0, 0, >0. */
typedef int (*lt_cmp_fn)(lt_slice a, lt_slice b);

/* Merge n children (taking ownership) into one ordered view; children may repeat keys
 * (all are yielded, lower child index first on ties). Supports both directions.
 * The array itself is copied. n == 0 gives lt_iter_empty(LT_OK); n == 1 returns
 * children[0]. Returns NULL (LT_ENOMEM) on allocation failure or if any child is
 * NULL; the children then stay the caller's to destroy. A child that stops with a bad
 * status makes the merged iterator not valid at once; status = first bad child's. */
lt_iter *lt_iter_merging(lt_cmp_fn cmp, lt_iter **children, int n);

/* Two-level iterator: `index` yields values that `open_block` turns into an iterator
 * over one block (e.g. a table's index -> data blocks, or a level's file list ->
 * tables). Takes ownership of `index` on success; on NULL (LT_ENOMEM, also when
 * index is NULL) the index stays the caller's. open_block returns NULL on ENOMEM, or
 * an lt_iter_empty(err) carrying its error. Empty blocks are skipped; the block of
 * the current index entry is not reopened while the index value is unchanged. The
 * first error of a block or its opener stops the iterator for good (not valid, status
 * = that error, later seeks do nothing); status reports an index error first. */
typedef lt_iter *(*lt_block_opener)(void *arg, lt_slice index_value);
lt_iter *lt_iter_two_level(lt_iter *index, lt_block_opener open_block, void *arg);
/* Have every seek of two-level iterator `it` first call fn(arg) (arg: the one given
 * to lt_iter_two_level), e.g. to start a new scan's per-scan budgets. */
void lt_iter_two_level_on_seek(lt_iter *it, void (*fn)(void *arg));

#endif
