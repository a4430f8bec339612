/* format.c: encoding and decoding of block handles, the (offset, size) pairs that
 * point from the footer and the index block to the blocks of a table file.
 *
 *   block handle = varint64 offset | varint64 size   (at most LT_MAX_BLOCK_HANDLE bytes)
 *
 * `size` counts the block contents only; the 5-byte trailer (type, masked CRC) that
 * follows every block is implied. Everything else about the layout is in format.h
 * and table.h. */
#include "format.h"

#include "../util/coding.h"

int lt_block_handle_encode(const lt_block_handle *h, char *dst) {
    char *p = lt_put_varint64(dst, h->offset);
    p = lt_put_varint64(p, h->size);
    return (int)(p - dst);
}

int lt_block_handle_decode(lt_slice *in, lt_block_handle *h) {
    lt_slice s = *in;
    uint64_t off, size;
    if (!lt_slice_get_varint64(&s, &off) || !lt_slice_get_varint64(&s, &size)) return 0;
    h->offset = off;
    h->size = size;
    *in = s;
    return 1;
}
