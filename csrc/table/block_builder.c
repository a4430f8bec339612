/* block_builder.c: building one block of sorted, prefix-compressed entries.
 *
 * Writes the format of block.h:
 *   entry*  = varint32 shared | varint32 unshared | varint32 vlen | key[shared:] | value
 *   trailer = u32le restart[0..n) | u32le n
 * Every `restart_interval`-th entry (counting from the first) is a restart point: its
 * key is stored whole (shared = 0) and its offset is appended to the restart array.
 * An empty block is just the 4-byte count 0. All offsets fit in 32 bits; a block that
 * would grow past that is refused with LT_EINVAL.
 *
 * Not thread-safe: one builder belongs to one table builder. */
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "../util/coding.h"
#include "../util/status.h"

struct lt_block_builder {
    lt_buf buf;           /* entries written so far, then the trailer after finish */
    uint32_t *restarts;   /* offsets of restart entries */
    size_t nrestarts, rcap;
    int interval;         /* entries per restart run, >= 1 */
    int counter;          /* entries since the last restart point */
    int finished;
    lt_buf last_key;      /* whole key of the last entry */
};

lt_block_builder *lt_block_builder_new(int restart_interval) {
    lt_block_builder *b = calloc(1, sizeof *b);
    if (!b) {
        lt_seterr(LT_ENOMEM, "block builder: out of memory");
        return NULL;
    }
    b->interval = restart_interval > 0 ? restart_interval : 16;
    return b;
}

void lt_block_builder_reset(lt_block_builder *b) {
    lt_buf_clear(&b->buf);
    lt_buf_clear(&b->last_key);
    b->nrestarts = 0;
    b->counter = 0;
    b->finished = 0;
}

void lt_block_builder_free(lt_block_builder *b) {
    if (!b) return;
    lt_buf_free(&b->buf);
    lt_buf_free(&b->last_key);
    free(b->restarts);
    free(b);
}

size_t lt_block_builder_size_estimate(const lt_block_builder *b) {
    if (b->finished) return b->buf.size;
    return b->buf.size + 4 * b->nrestarts + 4;
}

int lt_block_builder_empty(const lt_block_builder *b) {
    return b->buf.size == 0;
}

lt_slice lt_block_builder_last_key(const lt_block_builder *b) {
    return lt_slice_make(b->last_key.data, b->last_key.size);
}

static int push_restart(lt_block_builder *b, uint32_t off) {
    if (b->nrestarts == b->rcap) {
        size_t ncap = b->rcap ? 2 * b->rcap : 16;
        uint32_t *r = realloc(b->restarts, ncap * sizeof *r);
        if (!r) return lt_seterr(LT_ENOMEM, "block builder: out of memory");
        b->restarts = r;
        b->rcap = ncap;
    }
    b->restarts[b->nrestarts++] = off;
    return LT_OK;
}

int lt_block_builder_add(lt_block_builder *b, lt_slice key, lt_slice value) {
    size_t shared = 0;
    int rc;
    /* The whole block, with its trailer, must stay addressable with u32 offsets. */
    uint64_t after = (uint64_t)lt_block_builder_size_estimate(b) + 4 + 3 * LT_MAX_VARINT32 +
                     key.size + value.size;
    if (after > UINT32_MAX) {
        return lt_seterr(LT_EINVAL,
                         "block builder: block would exceed 4 GiB (key %zu, value %zu bytes)",
                         key.size, value.size);
    }
    if (b->counter >= b->interval || b->buf.size == 0) {
        rc = push_restart(b, (uint32_t)b->buf.size);
        if (rc) return rc;
        b->counter = 0;
    } else {
        size_t n = key.size < b->last_key.size ? key.size : b->last_key.size;
        while (shared < n && key.data[shared] == b->last_key.data[shared]) shared++;
    }
    size_t unshared = key.size - shared;
    rc = lt_buf_reserve(&b->buf, 3 * LT_MAX_VARINT32 + unshared + value.size);
    if (rc) goto nomem;
    char *p = b->buf.data + b->buf.size;
    p = lt_put_varint32(p, (uint32_t)shared);
    p = lt_put_varint32(p, (uint32_t)unshared);
    p = lt_put_varint32(p, (uint32_t)value.size);
    if (unshared) memcpy(p, key.data + shared, unshared);
    p += unshared;
    if (value.size) memcpy(p, value.data, value.size);
    p += value.size;
    b->buf.size = (size_t)(p - b->buf.data);
    /* Keep the whole last key: reuse its shared prefix, replace the tail. */
    b->last_key.size = shared;
    rc = lt_buf_append(&b->last_key, key.data + shared, unshared);
    if (rc) goto nomem;
    b->counter++;
    return LT_OK;
nomem:
    return lt_seterr(LT_ENOMEM, "block builder: out of memory");
}

lt_slice lt_block_builder_finish(lt_block_builder *b) {
    if (!b->finished) {
        /* Reserve first so the appends below cannot fail half way. */
        if (lt_buf_reserve(&b->buf, 4 * b->nrestarts + 4) != LT_OK) {
            lt_seterr(LT_ENOMEM, "block builder: out of memory");
            return lt_slice_make(NULL, 0);
        }
        for (size_t i = 0; i < b->nrestarts; i++) lt_buf_append_fixed32(&b->buf, b->restarts[i]);
        lt_buf_append_fixed32(&b->buf, (uint32_t)b->nrestarts);
        b->finished = 1;
    }
    return lt_slice_make(b->buf.data, b->buf.size);
}
