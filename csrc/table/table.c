/* table.c: reading a sorted table file (layout in table.h, footer in format.h):
 * open (footer, index and filter blocks, pinned for the table's life), reading a
 * block (bounds check, CRC-32C, decompression, parse), the block cache in front of
 * data blocks, point lookups and the two-level iterator with readahead.
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
#include "../util/coding.h"
#include "../util/crc32c.h"
#include "../util/status.h"

#define DCTX_POOL 8
#define READAHEAD_BYTES (256u * 1024u)
#define MAX_BLOCK_BYTES (256u * 1024u * 1024u) /* sanity limit on a stored raw length */

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
    pthread_mutex_t dmu;              /* guards the decompression context pool */
    void *dctx[DCTX_POOL];
    int ndctx;
};

/* A data block as stored in the cache: the release of a block iterator gets only
 * the handle, so the value carries the cache it belongs to. */
typedef struct cached_block {
    lt_block *block;
    lt_cache *cache;
} cached_block;

/* Internal-key order; malformed (short) keys compare bytewise instead of being read
 * out of bounds. */
static int ikey_cmp(lt_slice a, lt_slice b) {
    if (a.size < 8 || b.size < 8) return lt_slice_cmp(a, b);
    return lt_ikey_cmp(a, b);
}

static void *take_dctx(lt_table *t) {
    void *d = NULL;
    pthread_mutex_lock(&t->dmu);
    if (t->ndctx > 0) d = t->dctx[--t->ndctx];
    pthread_mutex_unlock(&t->dmu);
    return d ? d : t->o.codec->create_dctx();
}

static void give_dctx(lt_table *t, void *d) {
    pthread_mutex_lock(&t->dmu);
    if (t->ndctx < DCTX_POOL) { t->dctx[t->ndctx++] = d; d = NULL; }
    pthread_mutex_unlock(&t->dmu);
    if (d) t->o.codec->free_dctx(d);
}

/* Read, verify and decompress the block at h. On success *out is a malloc'ed buffer
 * that starts with the block contents, *len bytes long. */
static int read_block(lt_table *t, const lt_block_handle *h, char **out, size_t *len) {
    uint64_t limit = t->size - LT_FOOTER_SIZE;
    unsigned long long off = (unsigned long long)h->offset;
    char *raw = NULL, *plain = NULL;
    size_t got = 0;
    int rc;
    *out = NULL;
    if (h->size > limit || h->offset > limit - h->size ||
        limit - h->size - h->offset < LT_BLOCK_TRAILER_SIZE || h->size > MAX_BLOCK_BYTES)
        return lt_seterr(LT_ECORRUPT, "%s: block handle (offset %llu, size %llu) out of range",
                         t->name, off, (unsigned long long)h->size);
    size_t n = (size_t)h->size;
    if (!(raw = malloc(n + LT_BLOCK_TRAILER_SIZE)))
        return lt_seterr(LT_ENOMEM, "%s: out of memory reading block at offset %llu", t->name, off);
    if ((rc = lt_rread(t->f, h->offset, n + LT_BLOCK_TRAILER_SIZE, raw, &got))) goto fail;
    if (got != n + LT_BLOCK_TRAILER_SIZE) {
        rc = lt_seterr(LT_ECORRUPT, "%s: truncated block at offset %llu", t->name, off);
        goto fail;
    }
    atomic_fetch_add_explicit(&t->bytes_read, got, memory_order_relaxed);
    uint32_t crc = lt_crc32c_extend(lt_crc32c(raw, n), raw + n, 1);
    if (lt_crc_unmask(lt_get_fixed32(raw + n + 1)) != crc) {
        rc = lt_seterr(LT_ECORRUPT, "%s: checksum mismatch in block at offset %llu", t->name, off);
        goto fail;
    }
    switch ((unsigned char)raw[n]) {
    case LT_COMPRESS_NONE:
        *out = raw;
        *len = n;
        return LT_OK;
    case LT_COMPRESS_ZSTD: {
        uint32_t ulen;
        const char *frame = lt_get_varint32(raw, raw + n, &ulen);
        if (!t->o.codec) {
            rc = lt_seterr(LT_EINVAL, "%s: block at offset %llu is compressed but no codec was given",
                           t->name, off);
            goto fail;
        }
        if (!frame || ulen > MAX_BLOCK_BYTES) {
            rc = lt_seterr(LT_ECORRUPT, "%s: bad uncompressed length in block at offset %llu", t->name, off);
            goto fail;
        }
        void *d = take_dctx(t);
        if (!d || !(plain = malloc(ulen ? ulen : 1))) {
            if (d) give_dctx(t, d);
            rc = lt_seterr(LT_ENOMEM, "%s: out of memory decompressing block at offset %llu", t->name, off);
            goto fail;
        }
        size_t r = t->o.codec->decompress(d, plain, ulen, frame, (size_t)(raw + n - frame));
        give_dctx(t, d);
        if (t->o.codec->is_error(r) || r != ulen) {
            rc = lt_seterr(LT_ECORRUPT, "%s: block at offset %llu does not decompress to %u bytes",
                           t->name, off, ulen);
            goto fail;
        }
        free(raw);
        *out = plain;
        *len = ulen;
        return LT_OK;
    }
    default:
        rc = lt_seterr(LT_ECORRUPT, "%s: unknown compression type %d in block at offset %llu",
                       t->name, (unsigned char)raw[n], off);
    }
fail:
    free(plain);
    free(raw);
    return rc;
}

static void cached_block_delete(void *v) {
    cached_block *cb = v;
    lt_block_free(cb->block);
    free(cb);
}

static void release_cached(void *h) {
    cached_block *cb = lt_cache_value(h);
    lt_cache_release(cb->cache, h);
}

static void release_uncached(void *b) { lt_block_free(b); }

/* The data block an index value points at: from the cache (*ch set) or read from
 * the file (*ch NULL when uncached: the caller frees *blk). `readahead` asks the env
 * to read ahead from the block when it has to be read from the file. */
static int get_block(lt_table *t, lt_slice hv, int readahead, lt_block **blk, lt_cache_handle **ch) {
    lt_block_handle h;
    char what[300];
    char *buf;
    size_t len;
    *ch = NULL;
    if (!lt_block_handle_decode(&hv, &h))
        return lt_seterr(LT_ECORRUPT, "%s: bad block handle in the index", t->name);
    if (t->cache && (*ch = lt_cache_lookup(t->cache, t->number, h.offset))) {
        *blk = ((cached_block *)lt_cache_value(*ch))->block;
        return LT_OK;
    }
    if (readahead) lt_rreadahead(t->f, h.offset, READAHEAD_BYTES);
    int rc = read_block(t, &h, &buf, &len);
    if (rc) return rc;
    atomic_fetch_add_explicit(&t->blocks_read, 1, memory_order_relaxed);
    snprintf(what, sizeof what, "%s: data block at offset %llu", t->name, (unsigned long long)h.offset);
    if ((rc = lt_block_new(buf, len, 1, what, blk))) return rc;
    if (!t->cache) return LT_OK;
    cached_block *cb = malloc(sizeof *cb);
    if (!cb) {
        lt_block_free(*blk);
        return lt_seterr(LT_ENOMEM, "%s: out of memory", t->name);
    }
    cb->block = *blk;
    cb->cache = t->cache;
    if (!(*ch = lt_cache_insert(t->cache, t->number, h.offset, cb, len, cached_block_delete)))
        return LT_ENOMEM;
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
    pthread_mutex_init(&t->dmu, NULL);
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
    if (lt_get_fixed64(footer + 48) != LT_TABLE_MAGIC) {
        rc = lt_seterr(LT_ECORRUPT, "%s: bad magic number (not a table file)", name);
        goto fail;
    }
    if (lt_get_fixed32(footer + 40) != LT_TABLE_FORMAT_VERSION) {
        rc = lt_seterr(LT_EVERSION, "%s: table format version %u is not supported (expected %d)",
                       name, lt_get_fixed32(footer + 40), LT_TABLE_FORMAT_VERSION);
        goto fail;
    }
    lt_slice hs = lt_slice_make(footer, 40);
    if (!lt_block_handle_decode(&hs, &fh) || !lt_block_handle_decode(&hs, &ih)) {
        rc = lt_seterr(LT_ECORRUPT, "%s: bad block handles in footer", name);
        goto fail;
    }
    if ((rc = read_block(t, &ih, &buf, &len))) goto fail;
    char what[300];
    snprintf(what, sizeof what, "%s: index block", name);
    if ((rc = lt_block_new(buf, len, 1, what, &t->index))) goto fail;
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
    for (int i = 0; i < t->ndctx; i++) t->o.codec->free_dctx(t->dctx[i]);
    pthread_mutex_destroy(&t->dmu);
    free(t->filter_buf);
    lt_block_free(t->index);
    lt_rclose(t->f);
    free(t->name);
    free(t);
}

int lt_table_get(lt_table *t, lt_slice ikey, void *arg,
                 void (*saver)(void *arg, lt_slice ikey, lt_slice value)) {
    lt_block_cursor c;
    lt_block *blk;
    lt_cache_handle *ch;
    if (ikey.size < 8) return lt_seterr(LT_EINVAL, "%s: lookup key of %zu bytes", t->name, ikey.size);
    if (t->filter.size && !lt_bloom_may_match(t->filter, lt_ikey_user(ikey))) return LT_OK;

    lt_block_cursor_init(&c, t->index, ikey_cmp);
    lt_block_cursor_seek(&c, ikey);
    int rc = c.status;
    lt_slice hv = c.value; /* points into the pinned index block */
    int found = lt_block_cursor_valid(&c);
    lt_block_cursor_done(&c);
    if (!found) return rc; /* past the last block: not in this table */

    if ((rc = get_block(t, hv, 0, &blk, &ch))) return rc;
    lt_block_cursor_init(&c, blk, ikey_cmp);
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
} iter_state;

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
    int rc = get_block(t, hv, readahead, &blk, &ch);
    if (rc) return lt_iter_empty(rc);
    lt_iter *it = ch ? lt_block_iter(blk, ikey_cmp, release_cached, ch)
                     : lt_block_iter(blk, ikey_cmp, release_uncached, blk);
    if (!it) {
        if (ch) lt_cache_release(t->cache, ch);
        else lt_block_free(blk);
    }
    return it;
}

lt_iter *lt_table_iter(lt_table *t) {
    iter_state *st = calloc(1, sizeof *st);
    if (!st) {
        lt_seterr(LT_ENOMEM, "%s: out of memory for an iterator", t->name);
        return NULL;
    }
    st->t = t;
    st->next_off = UINT64_MAX;
    lt_iter *index = lt_block_iter(t->index, ikey_cmp, free, st);
    if (!index) {
        free(st);
        return NULL;
    }
    return lt_iter_two_level(index, open_data_block, st);
}

uint64_t lt_table_blocks_read(const lt_table *t) {
    return atomic_load_explicit(&((lt_table *)t)->blocks_read, memory_order_relaxed);
}

uint64_t lt_table_bytes_read(const lt_table *t) {
    return atomic_load_explicit(&((lt_table *)t)->bytes_read, memory_order_relaxed);
}
