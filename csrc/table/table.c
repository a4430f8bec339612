/* table.c: reading a sorted table file (layout in table.h, footer in format.h):
 * open (footer, index and filter blocks, pinned for the table's life), the block
 * cache in front of data blocks (key (file number, offset), charge = block size),
 * point lookups and the two-level iterator with readahead. Blocks are read and
 * verified by lt_read_block (format.c).
 *
 * Concurrency: after open a table is immutable except for atomic counters and the
 * mutex-protected pool of decompression contexts, so gets and iterators may run on
 * many threads at once. Per-lookup state lives on the stack (block cursors); per-
 * iterator state (readahead position) lives in the iterator. A cached point lookup
 * allocates nothing. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "block.h"
#include "bloom.h"
#include "format.h"
#include "../db/dbformat.h"
#include "../util/status.h"

#define READAHEAD_BYTES (256u * 1024u)

struct lt_table {
    lt_table_options o;
    lt_rfile *f;
    uint64_t number, size;
    lt_cache *cache;
    char *name;
    lt_block *index;
    char *filter_buf;
    lt_slice filter;                  /* size 0: no filter */
    atomic_uint_fast64_t blocks_read, bytes_read;
    lt_dctx_pool dctx;
};

/* Read block h of the table (see lt_read_block) and count it. */
static int read_block(lt_table *t, const lt_block_handle *h, char **out, size_t *len) {
    int rc = lt_read_block(t->f, t->name, t->size - LT_FOOTER_SIZE, &t->dctx, h, out, len);
    if (rc == LT_OK)
        atomic_fetch_add_explicit(&t->bytes_read, h->size + LT_BLOCK_TRAILER_SIZE,
                                  memory_order_relaxed);
    return rc;
}

/* A data block is stored in the cache as its lt_block (one pointer to follow on a
 * hit); a handle is released without its cache (cache.h). */
static void cached_block_delete(void *v) { lt_block_free(v); }

static void release_cached(void *h) { lt_cache_release(NULL, h); }

static void release_uncached(void *b) { lt_block_free(b); }

/* The data block an index value points at: from the cache (*ch set) or read from
 * the file (*ch NULL when uncached: the caller frees *blk). `readahead` asks the env
 * to read ahead from the block when it has to be read from the file. */
static int get_block(lt_table *t, lt_slice hv, int readahead, int fill, int *filled,
                     lt_block **blk, lt_cache_handle **ch) {
    lt_block_handle h;
    char what[300];
    char *buf;
    size_t len;
    *ch = NULL;
    if (!lt_block_handle_decode(&hv, &h))
        return lt_seterr(LT_ECORRUPT, "%s: bad block handle in the index", t->name);
    if (t->cache && (*ch = lt_cache_lookup(t->cache, t->number, h.offset))) {
        *blk = lt_cache_value(*ch);
        return LT_OK;
    }
    if (readahead) lt_rreadahead(t->f, h.offset, READAHEAD_BYTES);
    int rc = read_block(t, &h, &buf, &len);
    if (rc) return rc;
    atomic_fetch_add_explicit(&t->blocks_read, 1, memory_order_relaxed);
    snprintf(what, sizeof what, "%s: data block at offset %llu", t->name,
             (unsigned long long)h.offset);
    if ((rc = lt_block_new(buf, len, 1, what, blk))) return rc;
    if (!t->cache || !fill) return LT_OK;
    if (!(*ch = lt_cache_insert(t->cache, t->number, h.offset, *blk, len, cached_block_delete)))
        return LT_ENOMEM;                      /* (the deleter has freed the block) */
    if (filled) *filled = 1;
    return LT_OK;
}

int lt_table_open(const lt_table_options *o, lt_rfile *f, uint64_t file_number,
                  uint64_t file_size, lt_cache *cache, const char *name, lt_table **out) {
    char footer[LT_FOOTER_SIZE];
    lt_block_handle fh, ih;
    char *buf;
    size_t len, got;
    int rc;
    *out = NULL;
    lt_table *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        lt_rclose(f);
        return lt_seterr(LT_ENOMEM, "%s: out of memory opening table", name);
    }
    if (o) t->o = *o;
    t->f = f;
    t->number = file_number;
    t->size = file_size;
    t->cache = cache;
    lt_dctx_pool_init(&t->dctx, t->o.codec);
    if (file_size < LT_FOOTER_SIZE) {
        rc = lt_seterr(LT_ECORRUPT, "%s: file of %llu bytes is too short to be a table",
                       name, (unsigned long long)file_size);
        goto fail;
    }
    if ((rc = lt_rread(f, file_size - LT_FOOTER_SIZE, LT_FOOTER_SIZE, footer, &got))) goto fail;
    if (got != LT_FOOTER_SIZE) {
        rc = lt_seterr(LT_ECORRUPT, "%s: truncated footer", name);
        goto fail;
    }
    if ((rc = lt_footer_decode(footer, name, &fh, &ih))) goto fail;
    if ((rc = read_block(t, &ih, &buf, &len))) goto fail;
    char what[300];
    snprintf(what, sizeof what, "%s: index block", name);
    if ((rc = lt_block_new(buf, len, 1, what, &t->index))) goto fail;
    if ((rc = lt_block_build_fence(t->index))) goto fail;
    if (fh.size > 0) {
        if ((rc = read_block(t, &fh, &t->filter_buf, &len))) goto fail;
        t->filter = lt_slice_make(t->filter_buf, len);
    }
    *out = t;
    return LT_OK;
fail:
    lt_table_free(t);
    return rc;
}

void lt_table_free(lt_table *t) {
    if (!t) return;
    lt_dctx_pool_destroy(&t->dctx);
    free(t->filter_buf);
    lt_block_free(t->index);
    lt_rclose(t->f);
    free(t->name);
    free(t);
}

int lt_table_get(lt_table *t, lt_slice ikey, int use_filter, void *arg,
                 void (*saver)(void *arg, lt_slice ikey, lt_slice value)) {
    lt_block_cursor c;
    lt_block *blk;
    lt_cache_handle *ch;
    if (ikey.size < 8)
        return lt_seterr(LT_EINVAL, "%s: lookup key of %zu bytes", t->name, ikey.size);
    if (use_filter && t->filter.size && !lt_bloom_may_match(t->filter, lt_ikey_user(ikey)))
        return LT_OK;

    lt_block_cursor_init(&c, t->index, lt_block_ikey_cmp);
    lt_block_cursor_seek(&c, ikey);
    int rc = c.status;
    lt_slice hv = c.value; /* points into the pinned index block */
    int found = lt_block_cursor_valid(&c);
    lt_block_cursor_done(&c);
    if (!found) return rc; /* past the last block: not in this table */

    if ((rc = get_block(t, hv, 0, 1, NULL, &blk, &ch))) return rc;
    lt_block_cursor_init(&c, blk, lt_block_ikey_cmp);
    lt_block_cursor_seek(&c, ikey);
    rc = c.status;
    /* Running off the block's end is fine: the next block starts above the index
     * separator, which is >= ikey, with a different user key. */
    if (lt_block_cursor_valid(&c)) {
        if (c.key.size < 8)
            rc = lt_seterr(LT_ECORRUPT, "%s: malformed internal key in a data block", t->name);
        else
            saver(arg, c.key, c.value);
    }
    lt_block_cursor_done(&c);
    if (ch) lt_cache_release(t->cache, ch);
    else lt_block_free(blk);
    return rc;
}

/* Per-iterator state, owned by the index iterator (freed by its release hook). */
typedef struct iter_state {
    lt_table *t;
    uint64_t next_off;  /* where the block after the last one opened starts */
    uint64_t ra_end;    /* readahead has been asked up to here */
    int fill;           /* blocks this scan may still add to the cache (-1: any) */
    int fill_per_scan;  /* what every seek resets `fill` to */
} iter_state;

/* A seek starts a new scan (an iterator can serve many: db_iter.c reuses them). */
static void new_scan(void *arg) {
    iter_state *st = arg;
    st->fill = st->fill_per_scan;
    st->next_off = UINT64_MAX;
    st->ra_end = 0;
}

static lt_iter *open_data_block(void *arg, lt_slice hv) {
    iter_state *st = arg;
    lt_table *t = st->t;
    lt_block_handle h;
    lt_block *blk;
    lt_cache_handle *ch;
    int readahead = 0;
    lt_slice peek = hv;
    if (lt_block_handle_decode(&peek, &h)) {
        uint64_t end = h.offset + h.size + LT_BLOCK_TRAILER_SIZE;
        if (h.offset == st->next_off && end > st->ra_end) { /* moving forward, in order */
            readahead = 1;
            st->ra_end = h.offset + READAHEAD_BYTES;
        }
        st->next_off = end;
    }
    int filled = 0;
    int rc = get_block(t, hv, readahead, st->fill != 0, &filled, &blk, &ch);
    if (rc) return lt_iter_empty(rc);
    if (filled && st->fill > 0) st->fill--;
    lt_iter *it = ch ? lt_block_iter(blk, lt_block_ikey_cmp, release_cached, ch)
                     : lt_block_iter(blk, lt_block_ikey_cmp, release_uncached, blk);
    if (!it) {
        if (ch) lt_cache_release(t->cache, ch);
        else lt_block_free(blk);
    }
    return it;
}

lt_iter *lt_table_iter(lt_table *t) { return lt_table_iter_fill(t, -1); }

lt_iter *lt_table_iter_fill(lt_table *t, int fill_blocks) {
    iter_state *st = calloc(1, sizeof *st);
    if (!st) {
        lt_seterr(LT_ENOMEM, "%s: out of memory for an iterator", t->name);
        return NULL;
    }
    st->t = t;
    st->next_off = UINT64_MAX;
    st->fill = st->fill_per_scan = fill_blocks;
    lt_iter *index = lt_block_iter(t->index, lt_block_ikey_cmp, free, st);
    if (!index) {
        free(st);
        return NULL;
    }
    lt_iter *it = lt_iter_two_level(index, open_data_block, st);
    if (!it) lt_iter_destroy(index); /* still ours on failure; frees st via its hook */
    else lt_iter_two_level_on_seek(it, new_scan);
    return it;
}

uint64_t lt_table_blocks_read(const lt_table *t) {
    return atomic_load_explicit(&((lt_table *)t)->blocks_read, memory_order_relaxed);
}

uint64_t lt_table_bytes_read(const lt_table *t) {
    return atomic_load_explicit(&((lt_table *)t)->bytes_read, memory_order_relaxed);
}
