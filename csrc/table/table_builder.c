/* table_builder.c: writing one sorted table file (".ldt", layout in table.h) from
 * internal keys added in order.
 *
 * Data blocks are cut once their uncompressed size reaches block_size. The index
 * entry of a block is written when the next block's first key is known, so its key
 * can be a short separator: the shortest user key s with last_user <= s < next_user
 * (the first differing byte of the last user key, incremented, when that stays below
 * the next user key), with the trailer (LT_MAX_SEQ, LT_TYPE_FOR_SEEK), which sorts
 * before every real entry of user key s; otherwise the block's last key itself. The
 * last block's entry uses a short successor of its last user key the same way.
 * Blocks are compressed with the codec when the result (varint32 raw length | frame)
 * is at most 7/8 of the raw size; after 8 data blocks in a row that do not compress,
 * only one block in 16 is tried until one compresses again. The bloom filter is built at finish from the
 * lt_bloom_hash of each distinct user key, collected while adding.
 *
 * Errors are sticky: after a failed add or write every later call returns the same
 * code. Not thread-safe. */
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

struct lt_table_builder {
    lt_table_options o;
    lt_wfile *f;
    uint64_t offset;            /* bytes written to the file */
    uint64_t entries;
    lt_block_builder *data, *index;
    lt_buf last_key;            /* the last internal key added */
    int pending;                /* the last written data block awaits its index entry */
    lt_block_handle pending_h;
    unsigned *hashes;           /* bloom hashes of distinct user keys */
    size_t nhash, hcap;
    void *cctx;
    lt_buf cbuf;                /* compressed block */
    unsigned misses;            /* consecutive data blocks that did not compress */
    unsigned skipped;           /* blocks stored raw untried since the last attempt */
    lt_buf sep;                 /* index key being built */
    int status;
    int finished;
};

lt_table_builder *lt_table_builder_new(const lt_table_options *o, lt_wfile *f) {
    lt_table_builder *b = calloc(1, sizeof *b);
    if (!b) goto nomem;
    if (o) b->o = *o;
    if (b->o.block_size == 0) b->o.block_size = 4096;
    if (b->o.restart_interval <= 0) b->o.restart_interval = 16;
    if (b->o.bloom_bits_per_key < 0) b->o.bloom_bits_per_key = 0;
    b->f = f;
    b->data = lt_block_builder_new(b->o.restart_interval);
    b->index = lt_block_builder_new(1); /* whole keys: index seeks are pure bisection */
    if (!b->data || !b->index) goto nomem;
    if (b->o.codec && !(b->cctx = b->o.codec->create_cctx())) goto nomem;
    return b;
nomem:
    lt_table_builder_free(b);
    lt_seterr(LT_ENOMEM, "table builder: out of memory");
    return NULL;
}

void lt_table_builder_free(lt_table_builder *b) {
    if (!b) return;
    if (b->cctx) b->o.codec->free_cctx(b->cctx);
    lt_buf_free(&b->sep);
    lt_buf_free(&b->cbuf);
    free(b->hashes);
    lt_buf_free(&b->last_key);
    lt_block_builder_free(b->index);
    lt_block_builder_free(b->data);
    free(b);
}

uint64_t lt_table_builder_entries(const lt_table_builder *b) { return b->entries; }
uint64_t lt_table_builder_file_size(const lt_table_builder *b) { return b->offset; }

static int fail(lt_table_builder *b, int rc) {
    if (b->status == LT_OK) b->status = rc;
    return rc;
}

/* Write raw contents as one block (compressed if worthwhile) and set *h. */
static int write_block(lt_table_builder *b, lt_slice raw, int compressible, lt_block_handle *h) {
    lt_slice body = raw;
    char trailer[LT_BLOCK_TRAILER_SIZE];
    trailer[0] = LT_COMPRESS_NONE;
    /* Incompressible data (random or already compressed values) would cost a zstd
     * pass per block for nothing: after 8 misses in a row, try one block in 16 until
     * one compresses again. */
    if (compressible && b->misses >= 8 && ++b->skipped < 16) compressible = 0;
    if (compressible && b->o.codec && raw.size > 0) {
        b->skipped = 0;
        const lt_codec *c = b->o.codec;
        size_t bound = c->compress_bound(raw.size);
        lt_buf_clear(&b->cbuf);
        if (lt_buf_reserve(&b->cbuf, LT_MAX_VARINT32 + bound) != LT_OK)
            return fail(b, lt_seterr(LT_ENOMEM, "table builder: out of memory compressing"));
        char *frame = lt_put_varint32(b->cbuf.data, (uint32_t)raw.size);
        size_t hdr = (size_t)(frame - b->cbuf.data);
        size_t r = c->compress(b->cctx, frame, bound, raw.data, raw.size, c->level);
        if (!c->is_error(r) && r <= bound && (uint64_t)(hdr + r) * 8 <= (uint64_t)raw.size * 7) {
            body = lt_slice_make(b->cbuf.data, hdr + r);
            trailer[0] = LT_COMPRESS_ZSTD;
            b->misses = 0;
        } else {
            b->misses++;
        }
    }
    uint32_t crc = lt_crc32c_extend(lt_crc32c(body.data, body.size), trailer, 1);
    lt_put_fixed32(trailer + 1, lt_crc_mask(crc));
    int rc = lt_wappend(b->f, body.data, body.size);
    if (rc == LT_OK) rc = lt_wappend(b->f, trailer, sizeof trailer);
    if (rc) return fail(b, rc);
    h->offset = b->offset;
    h->size = body.size;
    b->offset += body.size + LT_BLOCK_TRAILER_SIZE;
    return LT_OK;
}

static int flush_data(lt_table_builder *b) {
    if (lt_block_builder_empty(b->data)) return LT_OK;
    lt_slice raw = lt_block_builder_finish(b->data);
    if (!raw.data) return fail(b, LT_ENOMEM);
    int rc = write_block(b, raw, 1, &b->pending_h);
    if (rc) return rc;
    lt_block_builder_reset(b->data);
    b->pending = 1;
    return LT_OK;
}

/* b->sep = user key s (+ max trailer) with user(a) < s < user(next), if one shorter
 * exists by incrementing a byte; with next == NULL any s > user(a) will do.
 * Otherwise b->sep = a. */
static int make_separator(lt_table_builder *b, lt_slice a, const lt_slice *next) {
    lt_slice ua = lt_ikey_user(a);
    size_t i = 0, n = ua.size;
    lt_buf_clear(&b->sep);
    if (next) {
        lt_slice ub = lt_ikey_user(*next);
        if (ub.size < n) n = ub.size;
        while (i < n && ua.data[i] == ub.data[i]) i++;
        if (i < n) {
            unsigned char c = (unsigned char)ua.data[i];
            if (c < 0xff && c + 1 < (unsigned char)ub.data[i])
                goto shorten;
        }
    } else {
        while (i < n && (unsigned char)ua.data[i] == 0xff) i++;
        if (i < n) goto shorten;
    }
    return lt_buf_append(&b->sep, a.data, a.size);
shorten:
    if (lt_buf_append(&b->sep, ua.data, i + 1) != LT_OK) return LT_ENOMEM;
    b->sep.data[i] = (char)((unsigned char)ua.data[i] + 1);
    return lt_buf_append_fixed64(&b->sep, lt_pack_trailer(LT_MAX_SEQ, LT_TYPE_FOR_SEEK));
}

static int add_index_entry(lt_table_builder *b, const lt_slice *next) {
    char hv[LT_MAX_BLOCK_HANDLE];
    int n = lt_block_handle_encode(&b->pending_h, hv);
    lt_slice last = lt_slice_make(b->last_key.data, b->last_key.size);
    if (make_separator(b, last, next) != LT_OK)
        return fail(b, lt_seterr(LT_ENOMEM, "table builder: out of memory"));
    int rc = lt_block_builder_add(b->index, lt_slice_make(b->sep.data, b->sep.size),
                                  lt_slice_make(hv, (size_t)n));
    if (rc) return fail(b, rc);
    b->pending = 0;
    return LT_OK;
}

int lt_table_builder_add(lt_table_builder *b, lt_slice ikey, lt_slice value) {
    int rc;
    if (b->status) return b->status;
    if (b->finished) return lt_seterr(LT_EINVAL, "table builder: add after finish");
    lt_slice last = lt_slice_make(b->last_key.data, b->last_key.size);
    if (ikey.size < 8)
        return lt_seterr(LT_EINVAL, "table builder: internal key of %zu bytes", ikey.size);
    if (b->entries && lt_block_ikey_cmp(ikey, last) <= 0)
        return fail(b, lt_seterr(LT_EINVAL, "table builder: keys added out of order"));
    if (b->pending && (rc = add_index_entry(b, &ikey))) return rc;
    if (b->o.bloom_bits_per_key > 0) {
        lt_slice u = lt_ikey_user(ikey);
        if (b->entries == 0 || !lt_slice_eq(u, lt_ikey_user(last))) {
            if (b->nhash == b->hcap) {
                size_t ncap = b->hcap ? 2 * b->hcap : 1024;
                unsigned *h = realloc(b->hashes, ncap * sizeof *h);
                if (!h) return fail(b, lt_seterr(LT_ENOMEM, "table builder: out of memory"));
                b->hashes = h;
                b->hcap = ncap;
            }
            b->hashes[b->nhash++] = lt_bloom_hash(u);
        }
    }
    lt_buf_clear(&b->last_key);
    if (lt_buf_append(&b->last_key, ikey.data, ikey.size) != LT_OK)
        return fail(b, lt_seterr(LT_ENOMEM, "table builder: out of memory"));
    if ((rc = lt_block_builder_add(b->data, ikey, value))) return fail(b, rc);
    b->entries++;
    if (lt_block_builder_size_estimate(b->data) >= b->o.block_size) return flush_data(b);
    return LT_OK;
}

int lt_table_builder_finish(lt_table_builder *b) {
    lt_block_handle filter_h = { 0, 0 }, index_h;
    lt_buf fbuf = { NULL, 0, 0 };
    int rc;
    if (b->status) return b->status;
    if (b->finished) return lt_seterr(LT_EINVAL, "table builder: finished twice");
    b->finished = 1;
    if ((rc = flush_data(b))) return rc;
    if (b->o.bloom_bits_per_key > 0) {
        rc = lt_bloom_build_hashes(b->hashes, b->nhash, b->o.bloom_bits_per_key, &fbuf);
        if (rc == LT_OK) rc = write_block(b, lt_slice_make(fbuf.data, fbuf.size), 0, &filter_h);
        lt_buf_free(&fbuf);
        if (rc) return fail(b, rc);
    }
    if (b->pending && (rc = add_index_entry(b, NULL))) return rc;
    lt_slice idx = lt_block_builder_finish(b->index);
    if (!idx.data) return fail(b, LT_ENOMEM);
    if ((rc = write_block(b, idx, 1, &index_h))) return rc;

    char footer[LT_FOOTER_SIZE];
    lt_footer_encode(footer, &filter_h, &index_h);
    if ((rc = lt_wappend(b->f, footer, sizeof footer))) return fail(b, rc);
    b->offset += sizeof footer;
    return LT_OK;
}
